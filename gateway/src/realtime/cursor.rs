//! Delivery cursors: a position in one user's delivery queue (the CHAT_DELIVERY
//! stream sequence of an event), and the acknowledged cursor kept per user.
//!
//! A cursor is sent as a decimal string (`"cursor": "1234"`) so that clients in
//! languages without 64-bit integers keep it exact; a JSON number is accepted too.

use std::fmt;
use std::str::FromStr;

use ciphertalk_domain::UserId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sqlx::PgPool;

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

/// The cursor up to which `user` has acknowledged their events (0 = none).
pub async fn acknowledged(pool: &PgPool, user: UserId) -> Result<Cursor, sqlx::Error> {
    let cursor: Option<i64> = sqlx::query_scalar("SELECT cursor FROM delivery_cursors WHERE user_id = $1")
        .bind(user.as_uuid())
        .fetch_optional(pool)
        .await?;
    Ok(Cursor(cursor.and_then(|c| u64::try_from(c).ok()).unwrap_or(0)))
}

/// Moves `user`'s acknowledged cursor to `cursor` unless it is further
/// already (acks may arrive out of order from several devices); returns the
/// stored cursor.
pub async fn acknowledge(pool: &PgPool, user: UserId, cursor: Cursor) -> Result<Cursor, sqlx::Error> {
    let stored: i64 = sqlx::query_scalar(
        "INSERT INTO delivery_cursors (user_id, cursor) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE
            SET cursor = GREATEST(delivery_cursors.cursor, excluded.cursor), updated_at = now()
         RETURNING cursor",
    )
    .bind(user.as_uuid())
    .bind(i64::try_from(cursor.0).unwrap_or(i64::MAX))
    .fetch_one(pool)
    .await?;
    Ok(Cursor(u64::try_from(stored).unwrap_or(0)))
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
