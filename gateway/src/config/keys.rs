//! `[keys]`: the devices a user may hold keys on, the one-time prekeys
//! each may keep uploaded, and how large a to-device batch may be.

use ciphertalk_domain::to_device::ToDeviceLimits;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub one_time_pool_limit: usize,
    /// Devices per user; a login that would add one more is refused (409 `device_limit_reached`).
    pub devices_per_user: usize,
    /// Messages per to-device batch; more is 413 `too_large`.
    pub to_device_max_messages: usize,
    /// Decoded ciphertext bytes per to-device batch, all messages together; more is 413.
    pub to_device_max_bytes: usize,
}

impl KeysConfig {
    pub fn to_device_limits(&self) -> ToDeviceLimits {
        ToDeviceLimits { max_messages: self.to_device_max_messages, max_bytes: self.to_device_max_bytes }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            one_time_pool_limit: ciphertalk_domain::user::DEFAULT_PREKEY_POOL_LIMIT,
            devices_per_user: ciphertalk_domain::user::DEFAULT_DEVICE_LIMIT,
            to_device_max_messages: ToDeviceLimits::default().max_messages,
            to_device_max_bytes: ToDeviceLimits::default().max_bytes,
        }
    }
}
