//! `[rate_limits]`: fixed-window limits on authentication, in requests per
//! `window_secs`, shared by all gateway processes through Postgres.

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    On,
    Off,
}

/// "Account" is the email, phone or token family.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    pub mode: Toggle,
    pub window_secs: u64,
    pub register_per_ip: u32,
    pub register_per_account: u32,
    pub login_per_ip: u32,
    pub login_per_account: u32,
    pub refresh_per_ip: u32,
    pub refresh_per_account: u32,
    pub phone_start_per_ip: u32,
    pub phone_start_per_account: u32,
    pub phone_verify_per_ip: u32,
    pub phone_verify_per_account: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            mode: Toggle::On,
            window_secs: 60,
            register_per_ip: 10,
            register_per_account: 5,
            login_per_ip: 30,
            login_per_account: 10,
            refresh_per_ip: 120,
            refresh_per_account: 30,
            phone_start_per_ip: 10,
            phone_start_per_account: 3,
            phone_verify_per_ip: 30,
            phone_verify_per_account: 10,
        }
    }
}

impl RateLimitsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.window_secs > 0, "rate_limits.window_secs", "must be positive")
    }
}
