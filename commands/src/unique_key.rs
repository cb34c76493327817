//! Keys the event store keeps unique per aggregate (`events.unique_key`,
//! migration 0009): an event that repeats one is refused by the insert itself
//! ([`crate::StoreError::Duplicate`]), so no command pays a query to look for it.
//! The key is written beside the payload, not read out of it: an expression
//! index over the JSON would parse every payload again at every insert.

use ciphertalk_domain::file::FileEvent;
use ciphertalk_domain::report::ReportEvent;
use ciphertalk_domain::room::RoomEvent;
use ciphertalk_domain::to_device::ToDeviceEvent;
use ciphertalk_domain::user::UserEvent;

/// What must not be stored twice in one aggregate.
pub trait UniqueKey {
    fn unique_key(&self) -> Option<String>;
}

/// A send: one per sender and `client_msg_id` in a room, however long after
/// the room's in-memory idempotency window forgot it.
pub fn client_message_key(sender: impl std::fmt::Display, client_msg_id: &str) -> String {
    format!("send:{sender}:{client_msg_id}")
}

impl UniqueKey for RoomEvent {
    fn unique_key(&self) -> Option<String> {
        match self {
            Self::MessageSent { sender_id, client_msg_id, .. } => {
                Some(client_message_key(sender_id, client_msg_id.as_str()))
            }
            _ => None,
        }
    }
}

impl UniqueKey for UserEvent {
    fn unique_key(&self) -> Option<String> {
        None
    }
}

impl UniqueKey for FileEvent {
    fn unique_key(&self) -> Option<String> {
        None
    }
}

impl UniqueKey for ReportEvent {
    fn unique_key(&self) -> Option<String> {
        None
    }
}

/// A to-device batch: one per sending device and `batch_id`, so a retry is
/// refused by the insert and delivers nothing twice.
impl UniqueKey for ToDeviceEvent {
    fn unique_key(&self) -> Option<String> {
        Some(self.idempotency_key())
    }
}
