//! Refresh tokens: 256 random bits, stored only as SHA-256 hashes, grouped in
//! families (one per login). Every use spends the token and issues the next
//! one of its family; a spent token presented again means it was copied, so
//! the whole family is revoked (its current holder, thief or owner, must log
//! in again). A family belongs to one device (stored as `db::device_column`: a
//! family started before devices is the user's first device's).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ciphertalk_domain::{DeviceId, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use super::{random_bytes, sha256};
use crate::db::{device_column, device_of_column};

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, spent or revoked: the client must log in again.
    #[error("the refresh token is not valid")]
    Invalid,
    /// A spent token presented again: its family (session) is revoked now.
    #[error("the refresh token was used twice; its session is revoked")]
    Reused { user_id: UserId, family_id: Uuid },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Random(#[from] std::io::Error),
}

/// A freshly issued refresh token (the only time it exists in clear).
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub family_id: Uuid,
    pub user_id: UserId,
    pub device_id: DeviceId,
}

#[derive(Debug, Clone)]
pub struct RefreshTokens {
    pool: PgPool,
    ttl: Duration,
}

fn hash(token: &str) -> Vec<u8> {
    sha256(&[b"refresh:", token.as_bytes()])
}

impl RefreshTokens {
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self { pool, ttl }
    }

    /// Starts a new family (a login) with its first token.
    pub async fn start(&self, user_id: UserId, device_id: DeviceId) -> Result<Issued, RefreshError> {
        let family_id = Uuid::new_v4();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO refresh_families (family_id, user_id, device_id) VALUES ($1, $2, $3)")
            .bind(family_id)
            .bind(user_id.as_uuid())
            .bind(device_column(user_id, device_id))
            .execute(&mut *tx)
            .await?;
        let token = self.insert(&mut tx, family_id, user_id).await?;
        tx.commit().await?;
        Ok(Issued { token, family_id, user_id, device_id })
    }

    async fn insert(
        &self,
        tx: &mut sqlx::PgConnection,
        family_id: Uuid,
        user_id: UserId,
    ) -> Result<String, RefreshError> {
        let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        let ttl_secs = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        )
        .bind(hash(&token))
        .bind(family_id)
        .bind(user_id.as_uuid())
        .bind(ttl_secs as f64)
        .execute(tx)
        .await?;
        Ok(token)
    }

    /// The family a token belongs to, if it is known at all (for per-session rate limits).
    pub async fn family_of(&self, token: &str) -> Result<Option<Uuid>, RefreshError> {
        Ok(sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash(token))
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Spends `token` and issues its successor. The spend is one conditional
    /// UPDATE, so of two concurrent uses exactly one wins; the other is a reuse.
    pub async fn rotate(&self, token: &str) -> Result<Issued, RefreshError> {
        let token_hash = hash(token);
        let mut tx = self.pool.begin().await?;
        let spent: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
            "UPDATE refresh_tokens t SET spent_at = now()
             FROM refresh_families f
             WHERE t.token_hash = $1 AND t.spent_at IS NULL AND t.expires_at > now()
               AND f.family_id = t.family_id AND f.revoked_at IS NULL
             RETURNING t.family_id, t.user_id, f.device_id",
        )
        .bind(&token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((family_id, user_id, device_id)) = spent else {
            drop(tx);
            // Presented again after being spent: revoke the family (theft detection).
            let revoked: Option<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE refresh_families SET revoked_at = COALESCE(revoked_at, now())
                 WHERE family_id = (SELECT family_id FROM refresh_tokens
                                    WHERE token_hash = $1 AND spent_at IS NOT NULL)
                 RETURNING family_id, user_id",
            )
            .bind(&token_hash)
            .fetch_optional(&self.pool)
            .await?;
            let Some((family_id, user_id)) = revoked else { return Err(RefreshError::Invalid) };
            tracing::warn!("a spent refresh token was presented again; its family is revoked");
            metrics::counter!("ciphertalk_auth_refresh_reuse_total").increment(1);
            return Err(RefreshError::Reused { user_id: UserId::from_uuid(user_id), family_id });
        };
        let user_id = UserId::from_uuid(user_id);
        let device_id = device_of_column(user_id, device_id);
        let next = self.insert(&mut tx, family_id, user_id).await?;
        tx.commit().await?;
        Ok(Issued { token: next, family_id, user_id, device_id })
    }

    /// Ends every session of `device_id` (a family started before devices is
    /// the first device's); their family ids.
    pub async fn revoke_device(
        &self,
        user_id: UserId,
        device_id: DeviceId,
    ) -> Result<Vec<Uuid>, RefreshError> {
        Ok(sqlx::query_scalar(
            "UPDATE refresh_families SET revoked_at = now()
             WHERE user_id = $1 AND revoked_at IS NULL
               AND device_id = $2
             RETURNING family_id",
        )
        .bind(user_id.as_uuid())
        .bind(device_column(user_id, device_id))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends every session of `user_id` (a suspension); their family ids.
    pub async fn revoke_user(&self, user_id: UserId) -> Result<Vec<Uuid>, RefreshError> {
        Ok(sqlx::query_scalar(
            "UPDATE refresh_families SET revoked_at = now()
             WHERE user_id = $1 AND revoked_at IS NULL
             RETURNING family_id",
        )
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await?)
    }

    /// When each of `user_id`'s devices was last given a refresh token (a
    /// login or a refresh), as far as the kept tokens tell (expired ones are
    /// swept a day after they expire).
    pub async fn last_seen(&self, user_id: UserId) -> Result<Vec<(DeviceId, DateTime<Utc>)>, RefreshError> {
        let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT f.device_id, max(t.created_at) FROM refresh_families f
             JOIN refresh_tokens t ON t.family_id = f.family_id
             WHERE f.user_id = $1 GROUP BY f.device_id",
        )
        .bind(user_id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(device, at)| (device_of_column(user_id, device), at)).collect())
    }

    /// Whether the session (family) `family_id` has not been revoked.
    pub async fn is_live(&self, family_id: Uuid) -> Result<bool, RefreshError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM refresh_families WHERE family_id = $1 AND revoked_at IS NULL)",
        )
        .bind(family_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Ends the session `token` belongs to, if it is `user_id`'s; its family id.
    pub async fn revoke(&self, token: &str, user_id: UserId) -> Result<Option<Uuid>, RefreshError> {
        Ok(sqlx::query_scalar(
            "UPDATE refresh_families SET revoked_at = COALESCE(revoked_at, now())
             WHERE user_id = $2
               AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
             RETURNING family_id",
        )
        .bind(hash(token))
        .bind(user_id.as_uuid())
        .fetch_optional(&self.pool)
        .await?)
    }
}
