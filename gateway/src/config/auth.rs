//! `[auth]`: token keys and lifetimes, admins, phone codes, password hashing.

use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 key for access tokens; unset = generated once into `<data_dir>/jwt-secret`.
    pub jwt_secret: Option<Secret>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Comma-separated emails that are instance admins.
    pub admins: String,
    pub phone_code_ttl_secs: u64,
    pub phone_code_attempts: u32,
    pub ws_ticket_ttl_secs: u64,
    /// Password hashes computed at once (each takes ~19 MiB and a core for tens of ms).
    pub max_concurrent_hashes: usize,
    /// How long a request may trust the cached user (the session's device kept,
    /// not suspended, the role) without a query: commits made through this
    /// process are seen at once, those of other processes as soon as their
    /// event reaches this one over NATS (`auth::standing`), and within this
    /// when it does not (0 = query on every request).
    pub standing_cache_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            admins: String::new(),
            phone_code_ttl_secs: 5 * 60,
            phone_code_attempts: 3,
            ws_ticket_ttl_secs: 30,
            max_concurrent_hashes: 4,
            standing_cache_ms: 10_000,
        }
    }
}

impl AuthConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(
            self.jwt_secret.as_ref().is_none_or(|key| key.expose().len() >= 32),
            "auth.jwt_secret",
            "must be at least 32 bytes",
        )?;
        ensure(
            self.access_token_ttl_secs > 0
                && self.refresh_token_ttl_secs > 0
                && self.phone_code_ttl_secs > 0
                && self.phone_code_attempts > 0
                && self.ws_ticket_ttl_secs > 0
                && self.max_concurrent_hashes > 0,
            "auth",
            "lifetimes, attempts and max_concurrent_hashes must be positive",
        )
    }

    /// The admin emails, normalized like `Email::parse` does.
    pub fn admin_emails(&self) -> Vec<String> {
        self.admins.split(',').map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()).collect()
    }
}
