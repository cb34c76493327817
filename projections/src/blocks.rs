//! Queries over users' block lists as the `contacts` projection keeps them:
//! the list a user pages through. Checks that decide something ask elsewhere:
//! commands the User aggregate (`EventStoreLookup::has_blocked_per_aggregate`),
//! delivery its own projection (`delivery::has_blocked_per_read_model`).

use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::UserId;
use serde::Serialize;
use sqlx::{PgPool, Row};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub user_id: UserId,
    pub blocked_at: DateTime<Utc>,
}

/// Everyone `user` has blocked, most recent first.
pub async fn list(pool: &PgPool, user: UserId) -> Result<Vec<Block>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT blocked_id, blocked_at FROM blocks WHERE user_id = $1 ORDER BY blocked_at DESC")
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(Block {
                user_id: UserId::from_uuid(row.try_get("blocked_id")?),
                blocked_at: row.try_get("blocked_at")?,
            })
        })
        .collect()
}
