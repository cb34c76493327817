//! A user's devices: what sessions, keys and delivery cursors belong to.
//! Bounded by a device limit the caller passes with each addition (as the
//! one-time pool is by `pool_limit`), so the user's state stays small.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::KeyDirectory;
use super::push::PushTarget;
use crate::error::ValidationError;
use crate::ids::DeviceId;
use crate::values::{check, string_value};

/// The devices per user the gateway allows unless configured otherwise.
pub const DEFAULT_DEVICE_LIMIT: usize = 10;

string_value!(
    /// What a user calls a device ("Alice's phone"): trimmed, 1 to 64
    /// characters, no control characters.
    #[derive(Debug)]
    DeviceName,
    validate_device_name
);

fn validate_device_name(raw: &str) -> Result<String, ValidationError> {
    let value = raw.trim();
    check::char_len("name", value, 1, 64)?;
    check::no_control("name", value, false)?;
    Ok(value.to_owned())
}

/// One device and its keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub device_id: DeviceId,
    pub name: Option<DeviceName>,
    pub created_at: DateTime<Utc>,
    pub keys: KeyDirectory,
    /// Where the device is woken while offline; absent from snapshots taken
    /// before push existed (and from those of devices without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushTarget>,
}

impl Device {
    /// A device with no keys yet.
    #[must_use]
    pub fn new(device_id: DeviceId, name: Option<DeviceName>, created_at: DateTime<Utc>) -> Self {
        Self { device_id, name, created_at, keys: KeyDirectory::default(), push: None }
    }
}

/// A user's devices in the order they were added (a handful: a list beats a map).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Devices(Vec<Device>);

impl Devices {
    /// The device `device_id`, if the user has it.
    #[must_use]
    pub fn get(&self, device_id: DeviceId) -> Option<&Device> {
        self.0.iter().find(|device| device.device_id == device_id)
    }

    pub(super) fn get_mut(&mut self, device_id: DeviceId) -> Option<&mut Device> {
        self.0.iter_mut().find(|device| device.device_id == device_id)
    }

    /// Whether the user has `device_id`.
    #[must_use]
    pub fn contains(&self, device_id: DeviceId) -> bool {
        self.get(device_id).is_some()
    }

    /// Every device, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Device> {
        self.0.iter()
    }

    /// How many devices the user has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the user has no device (every one was removed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `device` unless one with its id is there already (replay is idempotent).
    pub(super) fn add(&mut self, device: Device) {
        if !self.contains(device.device_id) {
            self.0.push(device);
        }
    }

    /// Removes `device_id` and its keys with it.
    pub(super) fn remove(&mut self, device_id: DeviceId) {
        self.0.retain(|device| device.device_id != device_id);
    }
}
