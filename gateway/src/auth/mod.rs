//! Accounts and authentication: access tokens, and (in the submodules) the
//! credentials, refresh tokens, phone codes, tickets and rate limits behind
//! the `/v1/auth` routes. The HTTP side lives in `crate::http`.

pub mod accounts;
pub mod passwords;
pub mod phone;
pub mod rate_limit;
pub mod refresh;
pub mod sms;
pub mod standing;
pub mod tickets;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use passwords::Passwords;
pub use phone::PhoneLogins;
pub use rate_limit::RateLimiter;
pub use refresh::RefreshTokens;
pub use sms::SmsSender;
use sqlx::PgPool;
pub use tickets::consume_ticket;
pub use tokens::{TokenError, TokenService, Verified};

use crate::config::Config;

/// The authentication services, built once at start-up.
#[derive(Debug)]
pub struct Auth {
    pub tokens: TokenService,
    pub passwords: Passwords,
    pub refresh: RefreshTokens,
    pub phone: PhoneLogins,
    pub sms: Box<dyn SmsSender>,
    pub limits: RateLimiter,
    /// Normalized emails named by `CIPHERTALK_ADMINS`.
    pub admins: Vec<String>,
    pub ticket_ttl: Duration,
    /// How long a request trusts the cached user's standing (`auth.standing_cache_ms`).
    pub standing_max_age: Duration,
}

impl Auth {
    pub fn new(config: &Config, pool: PgPool) -> std::io::Result<Arc<Self>> {
        let settings = &config.auth;
        let key = tokens::signing_key(settings.jwt_secret.as_ref(), &config.data_dir)?;
        let sms = sms::from_config(config).map_err(std::io::Error::other)?;
        let auth = Arc::new(Self {
            tokens: TokenService::new(&key, Duration::from_secs(settings.access_token_ttl_secs)),
            passwords: Passwords::new(settings.max_concurrent_hashes),
            refresh: RefreshTokens::new(pool.clone(), Duration::from_secs(settings.refresh_token_ttl_secs)),
            phone: PhoneLogins::new(
                pool.clone(),
                Duration::from_secs(settings.phone_code_ttl_secs),
                settings.phone_code_attempts,
                sha256(&[b"phone-pepper:", &key]),
            ),
            sms,
            limits: RateLimiter::new(pool, config.rate_limits.clone()),
            admins: settings.admin_emails(),
            ticket_ttl: Duration::from_secs(settings.ws_ticket_ttl_secs),
            standing_max_age: Duration::from_millis(settings.standing_cache_ms),
        });
        let warm = auth.clone();
        tokio::spawn(async move { warm.passwords.warm_up().await });
        Ok(auth)
    }
}

/// Deletes what has expired: refresh tokens, revoked families, phone logins,
/// tickets and old rate-limit windows. Runs every minute until `stop`.
pub async fn sweep(pool: PgPool, stop: tokio_util::sync::CancellationToken) {
    const STATEMENTS: &[&str] = &[
        "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM refresh_families f WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.family_id)
           AND f.created_at < now() - interval '1 day'",
        "DELETE FROM phone_logins WHERE expires_at < now() - interval '1 hour'",
        "DELETE FROM ws_tickets WHERE expires_at < now()",
        "DELETE FROM rate_limit_windows WHERE window_start < now() - interval '1 day'",
    ];
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        for statement in STATEMENTS {
            if let Err(err) = sqlx::query(statement).execute(&pool).await {
                tracing::warn!(error = %err, "auth sweep failed");
            }
        }
    }
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| std::io::Error::other(format!("no randomness: {err}")))?;
    Ok(bytes)
}

/// SHA-256: what we store instead of refresh tokens, tickets and codes.
pub fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().to_vec()
}
