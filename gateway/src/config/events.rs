//! `[events]`: what every committed event must fit in, and when a component
//! that keeps failing on one event is reported stalled.

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Most bytes one event may take on the wire; at most the NATS server's
    /// `max_payload` (checked at start-up). Larger commands are refused (413).
    pub max_event_bytes: usize,
    /// Failed rounds at the same position after which the relay or a
    /// projector is reported on `/health` and `ciphertalk_component_stalled`.
    pub stall_rounds: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { max_event_bytes: ciphertalk_commands::store::DEFAULT_MAX_EVENT_BYTES, stall_rounds: 10 }
    }
}

impl EventsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(
            self.max_event_bytes >= 4096 && self.stall_rounds > 0,
            "events",
            "max_event_bytes must be at least 4096, stall_rounds positive",
        )
    }
}
