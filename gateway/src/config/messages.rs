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
    /// Franking keys used before the current one, comma-separated: tags made
    /// under them keep verifying in reports (key rotation).
    pub previous_franking_keys: Option<Secret>,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self { max_ciphertext_bytes: 64 * 1024, franking_key: None, previous_franking_keys: None }
    }
}

impl MessagesConfig {
    /// The previous franking keys, oldest or newest first as configured.
    pub fn previous_franking_keys(&self) -> Vec<&[u8]> {
        self.previous_franking_keys.as_ref().map_or_else(Vec::new, |keys| {
            keys.expose().split(',').map(str::trim).filter(|key| !key.is_empty()).map(str::as_bytes).collect()
        })
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(
            self.franking_key.as_ref().is_none_or(|key| key.expose().len() >= 32),
            "messages.franking_key",
            "must be at least 32 bytes",
        )?;
        ensure(
            self.previous_franking_keys().iter().all(|key| key.len() >= 32),
            "messages.previous_franking_keys",
            "each must be at least 32 bytes",
        )?;
        ensure(self.max_ciphertext_bytes > 0, "messages.max_ciphertext_bytes", "must be positive")
    }
}
