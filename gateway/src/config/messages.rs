//! `[messages]`: the size of a message and the key of its franking tags.

use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagesConfig {
    /// Largest message ciphertext, in decoded bytes.
    pub max_ciphertext_bytes: usize,
    /// HMAC key for franking reporting tags; unset = generated into `<data_dir>/franking-key`.
    pub franking_key: Option<Secret>,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self { max_ciphertext_bytes: 64 * 1024, franking_key: None }
    }
}

impl MessagesConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(
            self.franking_key.as_ref().is_none_or(|key| key.expose().len() >= 32),
            "messages.franking_key",
            "must be at least 32 bytes",
        )?;
        ensure(self.max_ciphertext_bytes > 0, "messages.max_ciphertext_bytes", "must be positive")
    }
}
