//! To-device messages: ciphertext a device sends to other devices rather
//! than to a room (pairwise session set-up, sender-key distribution, device
//! verification). Each batch is one event in the sending user's `Outbox`,
//! unique per sending device and batch id, so a retried batch is stored once.

mod aggregate;
mod batch;
mod commands;
mod events;

pub use aggregate::Outbox;
pub use batch::{BatchId, ToDeviceBatch, ToDeviceKind, ToDeviceLimits, ToDeviceMessage};
pub use commands::ToDeviceCommand;
pub use events::ToDeviceEvent;
