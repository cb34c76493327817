//! `[rooms]`: the size of a room.

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomsConfig {
    /// Most members a room may have, the creator included.
    pub max_members: usize,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self { max_members: ciphertalk_domain::room::DEFAULT_MAX_MEMBERS }
    }
}

impl RoomsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.max_members >= 2, "rooms.max_members", "must be at least 2")
    }
}
