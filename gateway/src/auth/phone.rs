//! Phone login codes: six digits from the OS CSPRNG, stored as a keyed hash,
//! good for a few minutes and a few attempts. Each attempt is reserved by one
//! conditional UPDATE before the code is compared, so concurrent guesses can
//! never get more tries than allowed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ciphertalk_domain::values::PhoneNumber;
use sqlx::PgPool;
use uuid::Uuid;

use super::{random_bytes, sha256};

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("wrong code")]
    Wrong { attempts_remaining: i32 },
    /// Expired, used, or out of attempts.
    #[error("this login session is over")]
    Gone,
    #[error("no such login session")]
    Unknown,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Random(#[from] std::io::Error),
}

/// A started phone login (the code itself goes only to the SMS sender).
#[derive(Debug)]
pub struct Started {
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub attempts_remaining: u32,
    pub code: String,
}

#[derive(Debug, Clone)]
pub struct PhoneLogins {
    pool: PgPool,
    ttl: Duration,
    attempts: u32,
    /// Server secret mixed into code hashes: a leaked table alone does not
    /// let anyone try the million codes offline.
    pepper: Vec<u8>,
}

/// A uniformly random six-digit code (rejection sampling: no modulo bias).
pub fn random_code() -> std::io::Result<String> {
    const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
    loop {
        let value = u32::from_le_bytes(random_bytes::<4>()?);
        if value < LIMIT {
            return Ok(format!("{:06}", value % 1_000_000));
        }
    }
}

/// Exactly six ASCII digits.
pub fn is_code_shaped(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

impl PhoneLogins {
    pub fn new(pool: PgPool, ttl: Duration, attempts: u32, pepper: Vec<u8>) -> Self {
        Self { pool, ttl, attempts, pepper }
    }

    fn hash(&self, session_id: Uuid, code: &str) -> Vec<u8> {
        sha256(&[b"phone-code:", &self.pepper, b":", session_id.as_bytes(), b":", code.as_bytes()])
    }

    pub async fn start(&self, phone: &PhoneNumber) -> Result<Started, PhoneError> {
        let session_id = Uuid::new_v4();
        let code = random_code()?;
        let expires_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO phone_logins (session_id, phone, code_hash, attempts_remaining, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at",
        )
        .bind(session_id)
        .bind(phone.as_str())
        .bind(self.hash(session_id, &code))
        .bind(i32::try_from(self.attempts).unwrap_or(i32::MAX))
        .bind(self.ttl.as_secs_f64())
        .fetch_one(&self.pool)
        .await?;
        Ok(Started { session_id, expires_at, attempts_remaining: self.attempts, code })
    }

    /// The phone number the session proves, once; a wrong code costs an attempt.
    pub async fn verify(&self, session_id: Uuid, code: &str) -> Result<PhoneNumber, PhoneError> {
        let reserved: Option<(String, Vec<u8>, i32)> = sqlx::query_as(
            "UPDATE phone_logins SET attempts_remaining = attempts_remaining - 1
             WHERE session_id = $1 AND attempts_remaining > 0 AND expires_at > now() AND consumed_at IS NULL
             RETURNING phone, code_hash, attempts_remaining",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((phone, stored, attempts_remaining)) = reserved else {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM phone_logins WHERE session_id = $1)")
                    .bind(session_id)
                    .fetch_one(&self.pool)
                    .await?;
            return Err(if exists { PhoneError::Gone } else { PhoneError::Unknown });
        };
        if !constant_time_eq(&stored, &self.hash(session_id, code)) {
            return Err(PhoneError::Wrong { attempts_remaining });
        }
        let consumed = sqlx::query(
            "UPDATE phone_logins SET consumed_at = now() WHERE session_id = $1 AND consumed_at IS NULL",
        )
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        if consumed.rows_affected() == 0 {
            return Err(PhoneError::Gone);
        }
        PhoneNumber::parse(&phone).map_err(|_| PhoneError::Gone)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200).map(|_| random_code().unwrap()).collect();
        assert!(codes.iter().all(|code| is_code_shaped(code)));
        assert!(codes.len() > 190, "codes repeat too often");
        assert!(!is_code_shaped("12345") && !is_code_shaped("12345a") && !is_code_shaped("１２３４５６"));
    }
}
