//! The user directory: username claims (uniqueness across users) and the
//! prefix-search index, both kept next to the User aggregate by the routes
//! that change profiles; and each pair's claim on its one direct room.

use chrono::{DateTime, Utc};
use ciphertalk_domain::user::Account;
use ciphertalk_domain::{RoomId, UserId};
use sqlx::PgPool;
use uuid::Uuid;

/// Writes (or overwrites) a user's directory row from their account.
pub async fn upsert(pool: &PgPool, account: &Account) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_directory (user_id, username, display_name, sort_name, bio, avatar_file_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE SET username = EXCLUDED.username,
           display_name = EXCLUDED.display_name, sort_name = EXCLUDED.sort_name,
           bio = EXCLUDED.bio, avatar_file_id = EXCLUDED.avatar_file_id",
    )
    .bind(account.user_id.as_uuid())
    .bind(account.username.as_ref().map(|u| u.as_str()))
    .bind(account.display_name.as_str())
    .bind(account.display_name.as_str().to_lowercase())
    .bind(account.bio.as_ref().map(|b| b.as_str()))
    .bind(account.avatar_file_id.map(|f| f.as_uuid()))
    .bind(account.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Claims `username` for `user_id`: true when it is now theirs (newly or
/// already), false when someone else holds it. Committed before the profile
/// command runs, so two users can never both get a name.
pub async fn claim_username(pool: &PgPool, username: &str, user_id: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query("INSERT INTO username_claims (username, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(username)
        .bind(user_id.as_uuid())
        .execute(pool)
        .await?;
    let holder: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM username_claims WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await?;
    Ok(holder == Some(user_id.as_uuid()))
}

/// Releases every claim of `user_id` except `keep` (their current username).
pub async fn release_usernames(
    pool: &PgPool,
    user_id: UserId,
    keep: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM username_claims WHERE user_id = $1 AND username IS DISTINCT FROM $2")
        .bind(user_id.as_uuid())
        .bind(keep)
        .execute(pool)
        .await?;
    Ok(())
}

/// The id of the pair's direct room: claimed now, or claimed before (by
/// either side). The claim commits before the room is created, so racing
/// requests agree on one id and all but one CreateRoom find it exists; a
/// claim whose creation failed is simply created by the next request.
pub async fn claim_direct_room(pool: &PgPool, a: UserId, b: UserId) -> Result<RoomId, sqlx::Error> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let room: Uuid = sqlx::query_scalar(
        "WITH claimed AS (
             INSERT INTO direct_rooms (user_a, user_b, room_id) VALUES ($1, $2, $3)
             ON CONFLICT (user_a, user_b) DO NOTHING RETURNING room_id)
         SELECT room_id FROM claimed
         UNION ALL SELECT room_id FROM direct_rooms WHERE user_a = $1 AND user_b = $2
         LIMIT 1",
    )
    .bind(low.as_uuid())
    .bind(high.as_uuid())
    .bind(RoomId::new_v7().as_uuid())
    .fetch_one(pool)
    .await?;
    Ok(RoomId::from_uuid(room))
}

/// One search hit: the public profile.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub user_id: Uuid,
    pub username: Option<String>,
    pub display_name: String,
    pub sort_name: String,
    pub bio: Option<String>,
    pub avatar_file_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Users whose username or display name starts with `prefix` (case-
/// insensitive), by display name then id, after `after` (a keyset cursor).
pub async fn search(
    pool: &PgPool,
    prefix: &str,
    after: Option<(&str, Uuid)>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let escaped = prefix.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = format!("{escaped}%");
    let (after_name, after_id) = after.map_or((None, None), |(name, id)| (Some(name), Some(id)));
    sqlx::query_as(
        "SELECT user_id, username, display_name, sort_name, bio, avatar_file_id, created_at
         FROM user_directory
         WHERE (username LIKE $1 OR sort_name LIKE $1)
           AND ($2::text IS NULL OR (sort_name, user_id) > ($2, $3))
         ORDER BY sort_name, user_id
         LIMIT $4",
    )
    .bind(pattern)
    .bind(after_name)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
