//! Password hashing: Argon2id with OWASP's parameters (19 MiB, 2 passes, one
//! lane), on the blocking pool and never more than a few at once, so a burst
//! of logins can neither stall the async runtime nor exhaust memory.

use std::sync::Arc;

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, PasswordVerifier as _, Version};
use tokio::sync::{OnceCell, Semaphore};

/// Shortest and longest accepted passwords (characters / bytes). The upper
/// bound keeps a hash from being made to chew on megabytes.
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

#[derive(Debug)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Hash of a random password, verified against when the account does not
    /// exist so that the answer takes as long as for a wrong password.
    dummy: OnceCell<String>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
    pub fn new(max_concurrent: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(max_concurrent)), dummy: OnceCell::new() }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a random salt.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            argon2().hash_password(password.as_bytes()).map(|hash| hash.to_string())
        })
        .await
        .map_err(|e| HashError(e.to_string()))?
        .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) it
    /// does the same work against a dummy and answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => self.dummy().await?,
        };
        let _permit = self.permits.acquire().await.map_err(|e| HashError(e.to_string()))?;
        let matches = tokio::task::spawn_blocking(move || {
            argon2().verify_password(password.as_bytes(), hash.as_str()).is_ok()
        })
        .await
        .map_err(|e| HashError(e.to_string()))?;
        Ok(known && matches)
    }

    /// Computes the dummy hash ahead of the first login of an unknown email,
    /// which would otherwise take twice as long as the others.
    pub async fn warm_up(&self) {
        if let Err(err) = self.dummy().await {
            tracing::warn!(error = %err, "cannot prepare the dummy password hash");
        }
    }

    async fn dummy(&self) -> Result<String, HashError> {
        self.dummy
            .get_or_try_init(|| async {
                let random = super::random_bytes::<16>().map_err(|e| HashError(e.to_string()))?;
                self.hash(format!("{random:?}")).await
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let passwords = Passwords::new(2);
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!passwords.verify("wrong horse!".into(), Some(hash)).await.unwrap());
        assert!(!passwords.verify("correct horse".into(), None).await.unwrap());
    }
}
