//! Accounts and authentication: access tokens, and (in the submodules) the
//! credentials, refresh tokens, phone codes, tickets and rate limits behind
//! the `/v1/auth` routes. The HTTP side lives in `crate::http`.

pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use tokens::{TokenError, TokenService, Verified};

use crate::config::Config;

/// The authentication services, built once at start-up.
#[derive(Debug)]
pub struct Auth {
    pub tokens: TokenService,
}

impl Auth {
    pub fn new(config: &Config) -> std::io::Result<Arc<Self>> {
        let key = tokens::signing_key(config.auth.jwt_secret.as_ref(), &config.data_dir)?;
        let tokens = TokenService::new(&key, Duration::from_secs(config.auth.access_token_ttl_secs));
        Ok(Arc::new(Self { tokens }))
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
