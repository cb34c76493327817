//! Loading and committing aggregates over postgres-es's tables, with bounded
//! loads. Events are read through postgres-es's repository and appended by
//! the [`crate::appender`], which commits many aggregates' events together.
//!
//! A load reads the aggregate's snapshot (if any) and then only the events
//! after it, so the cost of accepting a command does not grow with history.
//! Snapshots are the aggregate's state after applying events `1..=sequence`
//! exactly once; they are written after the commit that crosses a snapshot
//! boundary, outside its transaction: a snapshot is a cache of immutable
//! history, so a stale or missing one is never wrong, only slower.

use std::collections::HashMap;
use std::sync::Arc;

use ciphertalk_domain::upcast::upcast;
use cqrs_es::persist::{EventUpcaster, PersistedEventRepository, PersistenceError};
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use ciphertalk_streams::WireEvent;

use crate::appender::{Appender, EventRow};
use crate::unique_key::UniqueKey;

/// Default bound on an event on the wire: NATS's default `max_payload` (1 MiB)
/// less room for the delivery messages made from it, which repeat its fields.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 960 * 1024;

/// An aggregate as of its last applied event.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub aggregate: A,
    /// Sequence of the last event applied; 0 for an aggregate with no events.
    pub sequence: usize,
    /// How many events were read from the event table by the loads that built
    /// this value (a snapshot counts as none). Tests assert loads are bounded.
    pub events_read: usize,
}

impl<A: Default> Default for Loaded<A> {
    fn default() -> Self {
        Self { aggregate: A::default(), sequence: 0, events_read: 0 }
    }
}

/// The events one command produced, with the metadata to store them with.
pub type CommandEvents<A> = (Vec<<A as Aggregate>::Event>, HashMap<String, String>);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the aggregate first.
    #[error("another command changed the aggregate first")]
    Conflict,
    /// An event repeats a unique key an earlier event of the aggregate holds
    /// (a send's `client_msg_id`, retried after the room's window forgot it).
    #[error("an event repeats the unique key of an earlier one")]
    Duplicate,
    #[error("event store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Persistence(PersistenceError),
    #[error("stored {what} of {aggregate} {id} cannot be read: {source}")]
    Corrupt { what: &'static str, aggregate: &'static str, id: String, source: serde_json::Error },
    /// The group commit this command was part of failed for another reason.
    #[error("the commit this command was part of failed: {0}")]
    Batch(String),
    #[error("{aggregate} {id}: expected event {expected}, found {found}")]
    Gap { aggregate: &'static str, id: String, expected: usize, found: usize },
    /// One of the command's events would not fit in a NATS message: nothing
    /// was committed (a committed event the relay cannot publish would hold
    /// back every later one). `command` is its index in the batch.
    #[error("an event of {bytes} bytes is over the limit of {limit}")]
    TooLarge { command: usize, bytes: usize, limit: usize },
    /// One of the command's events would have no valid CHAT_EVENTS subject
    /// (its aggregate id or type has a `.`, a wildcard, a space ...): nothing
    /// was committed, for the relay could never publish it and would stall
    /// every later event of the instance behind it.
    #[error("an event's subject cannot be formed: {reason}")]
    Unpublishable { command: usize, reason: String },
}

impl StoreError {
    /// The index in its batch of the one command refused (too large or
    /// unpublishable): the others are decided again without it.
    pub(crate) fn refused_command(&self) -> Option<usize> {
        match self {
            Self::TooLarge { command, .. } | Self::Unpublishable { command, .. } => Some(*command),
            _ => None,
        }
    }

    /// The same refusal, for a batch of that one command alone.
    pub(crate) fn for_command_alone(&self) -> Self {
        match self {
            Self::TooLarge { bytes, limit, .. } => {
                Self::TooLarge { command: 0, bytes: *bytes, limit: *limit }
            }
            Self::Unpublishable { reason, .. } => Self::Unpublishable { command: 0, reason: reason.clone() },
            other => Self::Batch(other.to_string()),
        }
    }
}

impl From<PersistenceError> for StoreError {
    fn from(err: PersistenceError) -> Self {
        match err {
            PersistenceError::OptimisticLockError => Self::Conflict,
            other => Self::Persistence(other),
        }
    }
}

#[derive(Clone)]
pub struct AggregateStore {
    pool: PgPool,
    appender: Appender,
    repo: Arc<PostgresEventRepository>,
    snapshot_every: usize,
    upcasters: Arc<Vec<Box<dyn EventUpcaster>>>,
    max_event_bytes: usize,
}

impl AggregateStore {
    /// `snapshot_every`: take a snapshot each time an aggregate's sequence
    /// crosses a multiple of it, so a load replays fewer than that many events.
    pub fn new(pool: PgPool, snapshot_every: usize, upcasters: Vec<Box<dyn EventUpcaster>>) -> Self {
        Self {
            repo: Arc::new(PostgresEventRepository::new(pool.clone())),
            appender: Appender::new(pool.clone()),
            pool,
            snapshot_every: snapshot_every.max(1),
            upcasters: Arc::new(upcasters),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }

    /// Refuses ([`StoreError::TooLarge`]) commands with an event that would
    /// take more than `bytes` on the wire.
    #[must_use]
    pub fn with_max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The snapshot, then every event after it.
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<Loaded<A>, StoreError> {
        let snapshot: Option<(i64, serde_json::Value)> = sqlx::query_as(
            "SELECT sequence, state FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let mut loaded = match snapshot {
            None => Loaded::default(),
            Some((sequence, state)) => Loaded {
                aggregate: serde_json::from_value(state).map_err(|source| StoreError::Corrupt {
                    what: "snapshot",
                    aggregate: A::TYPE,
                    id: id.to_owned(),
                    source,
                })?,
                sequence: usize::try_from(sequence).unwrap_or_default(),
                events_read: 0,
            },
        };
        self.catch_up(id, &mut loaded).await?;
        Ok(loaded)
    }

    /// Applies the events committed after `loaded.sequence` (by anyone).
    pub async fn catch_up<A: Aggregate>(&self, id: &str, loaded: &mut Loaded<A>) -> Result<(), StoreError> {
        for stored in self.repo.get_last_events::<A>(id, loaded.sequence).await? {
            let stored = upcast(stored, &self.upcasters);
            let expected = loaded.sequence + 1;
            if stored.sequence != expected {
                return Err(StoreError::Gap {
                    aggregate: A::TYPE,
                    id: id.to_owned(),
                    expected,
                    found: stored.sequence,
                });
            }
            let event: A::Event = serde_json::from_value(stored.payload).map_err(|source| {
                StoreError::Corrupt { what: "event", aggregate: A::TYPE, id: id.to_owned(), source }
            })?;
            loaded.aggregate.apply(event);
            loaded.sequence = expected;
            loaded.events_read += 1;
        }
        Ok(())
    }

    /// Appends `events` after `base_sequence` in one transaction. `after` is the
    /// aggregate with those events applied once (by the event sink), which is
    /// what a snapshot must hold. Fails with [`StoreError::Conflict`] when
    /// another writer got there first.
    pub async fn commit<A: Aggregate<Event: UniqueKey>>(
        &self,
        id: &str,
        base_sequence: usize,
        after: &A,
        events: Vec<A::Event>,
        metadata: &HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, StoreError> {
        let mut committed =
            self.commit_batch(id, base_sequence, after, vec![(events, metadata.clone())]).await?;
        Ok(committed.pop().unwrap_or_default())
    }

    /// Appends the events of several commands, each with its own metadata, in
    /// one transaction (group commit: one fsync for the lot). Returns each
    /// command's envelopes, in order. Commits nothing when an event of any of
    /// them is too large ([`StoreError::TooLarge`] names which).
    pub async fn commit_batch<A: Aggregate<Event: UniqueKey>>(
        &self,
        id: &str,
        base_sequence: usize,
        after: &A,
        commands: Vec<CommandEvents<A>>,
    ) -> Result<Vec<Vec<EventEnvelope<A>>>, StoreError> {
        let mut next = base_sequence;
        let envelopes: Vec<Vec<EventEnvelope<A>>> = commands
            .into_iter()
            .map(|(events, metadata)| {
                events
                    .into_iter()
                    .map(|payload| {
                        next += 1;
                        EventEnvelope {
                            aggregate_id: id.to_owned(),
                            sequence: next,
                            payload,
                            metadata: metadata.clone(),
                        }
                    })
                    .collect()
            })
            .collect();
        if next == base_sequence {
            return Ok(envelopes);
        }
        let mut rows = Vec::with_capacity(next - base_sequence);
        for (command, events) in envelopes.iter().enumerate() {
            let first = rows.len();
            rows.extend(self.rows(id, events)?);
            self.check_publishable(command, &rows[first..])?;
        }
        self.appender.append(rows).await?;

        if next / self.snapshot_every > base_sequence / self.snapshot_every
            && let Err(err) = self.save_snapshot(id, next, after).await
        {
            tracing::warn!(aggregate = A::TYPE, id, error = %err, "snapshot not saved; loads replay more events");
        }
        Ok(envelopes)
    }

    /// The rows the appender writes (possibly with other aggregates' events,
    /// in one statement). Payloads are serialized straight to JSON text (as
    /// cqrs-es would store them, without a `Value` between), and measured as
    /// such: Postgres's `json` keeps the text, and the relay sends it as is.
    fn rows<A: Aggregate<Event: UniqueKey>>(
        &self,
        id: &str,
        events: &[EventEnvelope<A>],
    ) -> Result<Vec<EventRow>, StoreError> {
        let corrupt =
            |source| StoreError::Corrupt { what: "event", aggregate: A::TYPE, id: id.to_owned(), source };
        events
            .iter()
            .map(|event| {
                Ok(EventRow {
                    aggregate_type: A::TYPE,
                    aggregate_id: event.aggregate_id.clone(),
                    sequence: i64::try_from(event.sequence).unwrap_or(i64::MAX),
                    event_type: event.payload.event_type(),
                    event_version: event.payload.event_version(),
                    payload: serde_json::to_string(&event.payload).map_err(corrupt)?,
                    metadata: serde_json::to_string(&event.metadata).map_err(corrupt)?,
                    unique_key: event.payload.unique_key(),
                })
            })
            .collect()
    }

    /// Refuses command `command` when one of its rows would not fit on the
    /// wire or have no valid subject there.
    fn check_publishable(&self, command: usize, rows: &[EventRow]) -> Result<(), StoreError> {
        for row in rows {
            if let Err(invalid) =
                ciphertalk_streams::subjects::event(row.aggregate_type, &row.aggregate_id, &row.event_type)
            {
                metrics::counter!("ciphertalk_event_store_refused_unpublishable_total", "aggregate" => row.aggregate_type)
                    .increment(1);
                return Err(StoreError::Unpublishable { command, reason: invalid.to_string() });
            }
            let bytes = WireEvent::wire_size_bound(
                row.aggregate_type,
                &row.aggregate_id,
                &row.event_type,
                &row.event_version,
                row.payload.len(),
                row.metadata.len(),
            );
            if bytes > self.max_event_bytes {
                metrics::counter!("ciphertalk_event_store_refused_too_large_total", "aggregate" => row.aggregate_type)
                    .increment(1);
                return Err(StoreError::TooLarge { command, bytes, limit: self.max_event_bytes });
            }
        }
        Ok(())
    }

    async fn save_snapshot<A: Aggregate>(
        &self,
        id: &str,
        sequence: usize,
        state: &A,
    ) -> Result<(), StoreError> {
        let state = serde_json::to_string(state).map_err(|source| StoreError::Corrupt {
            what: "snapshot",
            aggregate: A::TYPE,
            id: id.to_owned(),
            source,
        })?;
        // Only ever move a snapshot forward: two writers may race here.
        sqlx::query(
            "INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, sequence, state)
             VALUES ($1, $2, $3, $4::json)
             ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
               SET sequence = excluded.sequence, state = excluded.state, taken_at = now()
               WHERE aggregate_snapshots.sequence < excluded.sequence",
        )
        .bind(A::TYPE)
        .bind(id)
        .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
        .bind(state)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use ciphertalk_domain::clock;
    use ciphertalk_domain::ids::{RoomId, UserId};
    use ciphertalk_domain::room::{DEFAULT_MAX_MEMBERS, JoinRule, RoomEvent, RoomKind};
    use ciphertalk_domain::values::{RoomDescription, RoomName};
    use cqrs_es::DomainEvent;

    use super::*;
    use crate::CommandMetadata;

    /// The one event that grows with a room's size: at the default maximum,
    /// with the longest name and description, it still fits.
    #[test]
    fn a_room_created_at_the_default_maximum_size_fits_in_the_default_event_limit() {
        let creator = UserId::new_v7();
        let event = RoomEvent::RoomCreated {
            room_id: RoomId::new_v7(),
            kind: RoomKind::Group,
            name: Some(RoomName::parse(&"\u{1F600}".repeat(128)).unwrap()),
            description: Some(RoomDescription::parse(&"\u{1F600}".repeat(1000)).unwrap()),
            join_rule: JoinRule::Invite,
            creator,
            members: (1..DEFAULT_MAX_MEMBERS).map(|_| UserId::new_v7()).collect(),
            at: clock::now(),
        };
        let metadata = CommandMetadata::new(creator.to_string(), Some("r".repeat(64))).to_map();
        let bytes = WireEvent::wire_size_bound(
            "room",
            &RoomId::new_v7().to_string(),
            &event.event_type(),
            &event.event_version(),
            serde_json::to_string(&event).unwrap().len(),
            serde_json::to_string(&metadata).unwrap().len(),
        );
        assert!(bytes <= DEFAULT_MAX_EVENT_BYTES, "{bytes} bytes, limit {DEFAULT_MAX_EVENT_BYTES}");
    }
}
