//! What can be asked of an outbox. The caller has authorised the batch
//! ([`super::ToDeviceBatch::authorise`]) and knows the sending device is current.

use chrono::{DateTime, Utc};

use super::batch::ToDeviceBatch;
use crate::ids::{DeviceId, UserId};

/// Commands of the [`crate::to_device::Outbox`] aggregate (one per sending user).
#[derive(Debug, Clone, PartialEq)]
pub enum ToDeviceCommand {
    /// Send `batch` from `from_user`'s device `from_device`.
    SendToDevice { from_user: UserId, from_device: DeviceId, batch: ToDeviceBatch, at: DateTime<Utc> },
}
