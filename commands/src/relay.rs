//! The relay: moves every committed event from the Postgres event store into
//! JetStream CHAT_EVENTS, exactly once and in order.
//!
//! Ordering. Events are read in `(tx_id, position)` order and only from
//! transactions older than every transaction still in flight
//! (`tx_id < pg_snapshot_xmin(pg_current_snapshot())`). A transaction that
//! commits late therefore cannot leave rows behind the cursor: while it runs it
//! holds the horizon back, and any transaction that starts later gets a larger
//! id. Within an aggregate, sequence n+1 is written by a transaction that read
//! n committed, so its id is larger: per-aggregate order is preserved.
//!
//! Exactly once. Each publish carries `Nats-Msg-Id =
//! <aggregate_type>:<aggregate_id>:<sequence>` and
//! `Nats-Expected-Last-Sequence` = the stream sequence the previous event got.
//! JetStream refuses a publish whose predecessor is not the one expected, so a
//! lost or failed publish can never be overtaken by a later one, and a second
//! relay (two processes briefly both leading) cannot interleave; batches go out
//! as one [`chain`], acknowledged every few hundred events. After any
//! failure the relay re-reads where the stream ends (the `Ct-Log-Position`
//! header of its last message) and resumes right after it, so it depends on
//! neither the de-duplication window nor its own cursor having been saved
//! (it is saved once a second).
//!
//! Wake-up. Commands in this process wake the relay directly; commands in other
//! processes publish a core-NATS wake message; a slow poll covers the rest. A
//! round that finds events held back by an older transaction looks again within
//! milliseconds, since that transaction's commit may wake nobody.
//!
//! Never stuck in silence. Held back longer than the alarm (any session of
//! the cluster idle in a transaction does it), the relay logs the backend
//! holding it and reports itself on `/health`; failing round after round on
//! the same event, likewise (see [`ciphertalk_streams::Stalls`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::{
    ChainError, JetStreamError, Link, LogPosition, Stalls, WireEvent, WithKind, chain, subjects,
};
use futures::StreamExt;
use serde_json::value::RawValue;
use sqlx::{PgConnection, PgPool, Row, postgres::PgRow, types::Json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Core-NATS subject on which writers in any process wake the relay.
pub const WAKE_SUBJECT: &str = "chat.relay.wake";
const CURSOR_NAME: &str = "chat_events";
/// Advisory-lock key of relay leadership (one relay publishes at a time).
const LEADER_LOCK: i64 = 0x0063_7472_656c_6179; // "ctrelay"

/// Wakes the relay after a commit.
#[derive(Clone, Default)]
pub struct RelayWake {
    local: Arc<Notify>,
    nats: Option<async_nats::Client>,
    /// The relay of this process leads: no other process needs waking.
    leading_here: Arc<AtomicBool>,
    /// A NATS wake-up is on its way: later commits ride along with it.
    sending: Arc<AtomicBool>,
}

impl std::fmt::Debug for RelayWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayWake").field("nats", &self.nats.is_some()).finish()
    }
}

impl RelayWake {
    /// Also wakes relays in other processes through core NATS.
    pub fn with_nats(client: async_nats::Client) -> Self {
        Self { nats: Some(client), ..Self::default() }
    }

    pub fn notify(&self) {
        self.local.notify_one();
        if self.leading_here.load(Ordering::Relaxed) {
            return;
        }
        if let Some(client) = &self.nats
            && !self.sending.swap(true, Ordering::AcqRel)
        {
            let (client, sending) = (client.clone(), self.sending.clone());
            // Fire and forget: the relay's poll covers a lost wake-up.
            tokio::spawn(async move {
                let _ = client.publish(WAKE_SUBJECT, Bytes::new()).await;
                sending.store(false, Ordering::Release);
            });
        }
    }
}

#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Events read and published per round (pipelined, acknowledged together).
    pub batch_size: i64,
    /// How often an idle relay looks for events nobody woke it for.
    pub idle_poll: Duration,
    /// Fault injection for tests: publish at most this many events of the
    /// first batch, then abort the process before the cursor is saved.
    pub abort_after_publishing: Option<usize>,
    /// Where the relay reports itself stuck.
    pub stalls: Stalls,
    /// Failed rounds at one position before the relay is reported stuck.
    pub stall_rounds: u32,
    /// Held back this long, the relay names the holder and reports itself stuck.
    pub held_back_alarm: Duration,
    /// The NATS client's reconnections: a round in flight then is given up
    /// (its acks were lost with the connection) and resynced at once.
    pub reconnects: ciphertalk_streams::connect::Reconnects,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            idle_poll: Duration::from_millis(200),
            abort_after_publishing: None,
            stalls: Stalls::default(),
            stall_rounds: 10,
            held_back_alarm: Duration::from_secs(10),
            reconnects: Default::default(),
        }
    }
}

/// The relay's name in [`Stalls`] while it fails round after round on one event.
pub const STALL_FAILING: &str = "relay";
/// The relay's name in [`Stalls`] while an older transaction holds it back.
pub const STALL_HELD_BACK: &str = "relay_held_back";

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("jetstream: {0}")]
    JetStream(#[from] JetStreamError),
    #[error(transparent)]
    Envelope(#[from] ciphertalk_streams::EnvelopeError),
    #[error("jetstream: {0}")]
    Chain(#[from] ChainError),
    /// CHAT_EVENTS holds less than the relay published into it (its store was
    /// lost or restored from an older copy): publishing on would leave the
    /// missing events out of the log for good, and give later events the
    /// sequences the projections have already applied.
    #[error(
        "CHAT_EVENTS ends at {stream} but the relay had published up to {published}: \
         its store was lost; run `ciphertalk relay rebuild`"
    )]
    StreamBehind { stream: LogPosition, published: LogPosition },
    /// CHAT_EVENTS ends before the sequence the projections have applied:
    /// lost as above, found whatever the relay's saved cursor says.
    #[error(
        "CHAT_EVENTS ends at sequence {stream_last_seq} but the projections have applied up to \
         {applied}: its store was lost; run `ciphertalk relay rebuild`"
    )]
    StreamShort { stream_last_seq: u64, applied: u64 },
}

impl RelayError {
    /// Whether the leadership connection may be broken (a Postgres failure):
    /// the relay then takes the lock again on a fresh one.
    fn ends_leadership(&self) -> bool {
        matches!(self, Self::Database(_))
    }
}

pub struct Relay {
    pool: PgPool,
    client: async_nats::Client,
    js: jetstream::Context,
    wake: RelayWake,
    options: RelayOptions,
}

/// Where [`Relay::rebuild_from_stream`] made the relay resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuild {
    /// The log position of the last event CHAT_EVENTS holds (zero when empty).
    pub resume: LogPosition,
    /// The stream sequence of that event.
    pub stream_last_seq: u64,
    /// Events of the log after it, to be published again.
    pub pending: u64,
}

/// The end of CHAT_EVENTS as the relay reads it.
enum Tail {
    /// Nothing was ever stored (a new stream, or a lost store).
    Empty,
    /// The log position of the last message stored.
    Event(LogPosition),
    /// The last message was removed (aged out, deleted by an operator), its
    /// sequence kept.
    Gone,
}

/// The highest CHAT_EVENTS sequence any projection has applied.
async fn projections_applied(conn: &mut PgConnection) -> Result<u64, RelayError> {
    let applied: i64 = sqlx::query_scalar("SELECT COALESCE(max(stream_seq), 0) FROM projection_offsets")
        .fetch_one(conn)
        .await?;
    Ok(u64::try_from(applied).unwrap_or_default())
}

async fn stream_tail(stream: &mut jetstream::stream::Stream, last_seq: u64) -> Result<Tail, RelayError> {
    if last_seq == 0 {
        return Ok(Tail::Empty);
    }
    match stream.get_raw_message(last_seq).await {
        Ok(message) => {
            Ok(WireEvent::position_from_headers(&message.headers)?.map_or(Tail::Gone, Tail::Event))
        }
        Err(_) => Ok(Tail::Gone),
    }
}

/// What a relay round found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Events published: look again at once.
    Published,
    /// Events committed but behind an older transaction still in flight.
    HeldBack,
    /// Nothing committed since the last round.
    Idle,
}

/// First wait after a round that found events held back; doubles up to
/// [`HELD_BACK_POLL_MAX`]. Kept short: once senders pause, no new commit may
/// come to wake the relay, and the held-back events would wait for the idle
/// poll (a doubling up to it was measured adding 250 ms at the tail).
const HELD_BACK_POLL: Duration = Duration::from_millis(1);
const HELD_BACK_POLL_MAX: Duration = Duration::from_millis(8);

/// How often the relay saves its cursor (an idle relay still runs a round
/// every `idle_poll`, so the saved cursor is at most about this far behind).
/// The cursor is a hint (see [`Relay::sync`]): saving it every round was a
/// statement and a commit per round.
const CURSOR_SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where the relay stands: the last event published and the stream sequence it got.
#[derive(Debug, Clone, Copy)]
struct Progress {
    cursor: LogPosition,
    stream_last_seq: u64,
    /// The cursor as `relay_cursor` holds it.
    saved: LogPosition,
}

impl Relay {
    pub fn new(pool: PgPool, client: async_nats::Client, wake: RelayWake, options: RelayOptions) -> Self {
        let js = jetstream::new(client.clone());
        Self { pool, client, js, wake, options }
    }

    /// Runs until `shutdown`: waits for leadership, then relays, recovering from
    /// NATS or Postgres outages by itself.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wake_messages = match self.client.subscribe(WAKE_SUBJECT).await {
            Ok(sub) => Some(sub),
            Err(err) => {
                tracing::warn!(error = %err, "relay cannot subscribe to wake-ups; polling only");
                None
            }
        };
        let local = self.wake.local.clone();
        let mut woken = async |poll: Duration| {
            tokio::select! {
                () = local.notified() => {}
                Some(_) = async { match wake_messages.as_mut() { Some(s) => s.next().await, None => None } } => {}
                () = tokio::time::sleep(poll) => {}
            }
        };
        // A round that finds events held back by an older transaction still in
        // flight looks again soon: that transaction's commit may wake nobody
        // (it need not be a command's).
        let mut held_back_poll = HELD_BACK_POLL;
        let mut backoff = Duration::from_millis(50);
        let mut leader: Option<PgConnection> = None;
        let mut progress: Option<Progress> = None;
        let mut lag_recorded = Instant::now();
        let mut cursor_saved = Instant::now();
        let mut failing = self.options.stalls.tracker(STALL_FAILING, self.options.stall_rounds);
        let mut held = HeldBack::default();
        // Where the relay stood last (kept across the resyncs after failures).
        let mut at = LogPosition::default();
        let mut reconnects = self.options.reconnects.clone();
        while !shutdown.is_cancelled() {
            let round = async {
                if leader.is_none() {
                    leader = self.try_lead().await?;
                    self.wake.leading_here.store(leader.is_some(), Ordering::Relaxed);
                    progress = None;
                }
                // The relay's queries run on its leadership connection: no pool
                // round trips (sqlx pings a pooled connection on every release).
                let Some(conn) = leader.as_mut() else { return Ok(Round::Idle) };
                let current = match progress {
                    Some(p) => p,
                    None => self.sync(conn).await?,
                };
                let (mut next, round) = self.publish_batch(conn, current).await?;
                if next.saved != next.cursor && cursor_saved.elapsed() >= CURSOR_SAVE_EVERY {
                    self.save_cursor(conn, next.cursor).await?;
                    next.saved = next.cursor;
                    cursor_saved = Instant::now();
                }
                progress = Some(next);
                Ok::<Round, RelayError>(round)
            };
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                () = reconnects.next() => {
                    tracing::info!("NATS reconnected; the relay resyncs");
                    // The round may have stopped mid-query: its connection goes too.
                    progress = None;
                    leader = None;
                    self.wake.leading_here.store(false, Ordering::Relaxed);
                    backoff = Duration::from_millis(50);
                    continue;
                }
                outcome = round => outcome,
            };
            // Counting the lag is a query: once a second is enough.
            if outcome.is_ok()
                && lag_recorded.elapsed() > Duration::from_secs(1)
                && let Some(conn) = leader.as_mut()
            {
                self.record_lag(conn, progress.map(|p| p.cursor)).await;
                lag_recorded = Instant::now();
            }
            if let Some(p) = progress {
                at = p.cursor;
            }
            match &outcome {
                Ok(round) => {
                    failing.progressed();
                    self.watch_held_back(&mut held, *round == Round::HeldBack, leader.as_mut()).await;
                }
                Err(err) => failing.failed(&at, err),
            }
            match outcome {
                Ok(Round::Published) => {
                    backoff = Duration::from_millis(50);
                    held_back_poll = HELD_BACK_POLL;
                }
                Ok(Round::HeldBack) => {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = woken(held_back_poll) => {}
                    }
                    held_back_poll = (held_back_poll * 2).min(HELD_BACK_POLL_MAX);
                }
                Ok(Round::Idle) => {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = woken(self.options.idle_poll) => {}
                    }
                }
                Err(err) => {
                    metrics::counter!("ciphertalk_relay_errors_total").increment(1);
                    tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "relay round failed; resyncing");
                    progress = None;
                    if err.ends_leadership() {
                        leader = None;
                        self.wake.leading_here.store(false, Ordering::Relaxed);
                    }
                    // A wake-up (a commit, NATS reconnecting) cuts the pause short.
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = local.notified() => {}
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.wake.leading_here.store(false, Ordering::Relaxed);
        tracing::info!("relay stopped");
    }

    /// Keeps the held-back time (metric) and, past the alarm, names the
    /// backend holding the horizon (log, `/health`) once per alarm period.
    async fn watch_held_back(&self, held: &mut HeldBack, held_back: bool, conn: Option<&mut PgConnection>) {
        if !held_back {
            if held.since.take().is_some_and(|since| since.elapsed() >= HELD_BACK_SHOWN_AFTER) {
                metrics::gauge!("ciphertalk_relay_held_back_seconds").set(0.0);
                self.options.stalls.clear(STALL_HELD_BACK);
                held.named = None;
            }
            return;
        }
        let elapsed = held.since.get_or_insert_with(Instant::now).elapsed();
        let seconds = elapsed.as_secs_f64();
        // Held back for milliseconds is the normal case under load (a commit in flight).
        if elapsed >= HELD_BACK_SHOWN_AFTER {
            metrics::gauge!("ciphertalk_relay_held_back_seconds").set(seconds);
        }
        let alarm = self.options.held_back_alarm;
        if elapsed < alarm || held.named.is_some_and(|named| named.elapsed() < alarm) {
            return;
        }
        held.named = Some(Instant::now());
        let holder = match conn {
            Some(conn) => oldest_transaction(conn).await,
            None => None,
        };
        let reason = match &holder {
            Some(h) => {
                let (name, state) =
                    (h.application_name.as_deref().unwrap_or(""), h.state.as_deref().unwrap_or(""));
                let transaction_secs = h.transaction_secs.unwrap_or_default() as u64;
                tracing::warn!(held_back_secs = seconds as u64, pid = h.pid, application_name = %name,
                    state = %state, transaction_secs,
                    "relay held back: events wait for an older transaction still open");
                format!(
                    "held back {}s by backend pid {} (application_name {name:?}, state {state:?}, in its transaction for {transaction_secs}s)",
                    seconds as u64, h.pid
                )
            }
            None => {
                tracing::warn!(
                    held_back_secs = seconds as u64,
                    "relay held back by an older transaction; no session shows it (a prepared transaction?)"
                );
                format!("held back {}s by an older transaction", seconds as u64)
            }
        };
        self.options.stalls.report(STALL_HELD_BACK, reason);
    }

    /// Takes the leadership lock on a dedicated connection, if free. The
    /// connection is detached from the pool: dropping it closes it, which
    /// releases the lock (a pooled one would go back to the pool still holding it).
    async fn try_lead(&self) -> Result<Option<PgConnection>, RelayError> {
        let mut conn = self.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if locked {
            // The saved cursor is a hint: a leader resumes after the stream's
            // own last event when that is further (see `sync`), so a cursor
            // write lost with a crash costs nothing, and need not wait for
            // the disk (nor queue with the event writers' commits for it).
            sqlx::query("SET synchronous_commit = off").execute(&mut conn).await?;
            tracing::info!("relay is leading");
            Ok(Some(conn))
        } else {
            Ok(None)
        }
    }

    /// Finds where to resume: after whichever is further, the saved cursor or
    /// the last event the stream actually holds.
    async fn sync(&self, conn: &mut PgConnection) -> Result<Progress, RelayError> {
        let saved = self.saved_cursor(conn).await?;
        let mut stream =
            self.js.get_stream(subjects::EVENTS_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
        let last_seq = stream.info().await.map_err(|err| err.with_kind(Js::Stream))?.state.last_sequence;
        // The truth of what the stream held: the projections applied it (the
        // saved cursor may trail what was published by a few hundred ms).
        let applied = projections_applied(conn).await?;
        if last_seq < applied && self.refill_through(conn).await? < applied {
            return Err(RelayError::StreamShort { stream_last_seq: last_seq, applied });
        }
        let cursor = match stream_tail(&mut stream, last_seq).await? {
            Tail::Event(tail) if tail > saved => {
                tracing::info!(%tail, %saved, "stream is ahead of the saved cursor; resuming after the stream");
                self.save_cursor(conn, tail).await?;
                tail
            }
            // The saved cursor only ever trails what the stream holds.
            Tail::Event(tail) if tail < saved => {
                return Err(RelayError::StreamBehind { stream: tail, published: saved });
            }
            Tail::Empty if saved > LogPosition::default() => {
                return Err(RelayError::StreamBehind { stream: LogPosition::default(), published: saved });
            }
            // Aged out or deleted by an operator: the saved cursor decides.
            Tail::Event(_) | Tail::Empty | Tail::Gone => saved,
        };
        Ok(Progress { cursor, stream_last_seq: last_seq, saved: cursor })
    }

    /// After CHAT_EVENTS lost events (see [`RelayError::StreamBehind`]): makes
    /// the relay resume right after the last event the stream still holds, so
    /// that whichever relay leads publishes the rest of the log again, in the
    /// same order and so at the same stream sequences as the first time (the
    /// projections' stored offsets stay true). Returns where it resumes and
    /// how many events it has to publish again.
    pub async fn rebuild_from_stream(&self) -> Result<Rebuild, RelayError> {
        let mut conn = self.pool.acquire().await?;
        let saved = self.saved_cursor(&mut conn).await?;
        let mut stream =
            self.js.get_stream(subjects::EVENTS_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
        let last_seq = stream.info().await.map_err(|err| err.with_kind(Js::Stream))?.state.last_sequence;
        let resume = match stream_tail(&mut stream, last_seq).await? {
            Tail::Event(tail) => tail,
            Tail::Empty => LogPosition::default(),
            // The stream's last message is gone but its sequence is not: the
            // events before it cannot be published again at their sequences.
            Tail::Gone => saved,
        };
        self.save_cursor(&mut conn, resume).await?;
        // The relay may now publish below what the projections applied: the
        // same events, in the same order, at the same sequences.
        let applied = projections_applied(&mut conn).await?;
        sqlx::query("UPDATE relay_cursor SET refill_through = GREATEST(refill_through, $2) WHERE name = $1")
            .bind(CURSOR_NAME)
            .bind(i64::try_from(applied).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?;
        let pending = self.pending_after(&mut conn, resume).await?;
        Ok(Rebuild { resume, stream_last_seq: last_seq, pending })
    }

    /// Events of the log after the saved cursor.
    pub async fn pending(&self) -> Result<u64, RelayError> {
        let mut conn = self.pool.acquire().await?;
        let saved = self.saved_cursor(&mut conn).await?;
        self.pending_after(&mut conn, saved).await
    }

    async fn pending_after(&self, conn: &mut PgConnection, position: LogPosition) -> Result<u64, RelayError> {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)",
        )
        .bind(i64::try_from(position.tx).unwrap_or(i64::MAX))
        .bind(i64::try_from(position.pos).unwrap_or(i64::MAX))
        .fetch_one(conn)
        .await?;
        Ok(u64::try_from(pending).unwrap_or_default())
    }

    async fn publish_batch(
        &self,
        conn: &mut PgConnection,
        progress: Progress,
    ) -> Result<(Progress, Round), RelayError> {
        // The events after the cursor whose transactions are older than every
        // one still in flight (`settled`), and, in the same statement, the
        // first one that is not: it tells a round with nothing committed from
        // one held back without a second query (ordered and limited, so that
        // it reads the log index from the cursor).
        let rows = sqlx::query(
            "WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
             (SELECT tx_id::text::bigint AS tx, position, aggregate_type, aggregate_id, sequence,
                     event_type, event_version, payload, metadata, recorded_at, true AS settled
                FROM events, horizon
               WHERE (tx_id, position) > ($1::bigint::text::xid8, $2) AND tx_id < horizon.xmin
               ORDER BY tx_id, position
               LIMIT $3)
             UNION ALL
             (SELECT tx_id::text::bigint, position, aggregate_type, aggregate_id, sequence,
                     event_type, event_version, payload, metadata, recorded_at, false
                FROM events, horizon
               WHERE (tx_id, position) > ($1::bigint::text::xid8, $2) AND tx_id >= horizon.xmin
               ORDER BY tx_id, position
               LIMIT 1)",
        )
        .bind(i64::try_from(progress.cursor.tx).unwrap_or(i64::MAX))
        .bind(i64::try_from(progress.cursor.pos).unwrap_or(i64::MAX))
        .bind(self.options.batch_size)
        .fetch_all(&mut *conn)
        .await?;
        let (rows, held_back): (Vec<PgRow>, Vec<PgRow>) =
            rows.into_iter().partition(|row| row.try_get::<bool, _>("settled").unwrap_or(false));
        if rows.is_empty() {
            return Ok((progress, if held_back.is_empty() { Round::Idle } else { Round::HeldBack }));
        }
        let started = Instant::now();
        let mut events = rows.iter().map(wire_event).collect::<Result<Vec<_>, _>>()?;
        if let Some(n) = self.options.abort_after_publishing {
            events.truncate(n);
        }
        let links = events
            .iter()
            .map(|event| {
                Ok(Link { subject: event.subject()?, headers: event.headers(), payload: event.to_body()? })
            })
            .collect::<Result<Vec<_>, RelayError>>()?;
        let last_seq = chain::publish(&self.js, progress.stream_last_seq, links).await?;
        if self.options.abort_after_publishing.is_some() {
            tracing::error!("fault injection: aborting after publishing {} events", events.len());
            std::process::abort();
        }
        let Some(last) = events.last() else { return Ok((progress, Round::Idle)) };
        metrics::counter!("ciphertalk_relay_events_published_total").increment(events.len() as u64);
        metrics::histogram!("ciphertalk_relay_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        tracing::trace!(events = events.len(), "relayed");
        Ok((Progress { cursor: last.position, stream_last_seq: last_seq, ..progress }, Round::Published))
    }

    async fn saved_cursor(&self, conn: &mut PgConnection) -> Result<LogPosition, RelayError> {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT tx, pos FROM relay_cursor WHERE name = $1")
            .bind(CURSOR_NAME)
            .fetch_optional(conn)
            .await?;
        Ok(row.map_or_else(LogPosition::default, |(tx, pos)| LogPosition {
            tx: u64::try_from(tx).unwrap_or_default(),
            pos: u64::try_from(pos).unwrap_or_default(),
        }))
    }

    /// The stream sequence up to which `relay rebuild` allowed a refill.
    async fn refill_through(&self, conn: &mut PgConnection) -> Result<u64, RelayError> {
        let through: Option<i64> =
            sqlx::query_scalar("SELECT refill_through FROM relay_cursor WHERE name = $1")
                .bind(CURSOR_NAME)
                .fetch_optional(conn)
                .await?;
        Ok(through.map_or(0, |seq| u64::try_from(seq).unwrap_or_default()))
    }

    async fn save_cursor(&self, conn: &mut PgConnection, position: LogPosition) -> Result<(), RelayError> {
        sqlx::query(
            "INSERT INTO relay_cursor (name, tx, pos) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, pos = excluded.pos, updated_at = now()",
        )
        .bind(CURSOR_NAME)
        .bind(i64::try_from(position.tx).unwrap_or(i64::MAX))
        .bind(i64::try_from(position.pos).unwrap_or(i64::MAX))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Relay lag: events committed (or about to be) but not yet acknowledged by JetStream.
    async fn record_lag(&self, conn: &mut PgConnection, cursor: Option<LogPosition>) {
        let Some(cursor) = cursor else { return };
        if let Ok(lag) = count_after(conn, cursor, 1_000_000).await {
            metrics::gauge!("ciphertalk_relay_lag_events").set(lag as f64);
        }
    }
}

/// Events of the log after `position`, counted up to `limit` (ordered and
/// limited, so it reads the log index from the position on).
async fn count_after(conn: &mut PgConnection, position: LogPosition, limit: u64) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM events
           WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)
           ORDER BY tx_id, position LIMIT $3) AS pending",
    )
    .bind(i64::try_from(position.tx).unwrap_or(i64::MAX))
    .bind(i64::try_from(position.pos).unwrap_or(i64::MAX))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Where the relay stands as its saved cursor says (saved about once a
/// second, so up to a second behind what it has published).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayStanding {
    /// The last log position published; `None` before the relay first ran.
    pub cursor: Option<LogPosition>,
    pub saved_at: Option<DateTime<Utc>>,
    /// Events committed after the cursor, counted up to the `limit` given.
    pub pending: u64,
}

/// The relay's standing, for operators; `limit` bounds the count of pending events.
pub async fn standing(pool: &PgPool, limit: u64) -> Result<RelayStanding, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let row: Option<(i64, i64, DateTime<Utc>)> =
        sqlx::query_as("SELECT tx, pos, updated_at FROM relay_cursor WHERE name = $1")
            .bind(CURSOR_NAME)
            .fetch_optional(&mut *conn)
            .await?;
    let cursor = row.map(|(tx, pos, _)| LogPosition {
        tx: u64::try_from(tx).unwrap_or_default(),
        pos: u64::try_from(pos).unwrap_or_default(),
    });
    let pending = count_after(&mut conn, cursor.unwrap_or_default(), limit).await?;
    Ok(RelayStanding { cursor, saved_at: row.map(|(_, _, at)| at), pending })
}

/// Held back for less than this, the relay's metric stays at 0.
const HELD_BACK_SHOWN_AFTER: Duration = Duration::from_millis(100);

/// How long the relay has been held back, and when it last named the holder.
#[derive(Debug, Default)]
struct HeldBack {
    since: Option<Instant>,
    named: Option<Instant>,
}

/// A session of the cluster with a transaction open (`pg_stat_activity`;
/// names and states are hidden from roles without `pg_read_all_stats`).
#[derive(Debug, sqlx::FromRow)]
struct Holder {
    pid: i32,
    application_name: Option<String>,
    state: Option<String>,
    transaction_secs: Option<f64>,
}

/// The session whose transaction is the oldest with an id: the one holding
/// the relay's horizon (`pg_snapshot_xmin`).
async fn oldest_transaction(conn: &mut PgConnection) -> Option<Holder> {
    let holder = sqlx::query_as::<_, Holder>(
        "SELECT pid, application_name, state, extract(epoch FROM now() - xact_start)::float8 AS transaction_secs
           FROM pg_stat_activity
          WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
          ORDER BY age(backend_xid) DESC
          LIMIT 1",
    )
    .fetch_optional(conn)
    .await;
    match holder {
        Ok(holder) => holder,
        Err(err) => {
            tracing::debug!(error = %err, "cannot read pg_stat_activity");
            None
        }
    }
}

fn wire_event(row: &PgRow) -> Result<WireEvent, sqlx::Error> {
    let tx: i64 = row.try_get("tx")?;
    let pos: i64 = row.try_get("position")?;
    let sequence: i64 = row.try_get("sequence")?;
    let recorded_at: DateTime<Utc> = row.try_get("recorded_at")?;
    Ok(WireEvent {
        position: LogPosition {
            tx: u64::try_from(tx).unwrap_or_default(),
            pos: u64::try_from(pos).unwrap_or_default(),
        },
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: u64::try_from(sequence).unwrap_or_default(),
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        recorded_at,
        payload: row.try_get::<Json<Box<RawValue>>, _>("payload")?.0,
        metadata: row.try_get::<Json<Box<RawValue>>, _>("metadata")?.0,
    })
}
