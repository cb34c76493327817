//! `[webrtc]`: call signalling limits and the TURN server whose credentials
//! the gateway hands out (coturn's REST scheme: a secret shared with it).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebrtcConfig {
    /// coturn's `static-auth-secret`; unset = no TURN server (the route answers 404).
    pub turn_secret: Option<Secret>,
    /// Comma-separated `turn:`/`turns:`/`stun:` URLs handed to clients.
    pub turn_urls: String,
    /// How long handed-out TURN credentials stay valid.
    pub turn_ttl_secs: u64,
    /// Largest signal or playback payload, in bytes of its JSON.
    pub max_payload_bytes: usize,
}

impl Default for WebrtcConfig {
    fn default() -> Self {
        Self { turn_secret: None, turn_urls: String::new(), turn_ttl_secs: 86_400, max_payload_bytes: 16_384 }
    }
}

impl WebrtcConfig {
    /// The URLs, trimmed, empty entries dropped.
    pub fn turn_urls(&self) -> Vec<String> {
        self.turn_urls.split(',').map(str::trim).filter(|url| !url.is_empty()).map(str::to_owned).collect()
    }

    pub fn turn_ttl(&self) -> Duration {
        Duration::from_secs(self.turn_ttl_secs)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let urls = self.turn_urls();
        ensure(
            urls.iter().all(|url| ["turn:", "turns:", "stun:", "stuns:"].iter().any(|s| url.starts_with(s))),
            "webrtc.turn_urls",
            "each URL must start with turn:, turns:, stun: or stuns:",
        )?;
        ensure(
            self.turn_secret.is_none() || !urls.is_empty(),
            "webrtc.turn_urls",
            "must name the TURN server when webrtc.turn_secret is set",
        )?;
        ensure(
            self.turn_secret.as_ref().is_none_or(|secret| secret.expose().len() >= 16),
            "webrtc.turn_secret",
            "must be at least 16 bytes",
        )?;
        ensure(self.turn_ttl_secs > 0, "webrtc.turn_ttl_secs", "must be positive")?;
        ensure(self.max_payload_bytes > 0, "webrtc.max_payload_bytes", "must be positive")
    }
}
