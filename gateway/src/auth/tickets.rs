//! WebSocket tickets: browsers cannot set an Authorization header on a
//! WebSocket, so they trade their access token for a random ticket that is
//! good once, for a few seconds. Only its hash is stored.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ciphertalk_domain::UserId;
use sqlx::PgPool;
use uuid::Uuid;

use super::{random_bytes, sha256};

fn hash(ticket: &str) -> Vec<u8> {
    sha256(&[b"ws-ticket:", ticket.as_bytes()])
}

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Random(#[from] std::io::Error),
}

/// A new ticket for `user_id` and when it expires.
pub async fn issue(
    pool: &PgPool,
    user_id: UserId,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), TicketError> {
    let ticket = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO ws_tickets (ticket_hash, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at",
    )
    .bind(hash(&ticket))
    .bind(user_id.as_uuid())
    .bind(ttl.as_secs_f64())
    .fetch_one(pool)
    .await?;
    Ok((ticket, expires_at))
}

/// The user a ticket was issued to, if it is unexpired and unused; using it
/// deletes it, so a second use (even a concurrent one) finds nothing.
pub async fn consume_ticket(pool: &PgPool, ticket: &str) -> Result<Option<UserId>, sqlx::Error> {
    let user: Option<(Uuid, bool)> =
        sqlx::query_as("DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING user_id, expires_at > now()")
            .bind(hash(ticket))
            .fetch_optional(pool)
            .await?;
    Ok(user.filter(|(_, fresh)| *fresh).map(|(id, _)| UserId::from_uuid(id)))
}
