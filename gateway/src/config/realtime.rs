//! `[realtime]`: WebSocket connections' queue, timeouts and presence
//! (`realtime::RealtimeSettings` is built from it).

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Frames queued for one connection before it counts as slow.
    pub queue_frames: usize,
    /// How long a connection's queue may stay full before it is disconnected.
    pub slow_client_ms: u64,
    /// Close a connection from which nothing arrives for this long (the
    /// server pings at a third of it, so a live client never hits it).
    pub idle_timeout_secs: u64,
    /// An online marker outlives its connection's last heartbeat by this much.
    pub presence_ttl_secs: u64,
    /// Largest client frame accepted.
    pub max_frame_bytes: usize,
    /// Bytes of frames queued for one connection before it counts as slow.
    pub queue_bytes: usize,
    /// Open WebSockets of one user on one gateway.
    pub max_connections_per_user: usize,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            queue_frames: 1024,
            slow_client_ms: 5000,
            idle_timeout_secs: 60,
            presence_ttl_secs: 30,
            max_frame_bytes: 64 * 1024,
            queue_bytes: 4 << 20,
            max_connections_per_user: 32,
        }
    }
}

impl RealtimeConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(
            self.queue_frames > 0
                && self.idle_timeout_secs > 0
                && self.presence_ttl_secs >= 3
                && self.max_frame_bytes > 0
                && self.queue_bytes > 0
                && self.max_connections_per_user > 0,
            "realtime",
            "queue_frames, queue_bytes, max_connections_per_user, idle_timeout_secs and max_frame_bytes must be positive, presence_ttl_secs at least 3",
        )
    }
}
