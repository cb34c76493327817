//! Executes commands against one kind of aggregate.
//!
//! Commands on the same aggregate are serialised inside this process (one lock
//! per aggregate), so they never conflict with each other; the loaded state is
//! kept between commands so a hot room is not re-read for every message.
//! Commands that queue up behind a busy aggregate are decided one after the
//! other and committed together in one transaction (group commit), so a hot
//! room pays one Postgres commit per batch rather than per message.
//! Writers in other processes are caught by the event store's optimistic
//! concurrency: a conflict re-reads only the events committed since, and the
//! command is retried a bounded number of times before it is answered 409.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, EventEnvelope};
use tokio::sync::oneshot;

use crate::metadata::CommandMetadata;
use crate::relay::RelayWake;
use crate::store::{AggregateStore, Loaded, StoreError};
use crate::unique_key::UniqueKey;

#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Attempts at a command that keeps meeting concurrent writers.
    pub max_attempts: u32,
    /// Aggregates whose state stays loaded between commands.
    pub cache_capacity: usize,
    /// Most commands on one aggregate committed in one transaction.
    pub max_batch: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self { max_attempts: 10, cache_capacity: 10_000, max_batch: 64 }
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
    /// The event store holds an earlier event with a unique key this
    /// command's events repeat ([`StoreError::Duplicate`]): the caller looks
    /// up that earlier event (a send retried beyond the idempotency window).
    #[error("the command repeats one committed before")]
    Duplicate,
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

/// What a committed command's caller gets back from whoever committed it.
struct Committed<A: Aggregate> {
    events: Vec<EventEnvelope<A>>,
    sequence: usize,
    replayed: usize,
    aggregate: Arc<A>,
}

type Outcome<A> = Result<Committed<A>, CommandError<<A as Aggregate>::Error>>;

/// A command waiting for its aggregate.
struct Queued<A: Aggregate> {
    command: A::Command,
    metadata: HashMap<String, String>,
    reply: oneshot::Sender<Outcome<A>>,
}

/// An aggregate's committed state, shared with the callers that read it after
/// their command: one clone per batch (the candidate), not one per reader.
struct Current<A> {
    aggregate: Arc<A>,
    sequence: usize,
    events_read: usize,
    /// When this state was last known to be the committed one: loaded,
    /// caught up, or committed to (an optimistic commit proves nobody else
    /// had written).
    confirmed_at: Instant,
}

impl<A> From<Loaded<A>> for Current<A> {
    fn from(loaded: Loaded<A>) -> Self {
        Self {
            aggregate: Arc::new(loaded.aggregate),
            sequence: loaded.sequence,
            events_read: loaded.events_read,
            confirmed_at: Instant::now(),
        }
    }
}

/// One aggregate: its loaded state (the lock) and the commands queued for it.
struct AggregateSlot<A: Aggregate> {
    state: tokio::sync::Mutex<Option<Current<A>>>,
    queue: Mutex<VecDeque<Queued<A>>>,
    /// The highest sequence another process is known to have committed (its
    /// event reached this one over NATS): a cached state below it is not trusted.
    written_elsewhere: AtomicUsize,
}

impl<A: Aggregate> AggregateSlot<A> {
    fn take_batch(&self, max: usize) -> Vec<Queued<A>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let n = queue.len().min(max.max(1));
        queue.drain(..n).collect()
    }
}

type Slot<A> = Arc<AggregateSlot<A>>;

/// Answers every command of a batch that failed as a whole.
fn answer_all<A: Aggregate>(batch: Vec<Queued<A>>, err: &StoreError) {
    for queued in batch {
        let _ = queued.reply.send(Err(CommandError::Store(StoreError::Batch(err.to_string()))));
    }
}

pub struct CommandService<A: Aggregate> {
    store: AggregateStore,
    services: A::Services,
    wake: RelayWake,
    options: ServiceOptions,
    slots: Mutex<HashMap<String, Slot<A>>>,
    /// States confirmed before this instant are not trusted (see
    /// [`Self::forget_confirmations`]).
    forgotten_at: Mutex<Option<Instant>>,
}

impl<A> CommandService<A>
where
    A: Aggregate<Event: UniqueKey> + Clone,
    A::Command: Clone,
{
    pub fn new(
        store: AggregateStore,
        services: A::Services,
        wake: RelayWake,
        options: ServiceOptions,
    ) -> Self {
        Self {
            store,
            services,
            wake,
            options,
            slots: Mutex::new(HashMap::new()),
            forgotten_at: Mutex::new(None),
        }
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
    // Debug level: a send already runs in the request's and its handler's spans, and
    // every span at the enabled level costs its fields' formatting.
    #[tracing::instrument(name = "command", level = "debug", skip_all, fields(aggregate = A::TYPE, id))]
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
            Err(CommandError::Duplicate) => "duplicate",
            Err(CommandError::Store(_)) => "error",
        };
        metrics::counter!("ciphertalk_command_executions_total", "aggregate" => A::TYPE, "outcome" => outcome)
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
        let (reply, mut outcome) = oneshot::channel();
        slot.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(Queued {
            command,
            metadata: metadata.to_map(),
            reply,
        });
        // Whoever holds the aggregate commits everything queued for it in one
        // transaction; the others find their outcome ready when they get here.
        let committed = loop {
            tokio::select! {
                biased;
                result = &mut outcome => break result,
                mut state = slot.state.lock() => {
                    if let Ok(result) = outcome.try_recv() {
                        break Ok(result);
                    }
                    let batch = slot.take_batch(self.options.max_batch);
                    for queued in self.process(id, &mut state, batch).await {
                        // A repeated unique key: each is decided on its own,
                        // so only the command that repeats it is refused.
                        let _ = self.process(id, &mut state, vec![queued]).await;
                    }
                }
            }
        };
        let committed =
            committed.map_err(|_| CommandError::Store(StoreError::Batch("abandoned".into())))??;
        Ok(Executed {
            events: committed.events,
            sequence: committed.sequence,
            replayed: committed.replayed,
            read: read(&committed.aggregate),
        })
    }

    /// Decides and commits a batch of queued commands, answering each; or,
    /// when several were committed together and one repeats a unique key,
    /// answers none and returns them all to be decided one by one.
    async fn process(
        &self,
        id: &str,
        cached: &mut Option<Current<A>>,
        mut batch: Vec<Queued<A>>,
    ) -> Vec<Queued<A>> {
        if batch.is_empty() {
            return Vec::new();
        }
        // Taken out of the slot: on any error below the slot stays empty and
        // the next command reloads from the store rather than trusting it.
        let (mut loaded, mut fresh) = match cached.take() {
            Some(loaded) => (loaded, false),
            None => match self.store.load::<A>(id).await {
                Ok(loaded) => (loaded.into(), true),
                Err(err) => {
                    answer_all(batch, &err);
                    return Vec::new();
                }
            },
        };
        // Events read for this batch: all of a fresh load, only catch-ups of a cached one.
        let read_before = if fresh { 0 } else { loaded.events_read };
        let mut attempt = 0;
        while attempt < self.options.max_attempts {
            attempt += 1;
            let mut candidate = A::clone(&loaded.aggregate);
            let mut decided = Vec::with_capacity(batch.len());
            for queued in &batch {
                let sink = EventSink::default();
                match candidate.handle(queued.command.clone(), &self.services, &sink).await {
                    Ok(()) => decided.push(Ok(sink.collect().await)),
                    Err(rejection) => decided.push(Err(rejection)),
                }
            }
            // A rejection from cached state may come from a write made by
            // another process since; decide on fresh state before refusing.
            if !fresh && decided.iter().any(Result::is_err) {
                let before = loaded.sequence;
                if let Err(err) = self.catch_up(id, &mut loaded).await {
                    answer_all(batch, &err);
                    return Vec::new();
                }
                fresh = true;
                if loaded.sequence != before {
                    continue;
                }
            }
            let to_commit: Vec<_> = decided
                .iter()
                .zip(&batch)
                .filter_map(|(events, queued)| Some((events.as_ref().ok()?.clone(), queued.metadata.clone())))
                .collect();
            match self.store.commit_batch(id, loaded.sequence, &candidate, to_commit).await {
                Ok(envelopes) => {
                    let count: usize = envelopes.iter().map(Vec::len).sum();
                    if count > 0 {
                        self.wake.notify();
                    }
                    let base = loaded.sequence;
                    loaded.sequence += count;
                    loaded.aggregate = Arc::new(candidate);
                    loaded.confirmed_at = Instant::now();
                    let replayed = loaded.events_read - read_before;
                    let shared = loaded.aggregate.clone();
                    *cached = Some(loaded);
                    let mut envelopes = envelopes.into_iter();
                    let mut sequence = base;
                    for (decision, queued) in decided.into_iter().zip(batch) {
                        let result = match decision {
                            Ok(_) => {
                                let events = envelopes.next().unwrap_or_default();
                                sequence += events.len();
                                Ok(Committed { events, sequence, replayed, aggregate: shared.clone() })
                            }
                            Err(rejection) => Err(CommandError::Rejected(rejection)),
                        };
                        let _ = queued.reply.send(result);
                    }
                    return Vec::new();
                }
                Err(StoreError::Duplicate) => {
                    *cached = Some(loaded);
                    if batch.len() > 1 {
                        return batch;
                    }
                    for queued in batch {
                        let _ = queued.reply.send(Err(CommandError::Duplicate));
                    }
                    return Vec::new();
                }
                Err(StoreError::Conflict) => {
                    metrics::counter!("ciphertalk_command_conflicts_total", "aggregate" => A::TYPE)
                        .increment(1);
                    if let Err(err) = self.catch_up(id, &mut loaded).await {
                        answer_all(batch, &err);
                        return Vec::new();
                    }
                    fresh = true;
                    // Jitter so that writers in several processes stop colliding.
                    let ceiling = 2u64 << attempt.min(6);
                    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..ceiling * 100))).await;
                }
                Err(refusal @ (StoreError::TooLarge { .. } | StoreError::Unpublishable { .. })) => {
                    // Only that command is refused; the rest are decided
                    // again without it (not an attempt: nobody else wrote).
                    let command = refusal.refused_command().unwrap_or_default();
                    let Some(index) =
                        decided.iter().enumerate().filter(|(_, d)| d.is_ok()).map(|(i, _)| i).nth(command)
                    else {
                        answer_all(batch, &refusal);
                        return Vec::new();
                    };
                    let refused = batch.remove(index);
                    let _ = refused.reply.send(Err(CommandError::Store(refusal.for_command_alone())));
                    if batch.is_empty() {
                        *cached = Some(loaded);
                        return Vec::new();
                    }
                    attempt -= 1;
                }
                Err(err) => {
                    answer_all(batch, &err);
                    return Vec::new();
                }
            }
        }
        *cached = Some(loaded);
        for queued in batch {
            let _ = queued.reply.send(Err(CommandError::Conflict { attempts: self.options.max_attempts }));
        }
        Vec::new()
    }

    /// Applies the events committed after `current` by other processes.
    async fn catch_up(&self, id: &str, current: &mut Current<A>) -> Result<(), StoreError> {
        let mut loaded = Loaded {
            aggregate: A::clone(&current.aggregate),
            sequence: current.sequence,
            events_read: current.events_read,
        };
        // Confirmed as of the query, not of its answer.
        let asked = Instant::now();
        self.store.catch_up(id, &mut loaded).await?;
        *current = loaded.into();
        current.confirmed_at = asked;
        Ok(())
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
        let slot = Arc::new(AggregateSlot {
            state: tokio::sync::Mutex::new(None),
            queue: Mutex::new(VecDeque::new()),
            written_elsewhere: AtomicUsize::new(0),
        });
        slots.insert(id.to_owned(), slot.clone());
        slot
    }

    /// Reads the aggregate as committed now, wherever it was written: a copy
    /// of the cached state brought up to date (one query for the events after
    /// it), or a load when it is not cached. For checks that must not trust a
    /// read model that may lag (who is a member right now). The aggregate's
    /// lock is held only to copy the cached state: commands queued on it never
    /// wait for this read's query.
    pub async fn read<R>(&self, id: &str, read: impl FnOnce(&A) -> R) -> Result<R, StoreError> {
        self.read_confirmed_within(id, Duration::ZERO, read).await
    }

    /// Like [`Self::read`], but a cached state confirmed as committed less
    /// than `max_age` ago is read without a query. Every commit made through
    /// this process confirms it at once, and writes of other processes that
    /// are announced ([`Self::written_elsewhere`]) end the trust at once, so
    /// only unannounced writes can go unseen, and for at most `max_age`. For the check every request
    /// makes (is the session's device still the user's, are they suspended),
    /// where one query per request would double the database's work per message.
    /// Each aggregate is trusted for a share of `max_age` of its own (see
    /// [`trusted_for`]).
    pub async fn read_confirmed_within<R>(
        &self,
        id: &str,
        max_age: Duration,
        read: impl FnOnce(&A) -> R,
    ) -> Result<R, StoreError> {
        let slot = self.slot(id);
        let forgotten_at = *self.forgotten_at.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = {
            let state = slot.state.lock().await;
            match state.as_ref() {
                Some(current)
                    if !max_age.is_zero()
                        && current.confirmed_at.elapsed() < trusted_for(max_age, id)
                        && forgotten_at.is_none_or(|forgotten| current.confirmed_at > forgotten)
                        && current.sequence >= slot.written_elsewhere.load(Ordering::Acquire) =>
                {
                    return Ok(read(&current.aggregate));
                }
                Some(current) => Some(Current {
                    aggregate: current.aggregate.clone(),
                    sequence: current.sequence,
                    events_read: current.events_read,
                    confirmed_at: current.confirmed_at,
                }),
                None => None,
            }
        };
        let current = match cached {
            Some(mut current) => {
                self.catch_up(id, &mut current).await?;
                current
            }
            None => self.store.load::<A>(id).await?.into(),
        };
        let answer = read(&current.aggregate);
        if !max_age.is_zero() {
            // Kept for the next reads, unless a command moved the slot on meanwhile.
            let mut state = slot.state.lock().await;
            if state.as_ref().is_none_or(|cached| cached.sequence <= current.sequence) {
                *state = Some(current);
            }
        }
        Ok(answer)
    }

    /// Another process committed the aggregate up to `sequence` (its event
    /// reached this one over NATS): a cached state older than that is no
    /// longer trusted by [`Self::read_confirmed_within`], which catches up.
    pub fn written_elsewhere(&self, id: &str, sequence: usize) {
        let slot = self.slots.lock().unwrap_or_else(PoisonError::into_inner).get(id).cloned();
        if let Some(slot) = slot {
            slot.written_elsewhere.fetch_max(sequence, Ordering::AcqRel);
        }
    }

    /// Trusts no state confirmed before now (writes of other processes may
    /// have gone unannounced, e.g. while NATS was disconnected).
    pub fn forget_confirmations(&self) {
        *self.forgotten_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    /// Loads an aggregate for reading, bypassing the cache (tests, admin tools).
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, StoreError> {
        self.store.load(id).await
    }
}

/// How long a cached aggregate confirmed together with others is trusted:
/// `max_age` less up to half of it, a share fixed by the aggregate's id. Users
/// who signed in together (all clients reconnecting after a restart) are then
/// not all read again in the same instant, every `max_age`.
fn trusted_for(max_age: Duration, id: &str) -> Duration {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    let share = (hasher.finish() % 1024) as f64 / 2048.0;
    max_age.mul_f64(1.0 - share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_confirmed_together_are_trusted_for_spread_out_times_within_the_bound() {
        let max_age = Duration::from_secs(10);
        let trusted: Vec<Duration> =
            (0..1000).map(|n| trusted_for(max_age, &uuid::Uuid::from_u128(n).to_string())).collect();
        let (shortest, longest) = (trusted.iter().min().copied(), trusted.iter().max().copied());
        assert!(shortest.is_some_and(|shortest| shortest >= max_age / 2), "{shortest:?}");
        assert!(longest.is_some_and(|longest| longest <= max_age), "{longest:?}");
        // Spread over the half they may take, not bunched.
        let within_each_second =
            |second: u64| trusted.iter().filter(|trusted| trusted.as_secs() == second).count();
        for second in 5..10 {
            assert!(
                (150..=250).contains(&within_each_second(second)),
                "{second}: {}",
                within_each_second(second)
            );
        }
        assert_eq!(trusted_for(max_age, "a"), trusted_for(max_age, "a"));
    }
}
