//! `[write]`: the write path's snapshots, retries, cache and group commits.

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteConfig {
    pub snapshot_every: usize,
    pub command_attempts: u32,
    pub aggregate_cache: usize,
    pub max_batch: usize,
}

impl Default for WriteConfig {
    fn default() -> Self {
        Self { snapshot_every: 1000, command_attempts: 10, aggregate_cache: 10_000, max_batch: 64 }
    }
}

impl WriteConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(
            self.snapshot_every > 0 && self.command_attempts > 0 && self.max_batch > 0,
            "write",
            "snapshot_every and command_attempts must be positive",
        )
    }
}
