//! `[http]`: request bodies, timeouts and request ids.

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    /// A longer client `X-Request-Id` (or one that is not visible ASCII) is replaced.
    pub max_request_id_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { max_body_bytes: 1 << 20, request_timeout_secs: 30, max_request_id_bytes: 64 }
    }
}

impl HttpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.max_request_id_bytes > 0, "http.max_request_id_bytes", "must be positive")
    }
}
