//! Events as the projections read them: where one came from in the stream,
//! a `MessageSent` waiting in a run, and decoding stored payloads into the
//! current event shape. Every read model uses these; they use none.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use ciphertalk_domain::room::RoomEvent;
use ciphertalk_domain::upcast::{upcast, upcasters};
use ciphertalk_streams::WireEvent;
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde::de::DeserializeOwned;

/// Where an event came from, for message ids, latency headers and history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub stream_seq: u64,
    /// The event's sequence within its aggregate.
    pub sequence: u64,
    pub recorded_at: DateTime<Utc>,
}

/// A `MessageSent` event waiting in the applier's run (see [`crate::projection`]).
pub(crate) struct Sent {
    pub room: uuid::Uuid,
    /// Always `RoomEvent::MessageSent`.
    pub event: RoomEvent,
    pub origin: Origin,
}

/// An event that cannot be read: logged and skipped, never retried forever.
#[derive(Debug)]
pub(crate) struct Undecodable(pub String);

static UPCASTERS: LazyLock<Vec<Box<dyn EventUpcaster>>> = LazyLock::new(upcasters);

/// Whether an event of this type and version is stored in an older shape
/// than the current one (an upcaster lifts it).
pub(crate) fn is_old_shape(event_type: &str, event_version: &str) -> bool {
    UPCASTERS.iter().any(|upcaster| upcaster.can_upcast(event_type, event_version))
}

/// Lifts the stored payload to the current event shape, then decodes it.
/// Events no upcaster touches (all but old versions) decode straight from
/// their raw JSON.
pub(crate) fn decode<E: DeserializeOwned>(event: WireEvent) -> Result<E, Undecodable> {
    let undecodable = |err: serde_json::Error| Undecodable(err.to_string());
    if !is_old_shape(&event.event_type, &event.event_version) {
        return serde_json::from_str(event.payload.get()).map_err(undecodable);
    }
    let serialized = SerializedEvent {
        aggregate_id: event.aggregate_id,
        sequence: usize::try_from(event.sequence).unwrap_or(usize::MAX),
        aggregate_type: event.aggregate_type,
        event_type: event.event_type,
        event_version: event.event_version,
        payload: serde_json::from_str(event.payload.get()).map_err(undecodable)?,
        metadata: serde_json::Value::Null,
    };
    decode_stored(serialized)
}

/// Decodes an event as the event store holds it, lifted to the current shape.
pub(crate) fn decode_stored<E: DeserializeOwned>(event: SerializedEvent) -> Result<E, Undecodable> {
    let current = upcast(event, &UPCASTERS);
    serde_json::from_value(current.payload).map_err(|err| Undecodable(err.to_string()))
}

/// A sequence read from a Postgres `bigint` (0 should it be negative).
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A stream or aggregate sequence as a Postgres `bigint`.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
