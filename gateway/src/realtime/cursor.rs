//! Delivery cursors: a position in one user's delivery queue (the CHAT_DELIVERY
//! stream sequence of an event), and the acknowledged cursor kept per device:
//! each device receives everything after its own cursor, whatever the user's
//! other devices acknowledged.
//!
//! A cursor is sent as a decimal string (`"cursor": "1234"`) so that clients in
//! languages without 64-bit integers keep it exact; a JSON number is accepted too.

use std::fmt;
use std::str::FromStr;

use std::collections::HashMap;

use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_streams::WithKind;
use ciphertalk_streams::error::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::db::device_column;

/// A position in a user's delivery queue; 0 is before the first event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a cursor is a non-negative integer")]
pub struct InvalidCursor;

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Digits only: no sign, no spaces, no "0x".
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidCursor);
        }
        s.parse().map(Self).map_err(|_| InvalidCursor)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Number(u64),
            Text(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The cursor up to which `device` of `user` has acknowledged its events (0 = none).
pub async fn acknowledged(pool: &PgPool, user: UserId, device: DeviceId) -> Result<Cursor, sqlx::Error> {
    let cursor: Option<i64> =
        sqlx::query_scalar("SELECT cursor FROM delivery_cursors WHERE user_id = $1 AND device_id = $2")
            .bind(user.as_uuid())
            .bind(device_column(user, device))
            .fetch_optional(pool)
            .await?;
    Ok(Cursor(cursor.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)))
}

/// Forgets the cursor of a removed device.
pub async fn forget(pool: &PgPool, user: UserId, device: DeviceId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM delivery_cursors WHERE user_id = $1 AND device_id = $2")
        .bind(user.as_uuid())
        .bind(device_column(user, device))
        .execute(pool)
        .await?;
    Ok(())
}

/// Stores acknowledged cursors for every connection of this process, many in
/// one statement: a thousand clients acking once a second would otherwise be a
/// thousand Postgres transactions a second. An ack is answered once stored.
#[derive(Debug, Clone)]
pub struct AckWriter {
    queue: mpsc::Sender<PendingAck>,
}

#[derive(Debug)]
struct PendingAck {
    user: UserId,
    device: DeviceId,
    cursor: Cursor,
    stored: oneshot::Sender<Result<Cursor, AckError>>,
}

/// Why an acknowledgement was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckErrorKind {
    /// The writer is gone (the process is stopping).
    Stopped,
    /// Postgres refused the statement.
    Database,
    /// The statement stored nothing for the device.
    NoRow,
}

impl fmt::Display for AckErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stopped => "acknowledgement not stored: the acknowledgement writer has stopped",
            Self::Database => "acknowledgement not stored",
            Self::NoRow => "acknowledgement not stored: no row returned",
        })
    }
}

pub type AckError = Error<AckErrorKind>;

/// Acks waiting at most; more make callers wait for room (backpressure).
const QUEUED_ACKS: usize = 10_000;
/// Acks stored by one statement at most.
const ACKS_PER_STATEMENT: usize = 1_000;

impl AckWriter {
    /// Starts the writer; it stops when every clone is dropped.
    pub fn spawn(pool: PgPool) -> Self {
        let (queue, pending) = mpsc::channel(QUEUED_ACKS);
        tokio::spawn(write_acks(pool, pending));
        Self { queue }
    }

    /// Moves the acknowledged cursor of `device` of `user` to `cursor` unless
    /// it is further already (acks may arrive out of order from several
    /// connections of the device); returns the stored cursor. Other devices'
    /// cursors never move.
    pub async fn acknowledge(
        &self,
        user: UserId,
        device: DeviceId,
        cursor: Cursor,
    ) -> Result<Cursor, AckError> {
        let (stored, answer) = oneshot::channel();
        self.queue
            .send(PendingAck { user, device, cursor, stored })
            .await
            .map_err(|_| AckError::new(AckErrorKind::Stopped))?;
        answer.await.map_err(|_| AckError::new(AckErrorKind::Stopped))?
    }
}

async fn write_acks(pool: PgPool, mut pending: mpsc::Receiver<PendingAck>) {
    let mut batch = Vec::with_capacity(ACKS_PER_STATEMENT);
    while pending.recv_many(&mut batch, ACKS_PER_STATEMENT).await > 0 {
        // One row per device (a statement may not touch a row twice): the furthest ack wins.
        let mut furthest: HashMap<(UserId, DeviceId), u64> = HashMap::with_capacity(batch.len());
        for ack in &batch {
            let entry = furthest.entry((ack.user, ack.device)).or_default();
            *entry = (*entry).max(ack.cursor.0);
        }
        let mut users = Vec::with_capacity(furthest.len());
        let mut devices = Vec::with_capacity(furthest.len());
        let mut cursors = Vec::with_capacity(furthest.len());
        for ((user, device), cursor) in &furthest {
            users.push(user.as_uuid());
            devices.push(device_column(*user, *device));
            cursors.push(i64::try_from(*cursor).unwrap_or(i64::MAX));
        }
        let stored: Result<Vec<(Uuid, Uuid, i64)>, sqlx::Error> = sqlx::query_as(
            "INSERT INTO delivery_cursors (user_id, device_id, cursor)
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[])
             ON CONFLICT (user_id, device_id) DO UPDATE
                SET cursor = GREATEST(delivery_cursors.cursor, excluded.cursor), updated_at = now()
             RETURNING user_id, device_id, cursor",
        )
        .bind(&users)
        .bind(&devices)
        .bind(&cursors)
        .fetch_all(&pool)
        .await;
        match stored {
            Ok(rows) => {
                let rows: HashMap<(Uuid, Uuid), i64> =
                    rows.into_iter().map(|(user, device, cursor)| ((user, device), cursor)).collect();
                for ack in batch.drain(..) {
                    let key = (ack.user.as_uuid(), device_column(ack.user, ack.device));
                    let cursor = rows.get(&key).and_then(|c| u64::try_from(*c).ok());
                    let answer = cursor.map(Cursor).ok_or(AckError::new(AckErrorKind::NoRow));
                    let _ = ack.stored.send(answer);
                }
            }
            Err(err) => {
                let err = err.with_kind(AckErrorKind::Database);
                for ack in batch.drain(..) {
                    let _ = ack.stored.send(Err(err.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_decimal_strings_or_numbers() {
        assert_eq!(serde_json::to_string(&Cursor(42)).ok().as_deref(), Some("\"42\""));
        assert_eq!(serde_json::from_str::<Cursor>("\"42\"").ok(), Some(Cursor(42)));
        assert_eq!(serde_json::from_str::<Cursor>("42").ok(), Some(Cursor(42)));
        for bad in ["\"-1\"", "\"\"", "\" 4\"", "\"0x10\"", "-1", "1.5", "null", "\"99999999999999999999\""] {
            assert!(serde_json::from_str::<Cursor>(bad).is_err(), "{bad} accepted");
        }
    }
}
