//! What the query functions share: the list shape of API.md, their error, and
//! how domain enums are stored as text.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A list as API.md shapes it: `{"items": [...], "next": <cursor or null>}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back to get the following page; `None` when there is none.
    pub next: Option<String>,
}

/// The largest page a query returns, whatever the caller asks for.
pub const MAX_LIMIT: u32 = 200;

/// Clamps a requested page size to `1..=MAX_LIMIT`.
pub(crate) fn clamp_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_LIMIT))
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The client sent a cursor no query of ours produced.
    #[error("invalid cursor")]
    BadCursor,
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
}

/// The serde name of a unit enum variant (`Role::Admin` -> `"admin"`), which is
/// how the read models store it.
pub(crate) fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => format!("{other:?}"),
    }
}

/// The inverse of [`enum_text`]; a value that does not decode is a corrupt row.
pub(crate) fn parse_enum<T: DeserializeOwned>(text: String) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(text)).map_err(|err| sqlx::Error::Decode(Box::new(err)))
}
