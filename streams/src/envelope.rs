//! The event envelope on the wire: what the relay publishes to CHAT_EVENTS and
//! what every projection consumes.
//!
//! The JSON body carries the whole envelope and the subject names the
//! aggregate, its id and the event type (what an operator filters on with
//! `nats stream view` / `nats stream get`). Headers carry only what is needed
//! without reading the body: `Nats-Msg-Id` makes republishing the same event
//! a no-op in JetStream, `Ct-Log-Position` tells the relay where the stream
//! ends, `Ct-Event-Version` which shape the payload has. Every header is
//! parsed by every consumer of every event, so there are no more.

use std::fmt;
use std::str::FromStr;

use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::headers::{HEADER_EVENT_VERSION, HEADER_LOG_POSITION};
use crate::subjects;

/// Where an event stands in the Postgres event log: the id of the transaction
/// that committed it, then its row position. Ordering by `(tx, pos)` is commit
/// order for everything the relay has been allowed to see (see the relay).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPosition {
    pub tx: u64,
    pub pos: u64,
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.tx, self.pos)
    }
}

impl FromStr for LogPosition {
    type Err = EnvelopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || EnvelopeError::Header(HEADER_LOG_POSITION, s.to_owned());
        let (tx, pos) = s.split_once(':').ok_or_else(bad)?;
        Ok(Self { tx: tx.parse().map_err(|_| bad())?, pos: pos.parse().map_err(|_| bad())? })
    }
}

/// One committed domain event as it travels through JetStream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEvent {
    pub position: LogPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The event's sequence within its aggregate (1-based, gap-free).
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub recorded_at: DateTime<Utc>,
    /// The stored event, exactly as in Postgres. Ciphertext inside stays
    /// opaque. Kept as raw JSON: reading an envelope does not build a tree of
    /// every payload, and each consumer decodes only the events it follows.
    pub payload: Box<RawValue>,
    /// Actor, request id and time of the command that produced the event.
    pub metadata: Box<RawValue>,
}

impl PartialEq for WireEvent {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position
            && self.aggregate_type == other.aggregate_type
            && self.aggregate_id == other.aggregate_id
            && self.sequence == other.sequence
            && self.event_type == other.event_type
            && self.event_version == other.event_version
            && self.recorded_at == other.recorded_at
            && self.payload.get() == other.payload.get()
            && self.metadata.get() == other.metadata.get()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("event envelope is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("header {0} has an unusable value {1:?}")]
    Header(&'static str, String),
    #[error(transparent)]
    Subject(#[from] subjects::InvalidToken),
}

impl WireEvent {
    /// JetStream de-duplication id: the same event always gets the same id.
    pub fn message_id(&self) -> String {
        format!("{}:{}:{}", self.aggregate_type, self.aggregate_id, self.sequence)
    }

    pub fn subject(&self) -> Result<String, EnvelopeError> {
        Ok(subjects::event(&self.aggregate_type, &self.aggregate_id, &self.event_type)?)
    }

    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, self.message_id().as_str());
        headers.insert(HEADER_LOG_POSITION, self.position.to_string().as_str());
        headers.insert(HEADER_EVENT_VERSION, self.event_version.as_str());
        headers
    }

    pub fn to_body(&self) -> Result<Bytes, EnvelopeError> {
        Ok(Bytes::from(serde_json::to_vec(self)?))
    }

    pub fn from_body(body: &[u8]) -> Result<Self, EnvelopeError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// The most bytes an event can take on the wire (envelope body, headers
    /// and subject) given its stored parts: the writer bounds this below the
    /// server's `max_payload` before it commits, so every committed event can
    /// be published. Positions and sequences count at their widest (20 digits).
    #[must_use]
    pub fn wire_size_bound(
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        event_version: &str,
        payload_bytes: usize,
        metadata_bytes: usize,
    ) -> usize {
        // The body's field names, numbers and time, the header block's
        // framing and names, and the widest positions and sequences.
        const FIXED: usize = 512;
        // The names appear in the body, the subject and `Nats-Msg-Id`; JSON
        // escaping at most doubles ids (they are plain tokens in practice).
        let names = aggregate_type.len() + aggregate_id.len() + event_type.len() + event_version.len();
        FIXED + 4 * names + payload_bytes + metadata_bytes
    }

    /// Reads the log position from a stored message's headers without parsing
    /// the body (the relay does this to find where the stream ends).
    pub fn position_from_headers(headers: &HeaderMap) -> Result<Option<LogPosition>, EnvelopeError> {
        headers.get(HEADER_LOG_POSITION).map(|value| value.as_str().parse()).transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> WireEvent {
        WireEvent {
            position: LogPosition { tx: 812, pos: 9 },
            aggregate_type: "room".into(),
            aggregate_id: "0192a3b4-0000-7000-8000-000000000001".into(),
            sequence: 42,
            event_type: "MessageSent".into(),
            event_version: "1".into(),
            recorded_at: DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().into(),
            payload: RawValue::from_string(r#"{"MessageSent": {"ciphertext": "AAEC"}}"#.into()).unwrap(),
            metadata: RawValue::from_string(r#"{"actor": "u1"}"#.into()).unwrap(),
        }
    }

    #[test]
    fn message_id_names_aggregate_and_sequence() {
        assert_eq!(sample().message_id(), "room:0192a3b4-0000-7000-8000-000000000001:42");
    }

    #[test]
    fn body_round_trips_and_headers_carry_the_position() {
        let event = sample();
        let back = WireEvent::from_body(&event.to_body().unwrap()).unwrap();
        assert_eq!(back, event);
        let headers = event.headers();
        assert_eq!(WireEvent::position_from_headers(&headers).unwrap(), Some(event.position));
        assert_eq!(headers.get(HEADER_EVENT_VERSION).unwrap().as_str(), "1");
        assert_eq!(
            event.subject().unwrap(),
            "chat.evt.room.0192a3b4-0000-7000-8000-000000000001.MessageSent"
        );
    }

    #[test]
    fn the_wire_size_bound_covers_body_headers_and_subject_at_their_widest() {
        let mut event = sample();
        event.position = LogPosition { tx: u64::MAX, pos: u64::MAX };
        event.sequence = u64::MAX;
        event.recorded_at =
            DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123456789+00:00").unwrap().into();
        let mut headers = event.headers();
        headers.insert(async_nats::header::NATS_EXPECTED_LAST_SEQUENCE, u64::MAX.to_string().as_str());
        let header_bytes: usize = headers
            .iter()
            .map(|(name, values)| {
                values.iter().map(|v| name.to_string().len() + v.as_str().len() + 4).sum::<usize>()
            })
            .sum::<usize>()
            + "NATS/1.0\r\n\r\n".len();
        let actual = event.to_body().unwrap().len() + header_bytes + event.subject().unwrap().len();
        let bound = WireEvent::wire_size_bound(
            &event.aggregate_type,
            &event.aggregate_id,
            &event.event_type,
            &event.event_version,
            event.payload.get().len(),
            event.metadata.get().len(),
        );
        assert!(actual <= bound, "{actual} bytes on the wire, bound {bound}");
    }

    #[test]
    fn log_positions_order_by_transaction_first() {
        let a = LogPosition { tx: 5, pos: 100 };
        let b = LogPosition { tx: 6, pos: 1 };
        assert!(a < b);
        assert_eq!("6:1".parse::<LogPosition>().unwrap(), b);
        assert!("6".parse::<LogPosition>().is_err());
    }
}
