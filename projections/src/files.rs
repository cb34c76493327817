//! Projection `files`: every file's layout, status and expiry, and the chunks
//! stored so far. The wrapped keys stay in the aggregate (each caller reads
//! only their own); this is what lists and the expiry sweeper read.

use chrono::{DateTime, Utc};
use ciphertalk_domain::file::{FileEvent, FileStatus};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::event::to_i64;

/// The stored name of a status.
fn status_name(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Uploading => "uploading",
        FileStatus::Completed => "completed",
        FileStatus::Deleted => "deleted",
        FileStatus::Expired => "expired",
        FileStatus::TakenDown => "taken_down",
    }
}

pub(crate) async fn apply(conn: &mut PgConnection, file: Uuid, event: FileEvent) -> Result<(), sqlx::Error> {
    let ended = |status: FileStatus, at: DateTime<Utc>| {
        sqlx::query("UPDATE files SET status = $2, ended_at = $3 WHERE file_id = $1")
            .bind(file)
            .bind(status_name(status))
            .bind(at)
    };
    match event {
        FileEvent::FileRegistered {
            room_id,
            uploader,
            size,
            chunk_size,
            chunk_count,
            content_type,
            expires_at,
            at,
            ..
        } => {
            sqlx::query(
                "INSERT INTO files (file_id, room_id, uploader_id, size, chunk_size, chunk_count, content_type,
                                    status, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'uploading', $8, $9)
                 ON CONFLICT (file_id) DO NOTHING",
            )
            .bind(file)
            .bind(room_id.as_uuid())
            .bind(uploader.as_uuid())
            .bind(to_i64(size))
            .bind(to_i64(chunk_size))
            .bind(i32::try_from(chunk_count).unwrap_or(i32::MAX))
            .bind(content_type.as_str())
            .bind(expires_at)
            .bind(at)
            .execute(conn)
            .await?;
        }
        FileEvent::ChunkStored { index, size, sha256, at } => {
            sqlx::query(
                "INSERT INTO file_chunks (file_id, chunk_index, size, sha256, stored_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (file_id, chunk_index) DO NOTHING",
            )
            .bind(file)
            .bind(i32::try_from(index).unwrap_or(i32::MAX))
            .bind(to_i64(size))
            .bind(sha256.map(|digest| digest.to_string()))
            .bind(at)
            .execute(conn)
            .await?;
        }
        FileEvent::FileCompleted { at, .. } => {
            sqlx::query("UPDATE files SET status = 'completed', completed_at = $2 WHERE file_id = $1")
                .bind(file)
                .bind(at)
                .execute(conn)
                .await?;
        }
        FileEvent::FileDeleted { at, .. } => {
            ended(FileStatus::Deleted, at).execute(conn).await?;
        }
        FileEvent::FileExpired { at } => {
            ended(FileStatus::Expired, at).execute(conn).await?;
        }
        FileEvent::FileTakenDown { at, .. } => {
            ended(FileStatus::TakenDown, at).execute(conn).await?;
        }
    }
    Ok(())
}

/// Up to `limit` files whose blobs are to be removed: past their expiry, or
/// gone (deleted, expired, taken down), and not swept yet.
pub async fn due_for_sweep(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT f.file_id FROM files f
          WHERE (f.status IN ('deleted', 'expired', 'taken_down')
                 OR (f.status IN ('uploading', 'completed') AND f.expires_at <= $1))
            AND NOT EXISTS (SELECT 1 FROM file_sweeps s WHERE s.file_id = f.file_id)
          ORDER BY f.file_id
          LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Records that `file`'s blobs are removed.
pub async fn mark_swept(pool: &PgPool, file: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO file_sweeps (file_id) VALUES ($1) ON CONFLICT (file_id) DO NOTHING")
        .bind(file)
        .execute(pool)
        .await?;
    Ok(())
}
