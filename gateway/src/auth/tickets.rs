//! WebSocket tickets: browsers cannot set an Authorization header on a
//! WebSocket, so they trade their access token for a random ticket that is
//! good once, for a few seconds. Only its hash is stored.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ciphertalk_domain::{DeviceId, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use super::{random_bytes, sha256};
use crate::db::{device_column, device_of_column};

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

/// Whom a ticket was issued to: the user, and the session and access-token
/// expiry of the token that bought it (its WebSocket ends with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketHolder {
    pub user_id: UserId,
    pub session: Option<Uuid>,
    /// The device of the session (tickets issued before devices: the first device).
    pub device: DeviceId,
    /// Unix seconds.
    pub token_expires_at: Option<u64>,
}

/// A new ticket for `holder` and when it expires.
pub async fn issue(
    pool: &PgPool,
    holder: TicketHolder,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), TicketError> {
    let ticket = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let token_expires_at = holder
        .token_expires_at
        .and_then(|secs| DateTime::<Utc>::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0));
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO ws_tickets (ticket_hash, user_id, expires_at, session_id, token_expires_at, device_id)
         VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5, $6) RETURNING expires_at",
    )
    .bind(hash(&ticket))
    .bind(holder.user_id.as_uuid())
    .bind(ttl.as_secs_f64())
    .bind(holder.session)
    .bind(token_expires_at)
    .bind(device_column(holder.user_id, holder.device))
    .fetch_one(pool)
    .await?;
    Ok((ticket, expires_at))
}

/// Whom a ticket was issued to, if it is unexpired and unused; using it
/// deletes it, so a second use (even a concurrent one) finds nothing.
pub async fn consume_ticket(pool: &PgPool, ticket: &str) -> Result<Option<TicketHolder>, sqlx::Error> {
    type Row = (Uuid, bool, Option<Uuid>, Option<DateTime<Utc>>, Uuid);
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM ws_tickets WHERE ticket_hash = $1
         RETURNING user_id, expires_at > now(), session_id, token_expires_at, device_id",
    )
    .bind(hash(ticket))
    .fetch_optional(pool)
    .await?;
    Ok(row.filter(|(_, fresh, ..)| *fresh).map(|(id, _, session, token_expires_at, device)| TicketHolder {
        user_id: UserId::from_uuid(id),
        session,
        device: device_of_column(UserId::from_uuid(id), device),
        token_expires_at: token_expires_at.and_then(|at| u64::try_from(at.timestamp()).ok()),
    }))
}
