//! `[keys]`: the one-time prekeys a user may keep uploaded.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub one_time_pool_limit: usize,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { one_time_pool_limit: ciphertalk_domain::user::DEFAULT_PREKEY_POOL_LIMIT }
    }
}
