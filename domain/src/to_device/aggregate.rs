//! The outbox aggregate: one per sending user, holding only whose it is.

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::ToDeviceCommand;
use super::events::ToDeviceEvent;
use crate::error::DomainError;
use crate::ids::UserId;

/// A user's outbox of to-device batches. It keeps no batches: a batch is
/// valid on its own (checked by [`super::ToDeviceBatch::parse`]), and a
/// repeated one is refused by the store's unique key
/// ([`ToDeviceEvent::idempotency_key`]), not by remembering them here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    owner: Option<UserId>,
}

impl Outbox {
    /// The user whose outbox this is; `None` before the first batch.
    #[must_use]
    pub fn owner(&self) -> Option<UserId> {
        self.owner
    }
}

impl Aggregate for Outbox {
    const TYPE: &'static str = "to_device";
    type Command = ToDeviceCommand;
    type Event = ToDeviceEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let ToDeviceCommand::SendToDevice { from_user, from_device, batch, at } = command;
        // A batch appended to another user's outbox would be sent in their name.
        if self.owner.is_some_and(|owner| owner != from_user) {
            return Err(DomainError::Forbidden("this outbox belongs to another user"));
        }
        let (batch_id, messages) = batch.into_parts();
        sink.write(ToDeviceEvent::ToDeviceSent { from_user, from_device, batch_id, messages, at }, self)
            .await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let ToDeviceEvent::ToDeviceSent { from_user, .. } = event;
        self.owner = Some(from_user);
    }
}
