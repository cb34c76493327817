//! A user's stored bytes: the declared sizes of their files not deleted,
//! expired or taken down, read from the event store (the truth, never behind
//! the registration being decided). Registrations of one user are decided
//! one at a time across every process: each holds a Postgres advisory lock
//! on the uploader from this read until its command committed, so two
//! uploads cannot both fit under the limit only one of them fits under.

use ciphertalk_domain::UserId;
use sqlx::{PgPool, Postgres, Transaction};

/// Held while a registration is decided; dropping it (or [`Self::release`]) frees the uploader.
pub struct UploaderLock {
    tx: Transaction<'static, Postgres>,
}

impl UploaderLock {
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Locks `user`'s registrations and reads their stored bytes.
pub async fn lock_uploader(pool: &PgPool, user: UserId) -> Result<(UploaderLock, u64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('ciphertalk.files.uploader:' || $1, 0))")
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
    let stored: i64 = sqlx::query_scalar(
        // `events_file_uploader` finds the registrations; the primary key the ends.
        "SELECT COALESCE(SUM((r.payload -> 'FileRegistered' ->> 'size')::bigint), 0)::bigint
           FROM events r
          WHERE r.aggregate_type = 'file' AND r.event_type = 'FileRegistered'
            AND (r.payload -> 'FileRegistered' ->> 'uploader') = $1
            AND NOT EXISTS (
                SELECT 1 FROM events e
                 WHERE e.aggregate_type = 'file' AND e.aggregate_id = r.aggregate_id
                   AND e.event_type IN ('FileDeleted', 'FileExpired', 'FileTakenDown'))",
    )
    .bind(user.to_string())
    .fetch_one(&mut *tx)
    .await?;
    Ok((UploaderLock { tx }, u64::try_from(stored).unwrap_or(0)))
}
