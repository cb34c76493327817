//! `[keys]`: the devices a user may hold keys on, and the one-time prekeys
//! each may keep uploaded.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub one_time_pool_limit: usize,
    /// Devices per user; a login that would add one more is refused (409 `device_limit_reached`).
    pub devices_per_user: usize,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            one_time_pool_limit: ciphertalk_domain::user::DEFAULT_PREKEY_POOL_LIMIT,
            devices_per_user: ciphertalk_domain::user::DEFAULT_DEVICE_LIMIT,
        }
    }
}
