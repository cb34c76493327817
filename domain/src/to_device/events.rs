//! What an outbox records: each batch sent, whole.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::batch::{BatchId, ToDeviceMessage};
use crate::ids::{DeviceId, UserId};

/// Events of the [`crate::to_device::Outbox`] aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToDeviceEvent {
    /// A batch was sent; each message goes to its one device, in this order.
    ToDeviceSent {
        from_user: UserId,
        from_device: DeviceId,
        batch_id: BatchId,
        messages: Vec<ToDeviceMessage>,
        at: DateTime<Utc>,
    },
}

impl ToDeviceEvent {
    /// What the event store keeps unique within the outbox: one batch per
    /// sending device and batch id, so a retry stores (and delivers) nothing.
    #[must_use]
    pub fn idempotency_key(&self) -> String {
        let Self::ToDeviceSent { from_device, batch_id, .. } = self;
        format!("to-device:{from_device}:{batch_id}")
    }

    /// The messages to deliver: those to users who have not blocked the
    /// sender (the others are dropped without a word to the sender).
    pub fn deliverable(
        &self,
        has_blocked_sender: impl Fn(UserId) -> bool,
    ) -> impl Iterator<Item = &ToDeviceMessage> {
        let Self::ToDeviceSent { messages, .. } = self;
        messages.iter().filter(move |message| !has_blocked_sender(message.user_id))
    }
}

impl DomainEvent for ToDeviceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ToDeviceSent { .. } => "ToDeviceSent".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        crate::EVENT_VERSION.to_owned()
    }
}
