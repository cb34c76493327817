//! `[projections]`: the projectors of this process and how long reads wait for them.

use std::time::Duration;

use ciphertalk_projections::ProjectorOptions;
use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectionsConfig {
    /// Run the projectors in this process (several processes may; one applies at a time).
    pub run: bool,
    pub batch_size: usize,
    /// How long a projector batch waits for more events after its first.
    pub linger_ms: u64,
    /// The same for the notifications projection, off the delivery path.
    pub notifications_linger_ms: u64,
    /// How long a read waits for the read models to hold what it must reflect.
    pub read_your_writes_ms: u64,
    /// Sends wait (bounded by `read_your_writes_ms`) while a projection trails
    /// the stream by more events than this; 0 = never.
    pub max_backlog_events: u64,
    /// Rooms (and senders' blockers) the delivery projection keeps in memory.
    pub delivery_memory: usize,
}

impl Default for ProjectionsConfig {
    fn default() -> Self {
        Self {
            run: true,
            batch_size: 500,
            linger_ms: 2,
            notifications_linger_ms: 20,
            read_your_writes_ms: 2000,
            max_backlog_events: 2000,
            delivery_memory: ciphertalk_projections::delivery::DEFAULT_REMEMBERED,
        }
    }
}

impl ProjectionsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.batch_size > 0, "projections.batch_size", "must be positive")
    }

    pub fn projector(&self) -> ProjectorOptions {
        ProjectorOptions {
            batch_size: self.batch_size,
            linger: Duration::from_millis(self.linger_ms),
            notifications_linger: Duration::from_millis(self.notifications_linger_ms),
            delivery_memory: self.delivery_memory,
            ..ProjectorOptions::default()
        }
    }

    pub fn read_your_writes(&self) -> Duration {
        Duration::from_millis(self.read_your_writes_ms)
    }
}
