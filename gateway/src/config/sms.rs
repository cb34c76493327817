//! `[sms]`: where phone login codes go.

use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::{ConfigError, ensure};

/// Where phone login codes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsMode {
    /// Print the code to the server log (development only).
    Dev,
    /// POST `{phone, code, message}` as JSON to `sms.webhook_url`.
    Webhook,
    /// Phone login is disabled (503).
    Off,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// Unset = `dev` when both NATS and Postgres are embedded, else `off`.
    pub mode: Option<SmsMode>,
    /// May carry credentials in its query string, hence a secret.
    pub webhook_url: Option<Secret>,
    pub webhook_timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self { mode: None, webhook_url: None, webhook_timeout_secs: 10 }
    }
}

impl SmsConfig {
    /// The configured mode, else `dev` for a fully `embedded` setup and `off` otherwise.
    pub fn mode(&self, embedded: bool) -> SmsMode {
        self.mode.unwrap_or(if embedded { SmsMode::Dev } else { SmsMode::Off })
    }

    pub(super) fn validate(&self, embedded: bool) -> Result<(), ConfigError> {
        ensure(
            self.mode(embedded) != SmsMode::Webhook || self.webhook_url.is_some(),
            "sms.webhook_url",
            "is required when sms.mode is webhook",
        )
    }
}
