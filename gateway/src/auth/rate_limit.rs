//! Rate limits on the authentication routes, per client IP and per account,
//! counted in fixed windows in Postgres so that every gateway process shares
//! them. One atomic upsert per check: no read-modify-write races.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::sha256;
use crate::config::{RateLimitsConfig, Toggle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Register,
    Login,
    Refresh,
    PhoneStart,
    PhoneVerify,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::PhoneStart => "phone_start",
            Self::PhoneVerify => "phone_verify",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate limited")]
    Limited { retry_after_secs: u64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone)]
pub struct RateLimiter {
    pool: PgPool,
    config: RateLimitsConfig,
}

impl RateLimiter {
    pub fn new(pool: PgPool, config: RateLimitsConfig) -> Self {
        Self { pool, config }
    }

    fn limits(&self, action: Action) -> (u32, u32) {
        let c = &self.config;
        match action {
            Action::Register => (c.register_per_ip, c.register_per_account),
            Action::Login => (c.login_per_ip, c.login_per_account),
            Action::Refresh => (c.refresh_per_ip, c.refresh_per_account),
            Action::PhoneStart => (c.phone_start_per_ip, c.phone_start_per_account),
            Action::PhoneVerify => (c.phone_verify_per_ip, c.phone_verify_per_account),
        }
    }

    /// Counts one request from `ip` for `account` and refuses it when either
    /// is over its limit in the current window.
    pub async fn check(
        &self,
        action: Action,
        ip: Option<IpAddr>,
        account: Option<&str>,
    ) -> Result<(), LimitError> {
        if self.config.mode == Toggle::Off {
            return Ok(());
        }
        let (per_ip, per_account) = self.limits(action);
        if let Some(ip) = ip {
            self.hit(action, "ip", &ip.to_string(), per_ip).await?;
        }
        if let Some(account) = account {
            self.hit(action, "account", account, per_account).await?;
        }
        Ok(())
    }

    async fn hit(&self, action: Action, scope: &str, who: &str, limit: u32) -> Result<(), LimitError> {
        let window = self.config.window_secs.max(1);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let start_secs = now - now % window;
        let start = DateTime::<Utc>::from_timestamp(i64::try_from(start_secs).unwrap_or_default(), 0)
            .unwrap_or_default();
        // The key names an email or phone number: store only its hash.
        let key = sha256(&[action.name().as_bytes(), b":", scope.as_bytes(), b":", who.as_bytes()]);
        let hits: i32 = sqlx::query_scalar(
            "INSERT INTO rate_limit_windows AS w (key, window_start, hits) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               hits = CASE WHEN w.window_start = EXCLUDED.window_start THEN w.hits + 1 ELSE 1 END,
               window_start = EXCLUDED.window_start
             RETURNING hits",
        )
        .bind(key)
        .bind(start)
        .fetch_one(&self.pool)
        .await?;
        if u32::try_from(hits).unwrap_or(u32::MAX) > limit {
            metrics::counter!("ciphertalk_auth_rate_limit_refusals_total", "action" => action.name(), "scope" => scope.to_owned())
                .increment(1);
            return Err(LimitError::Limited { retry_after_secs: (start_secs + window - now).max(1) });
        }
        Ok(())
    }
}
