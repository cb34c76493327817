//! Executes commands against one kind of aggregate.
//!
//! Commands on the same aggregate are serialised inside this process (one lock
//! per aggregate), so they never conflict with each other; the loaded state is
//! kept between commands so a hot room is not re-read for every message.
//! Writers in other processes are caught by the event store's optimistic
//! concurrency: a conflict re-reads only the events committed since, and the
//! command is retried a bounded number of times before it is answered 409.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, EventEnvelope};

use crate::metadata::CommandMetadata;
use crate::relay::RelayWake;
use crate::store::{AggregateStore, Loaded, StoreError};

#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Attempts at a command that keeps meeting concurrent writers.
    pub max_attempts: u32,
    /// Aggregates whose state stays loaded between commands.
    pub cache_capacity: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self { max_attempts: 10, cache_capacity: 10_000 }
    }
}

/// Why a command did not produce events.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused the command (a business rule).
    #[error(transparent)]
    Rejected(E),
    /// Concurrent writers kept winning; the client may retry.
    #[error("the command kept conflicting with concurrent writers ({attempts} attempts)")]
    Conflict { attempts: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a successful command committed, and whatever the caller asked to read
/// from the aggregate afterwards.
#[derive(Debug)]
pub struct Executed<A: Aggregate, R> {
    /// Empty when the command was an idempotent no-op.
    pub events: Vec<EventEnvelope<A>>,
    /// The aggregate's sequence after the command.
    pub sequence: usize,
    /// Events read from the store to decide this command (0 when the
    /// aggregate was already loaded): bounded by the snapshot interval.
    pub replayed: usize,
    pub read: R,
}

type Slot<A> = Arc<tokio::sync::Mutex<Option<Loaded<A>>>>;

pub struct CommandService<A: Aggregate> {
    store: AggregateStore,
    services: A::Services,
    wake: RelayWake,
    options: ServiceOptions,
    slots: Mutex<HashMap<String, Slot<A>>>,
}

impl<A> CommandService<A>
where
    A: Aggregate + Clone,
    A::Command: Clone,
{
    pub fn new(
        store: AggregateStore,
        services: A::Services,
        wake: RelayWake,
        options: ServiceOptions,
    ) -> Self {
        Self { store, services, wake, options, slots: Mutex::new(HashMap::new()) }
    }

    pub fn store(&self) -> &AggregateStore {
        &self.store
    }

    /// Runs `command` on aggregate `id` and commits its events.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
    ) -> Result<Executed<A, ()>, CommandError<A::Error>> {
        self.execute_and_read(id, command, metadata, |_| ()).await
    }

    /// Like [`Self::execute`], then `read` sees the aggregate as committed (for
    /// answers such as "this client_msg_id was already sent as message X").
    #[tracing::instrument(name = "command", skip_all, fields(aggregate = A::TYPE, id))]
    pub async fn execute_and_read<R>(
        &self,
        id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
        read: impl FnOnce(&A) -> R,
    ) -> Result<Executed<A, R>, CommandError<A::Error>> {
        let started = Instant::now();
        let result = self.run(id, command, metadata, read).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Conflict { .. }) => "conflict",
            Err(CommandError::Store(_)) => "error",
        };
        metrics::counter!("ciphertalk_commands_total", "aggregate" => A::TYPE, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("ciphertalk_command_duration_seconds", "aggregate" => A::TYPE)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn run<R>(
        &self,
        id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
        read: impl FnOnce(&A) -> R,
    ) -> Result<Executed<A, R>, CommandError<A::Error>> {
        let slot = self.slot(id);
        let mut cached = slot.lock().await;
        // Taken out of the slot: on any error below the slot stays empty and
        // the next command reloads from the store rather than trusting it.
        let (mut loaded, mut fresh) = match cached.take() {
            Some(loaded) => (loaded, false),
            None => (self.store.load::<A>(id).await?, true),
        };
        // Events read by this call: all of a fresh load, only catch-ups of a cached one.
        let read_before = if fresh { 0 } else { loaded.events_read };
        let metadata = metadata.to_map();
        for attempt in 1..=self.options.max_attempts {
            let mut candidate = loaded.aggregate.clone();
            let sink = EventSink::default();
            if let Err(rejection) = candidate.handle(command.clone(), &self.services, &sink).await {
                // A rejection from cached state may come from a write made by
                // another process since; decide on fresh state before refusing.
                if !fresh {
                    let before = loaded.sequence;
                    self.store.catch_up(id, &mut loaded).await?;
                    fresh = true;
                    if loaded.sequence != before {
                        continue;
                    }
                }
                *cached = Some(loaded);
                return Err(CommandError::Rejected(rejection));
            }
            let events = sink.collect().await;
            match self.store.commit(id, loaded.sequence, &candidate, events, &metadata).await {
                Ok(envelopes) => {
                    if !envelopes.is_empty() {
                        self.wake.notify();
                    }
                    loaded.sequence += envelopes.len();
                    loaded.aggregate = candidate;
                    let executed = Executed {
                        sequence: loaded.sequence,
                        replayed: loaded.events_read - read_before,
                        read: read(&loaded.aggregate),
                        events: envelopes,
                    };
                    *cached = Some(loaded);
                    return Ok(executed);
                }
                Err(StoreError::Conflict) => {
                    metrics::counter!("ciphertalk_command_conflicts_total", "aggregate" => A::TYPE)
                        .increment(1);
                    self.store.catch_up(id, &mut loaded).await?;
                    fresh = true;
                    // Jitter so that writers in several processes stop colliding.
                    let ceiling = 2u64 << attempt.min(6);
                    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..ceiling * 100))).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
        *cached = Some(loaded);
        Err(CommandError::Conflict { attempts: self.options.max_attempts })
    }

    /// The lock and cached state of one aggregate. When the cache is full, the
    /// idle entries are dropped (an entry in use is held by its `Arc` clone).
    fn slot(&self, id: &str) -> Slot<A> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(id) {
            return slot.clone();
        }
        if slots.len() >= self.options.cache_capacity {
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        let slot = Slot::<A>::default();
        slots.insert(id.to_owned(), slot.clone());
        slot
    }

    /// Loads an aggregate for reading, bypassing the cache (tests, admin tools).
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, StoreError> {
        self.store.load(id).await
    }
}
