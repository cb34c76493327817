//! The projector: keeps one projection's read model up to date from
//! CHAT_EVENTS through a durable pull consumer shared by every projector
//! process.
//!
//! Exactly once. Each batch is one Postgres transaction that skips every
//! message at or below the stream sequence the leader last stored, applies the
//! rest, and stores the new sequence only if the stored one is still where the
//! leader left it; messages are acknowledged only after the commit. A crash
//! before the commit loses nothing (the messages come again); a crash after it
//! changes nothing (they are skipped). A batch that writes nothing (events
//! the projection does not follow; for `delivery`, messages sent) needs no
//! transaction: it is acknowledged at once and its offset stored with a later
//! batch, and a new leader first applies again, from the stream, whatever was
//! acknowledged beyond the stored offset.
//!
//! One at a time, in order. Only the holder of the projection's advisory lock
//! (kept on a dedicated connection, released when that connection dies)
//! consumes; others stand by and take over. Should two ever overlap, the
//! conditional offset update lets one batch commit and rolls the other back,
//! and a batch that would leave a hole (its first message is beyond the next
//! expected sequence, e.g. because another consumer holds the messages in
//! between) first fetches the missing sequences straight from the stream, so
//! nothing is skipped or reordered.
//!
//! Filtered. Projections that follow a small part of the log (contacts,
//! files, moderation, audit) have consumers filtered by subject, so room
//! messages are never sent to them; their stream sequences then have gaps by
//! design. Such a leader checks the consumer's delivery sequence instead,
//! which counts every message the consumer hands out: a jump means another
//! process received some, and the leader starts over from its stored offset
//! on a consumer that holds nothing unacknowledged. While idle it stores, as
//! its offset, the stream's end once the consumer has nothing pending.
//!
//! A projector that fails again and again at the same stream sequence is
//! reported stuck (`/health`, `ciphertalk_component_stalled`): it is retried forever,
//! and nothing after that event reaches its read model.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy, pull};
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, Message};
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::connect::{Outage, Reconnects};
use ciphertalk_streams::{JetStreamError, StallTracker, Stalls, WireEvent, WithKind, subjects};
use futures::{FutureExt, StreamExt};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::error::ProjectorError;
use crate::freshness::{self, Freshness};
use crate::handoff::HandoffSender;
use crate::projection::{Applier, Envelope, KnownProgress, OffsetMove, Projection};
use crate::publish::DeliveryPublisher;

/// Most stream sequences a leader lets its stored offset fall behind while
/// it passes over events its projection does not follow, without a
/// transaction. Bounds what a successor re-reads from the stream.
const UNSTORED_SKIPS: u64 = 1000;

/// Advisory-lock class of projector leadership ("proj"); the key is the name's hash.
pub(crate) const LEADER_LOCK_CLASS: i32 = 0x7072_6f6a;

#[derive(Debug, Clone)]
pub struct ProjectorOptions {
    /// Most messages applied in one transaction.
    pub batch_size: usize,
    /// How long a batch waits for more messages after its first.
    pub linger: Duration,
    /// The same for `notifications`, which is off the path a message takes to
    /// its recipients' devices: larger batches there cost less per message and
    /// compete less with the delivery projection for the CPU (a push waits as long).
    pub notifications_linger: Duration,
    /// How long to wait for a message before housekeeping (lag, leadership check).
    pub idle: Duration,
    /// How often a standby tries to take over.
    pub standby_poll: Duration,
    /// JetStream redelivers a message not acknowledged within this time. Kept
    /// short: messages a dead leader had pulled are held for this long before
    /// the next leader receives them (redeliveries of applied ones are skipped).
    pub ack_wait: Duration,
    /// Where a projector reports itself stuck (as `projection_<name>`).
    pub stalls: Stalls,
    /// Failed attempts at one stream sequence before it is reported stuck.
    pub stall_rounds: u32,
    /// Rooms (and senders' blockers) the delivery projection keeps in memory.
    pub delivery_memory: usize,
    /// The NATS client's reconnections: the projector starts over at once
    /// instead of waiting for its pull to fail.
    pub reconnects: Reconnects,
}

impl Default for ProjectorOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            linger: Duration::from_millis(2),
            notifications_linger: Duration::from_millis(20),
            idle: Duration::from_secs(1),
            standby_poll: Duration::from_millis(500),
            ack_wait: Duration::from_secs(5),
            stalls: Stalls::default(),
            stall_rounds: 10,
            delivery_memory: crate::delivery::DEFAULT_REMEMBERED,
            reconnects: Reconnects::default(),
        }
    }
}

impl ProjectorOptions {
    /// How long a batch of `projection` waits for more messages after its first.
    fn linger_of(&self, projection: Projection) -> Duration {
        match projection {
            Projection::Notifications => self.notifications_linger,
            _ => self.linger,
        }
    }
}

/// What a leader session keeps between batches.
struct Session {
    applier: Applier,
    publisher: DeliveryPublisher,
}

/// The projection's consumer, as a leader pulls from it.
struct Pulled {
    stream: Stream,
    consumer: Consumer<pull::Config>,
    messages: pull::Stream,
    /// For a filtered consumer, the delivery sequence the next message must
    /// carry (every message it hands out counts, redeliveries too).
    next_delivery: Option<u64>,
    /// Acknowledging a message acknowledges all before it.
    ack_all: bool,
    /// The consumer's ack floor when it was opened.
    acknowledged: u64,
}

/// Where a leader stands between batches.
#[derive(Debug, Clone, Copy)]
struct Stored {
    /// Applied or passed over up to this stream sequence.
    applied: u64,
    /// What `projection_offsets` holds (at most [`UNSTORED_SKIPS`] behind).
    offset: u64,
}

pub struct Projector {
    projection: Projection,
    pool: PgPool,
    js: jetstream::Context,
    freshness: Freshness,
    options: ProjectorOptions,
    /// Where the delivery projection offers what it stored to this process's live feed.
    handoff: Option<HandoffSender>,
}

impl Projector {
    pub fn new(
        projection: Projection,
        js: jetstream::Context,
        freshness: Freshness,
        options: ProjectorOptions,
    ) -> Self {
        Self { projection, pool: freshness.pool().clone(), js, freshness, options, handoff: None }
    }

    /// Offers the delivery messages this projector stores to `handoff`
    /// (only the delivery projection stores any).
    pub fn with_handoff(mut self, handoff: HandoffSender) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Runs until `shutdown`, standing by while another process leads and
    /// recovering from NATS or Postgres outages by itself. Cancelling drops an
    /// unfinished batch, whose transaction rolls back.
    pub async fn run(self, shutdown: CancellationToken) {
        let name = self.projection.name();
        let mut reconnects = self.options.reconnects.clone();
        let outage = Outage::default();
        let mut backoff = Duration::from_millis(100);
        let mut failing =
            self.options.stalls.tracker(format!("projection_{name}"), self.options.stall_rounds);
        // The stream sequence the projector has applied up to (where a failure happened).
        let mut at = 0;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                () = reconnects.next() => {
                    tracing::info!(projection = name, "NATS reconnected; the projector starts over");
                    outage.begin();
                    backoff = Duration::from_millis(100);
                    continue;
                }
                outcome = self.lead(&mut at, &mut failing, &outage) => outcome,
            };
            if started.elapsed() > Duration::from_secs(5) {
                backoff = Duration::from_millis(100);
            }
            if let Err(err) = outcome {
                failing.failed(&at, &err);
                outage.begin();
                metrics::counter!("ciphertalk_projection_errors_total", "projection" => name).increment(1);
                tracing::warn!(projection = name, error = %err, retry_in_ms = backoff.as_millis() as u64, "projector failed; restarting");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = reconnects.next() => {
                    outage.begin();
                    backoff = Duration::from_millis(100);
                    continue;
                }
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        tracing::info!(projection = name, "projector stopped");
    }

    /// Waits for leadership, then applies batches until something fails.
    async fn lead(
        &self,
        at: &mut u64,
        failing: &mut StallTracker,
        outage: &Outage,
    ) -> Result<(), ProjectorError> {
        let mut lock = self.take_leadership(outage).await?;
        let _leading = self.freshness.leading(self.projection);
        let offset = self.stored_offset().await?;
        *at = offset;
        let mut session = Session {
            applier: Applier::new(self.projection, KnownProgress::Stored, self.options.delivery_memory),
            publisher: DeliveryPublisher::new(self.js.clone(), self.handoff.clone()),
        };
        if self.projection == Projection::Delivery {
            session.publisher.check_holds(freshness::output_seq(&self.pool, self.projection).await?).await?;
        }
        let mut pulled = self.pull_from(offset).await?;
        outage.end(self.projection.name());
        let mut lock_checked = Instant::now();
        let mut stored = Stored { applied: offset, offset };
        self.apply_acknowledged(&mut lock, &pulled, &mut session, &mut stored).await?;
        loop {
            if lock_checked.elapsed() > self.options.idle * 5 {
                still_leading(&mut lock).await?;
                lock_checked = Instant::now();
            }
            match self.next_batch(&mut pulled.messages).await? {
                Some(batch) => {
                    check_deliveries(&batch, &mut pulled.next_delivery)?;
                    self.handle_batch(&mut lock, &pulled.stream, &mut session, &batch, &mut stored).await?;
                    self.acknowledge(&batch, pulled.ack_all).await;
                    if let Some(last) = batch.last().and_then(|m| m.info().ok()) {
                        self.record_lag(last.stream_sequence + last.pending, stored.applied);
                    }
                }
                None => self.store_while_idle(&mut lock, &mut pulled, &mut session, &mut stored).await?,
            }
            *at = stored.applied;
            failing.progressed();
        }
    }

    /// Takes the projection's advisory lock on a dedicated connection, standing
    /// by while another process holds it.
    async fn take_leadership(&self, outage: &Outage) -> Result<PgConnection, ProjectorError> {
        let name = self.projection.name();
        let mut lock = self.pool.acquire().await?.detach();
        loop {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                .bind(LEADER_LOCK_CLASS)
                .bind(name)
                .fetch_one(&mut lock)
                .await?;
            if locked {
                break;
            }
            // A standby reads nothing: no outage to measure.
            outage.forget();
            tokio::time::sleep(self.options.standby_poll).await;
        }
        // Batches run on the leader's own connection. Their commits need not
        // wait for the disk: a read model and its offset commit together, so
        // a crash that loses the last commits loses both, and they are applied
        // again (their delivery messages resume after what CHAT_DELIVERY holds).
        sqlx::query("SET synchronous_commit = off").execute(&mut lock).await?;
        tracing::info!(projection = name, "projector is leading");
        Ok(lock)
    }

    /// The stream sequence `projection_offsets` says the projection is at
    /// (0 for one never run).
    async fn stored_offset(&self) -> Result<u64, ProjectorError> {
        sqlx::query("INSERT INTO projection_offsets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(self.projection.name())
            .execute(&self.pool)
            .await?;
        Ok(crate::freshness::offset(&self.pool, self.projection).await?)
    }

    /// Opens the projection's durable consumer (made, if new, to start after
    /// `offset`) and starts pulling from it.
    async fn pull_from(&self, offset: u64) -> Result<Pulled, ProjectorError> {
        let stream =
            self.js.get_stream(subjects::EVENTS_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
        let name = self.projection.durable_name();
        let config = pull::Config {
            durable_name: Some(name.clone()),
            description: Some(format!("projection {}", self.projection.name())),
            // One ack per batch: acknowledging its last message acknowledges all.
            ack_policy: AckPolicy::All,
            ack_wait: self.options.ack_wait,
            // A fresh consumer starts where Postgres says the projection is.
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: offset + 1 },
            filter_subjects: self.projection.consumer_filter(),
            max_ack_pending: i64::try_from(self.options.batch_size * 4).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let consumer = if self.projection.is_filtered() {
            filtered_consumer(&stream, config, offset).await?
        } else {
            stream.get_or_create_consumer(&name, config).await.map_err(|err| err.with_kind(Js::Consume))?
        };
        let info = consumer.cached_info();
        let next_delivery = self.projection.is_filtered().then_some(info.delivered.consumer_sequence + 1);
        // A consumer made before acks were cumulative keeps its policy.
        let ack_all = info.config.ack_policy == AckPolicy::All;
        let acknowledged = info.ack_floor.stream_sequence;
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.options.batch_size)
            .messages()
            .await
            .map_err(|err| err.with_kind(Js::Consume))?;
        Ok(Pulled { stream, consumer, messages, next_delivery, ack_all, acknowledged })
    }

    /// A predecessor acknowledges what it passed over or published without
    /// a transaction before it stores the offset; the consumer does not
    /// deliver that again, so it is read again from the stream here.
    async fn apply_acknowledged(
        &self,
        lock: &mut PgConnection,
        pulled: &Pulled,
        session: &mut Session,
        stored: &mut Stored,
    ) -> Result<(), ProjectorError> {
        if pulled.acknowledged <= stored.offset {
            return Ok(());
        }
        let result = self
            .apply_batch(lock, &pulled.stream, session, Vec::new(), *stored, Some(pulled.acknowledged))
            .await;
        let (applied, progress) = result.inspect_err(|_| session.applier.reset())?;
        *stored = Stored { applied, offset: applied };
        self.freshness.committed(self.projection, progress);
        Ok(())
    }

    /// The next batch of messages, or `None` when none came within `idle`.
    async fn next_batch(&self, messages: &mut pull::Stream) -> Result<Option<Vec<Message>>, ProjectorError> {
        let first = match tokio::time::timeout(self.options.idle, messages.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err(JetStreamError::new(Js::Ended).into()),
            Ok(Some(message)) => message.map_err(|err| err.with_kind(Js::Consume))?,
        };
        let mut batch = vec![first];
        // What arrives within the linger joins the batch: fewer, larger
        // transactions under load, at most `linger` more latency.
        let deadline = tokio::time::Instant::now() + self.options.linger_of(self.projection);
        while batch.len() < self.options.batch_size {
            let next = match messages.next().now_or_never() {
                Some(next) => next,
                None => tokio::time::timeout_at(deadline, messages.next()).await.ok().flatten(),
            };
            match next {
                Some(Ok(message)) => batch.push(message),
                _ => break,
            }
        }
        Ok(Some(batch))
    }

    /// Applies one batch of messages: passed over when the projection follows
    /// none of them, published without a transaction when it only reads,
    /// otherwise applied in one transaction.
    async fn handle_batch(
        &self,
        lock: &mut PgConnection,
        stream: &Stream,
        session: &mut Session,
        batch: &[Message],
        stored: &mut Stored,
    ) -> Result<(), ProjectorError> {
        let unstored =
            contiguous_end(batch, stored.applied).filter(|last| last - stored.offset <= UNSTORED_SKIPS);
        if let Some(last) = unstored
            && !batch.iter().any(|message| self.projection.follows_subject(&message.subject))
        {
            // Nothing this projection follows: no transaction.
            stored.applied = last;
            return Ok(());
        }
        let envelopes = envelopes_in_order(batch);
        if let Some(last) = unstored
            && envelopes.iter().all(|(_, envelope)| self.projection.reads_only(envelope))
        {
            // Deliveries to publish and nothing to write: no transaction either.
            let result = self.publish_only(lock, session, envelopes, stored.applied).await;
            result.inspect_err(|_| session.applier.reset())?;
            stored.applied = last;
            return Ok(());
        }
        let result = self.apply_batch(lock, stream, session, envelopes, *stored, None).await;
        let (applied, progress) = result.inspect_err(|_| session.applier.reset())?;
        *stored = Stored { applied, offset: applied };
        self.freshness.committed(self.projection, progress);
        Ok(())
    }

    /// Acknowledges a batch applied (its last message, when acks are cumulative).
    async fn acknowledge(&self, batch: &[Message], ack_all: bool) {
        // After the commit: a lost ack only means a redelivery, which is skipped.
        let to_ack = match batch.last() {
            Some(last) if ack_all => std::slice::from_ref(last),
            _ => batch,
        };
        for message in to_ack {
            if let Err(err) = message.ack().await {
                tracing::debug!(projection = self.projection.name(), error = %err, "ack failed; the message will be skipped on redelivery");
            }
        }
    }

    /// Nothing came for a while: stores the sequences applied or passed over
    /// without a transaction (for a filtered consumer with nothing left to
    /// hand out, up to the stream's end), and the lag.
    async fn store_while_idle(
        &self,
        lock: &mut PgConnection,
        pulled: &mut Pulled,
        session: &mut Session,
        stored: &mut Stored,
    ) -> Result<(), ProjectorError> {
        let mut info_stream = pulled.stream.clone();
        let stream_last = info_stream.info().await.ok().map(|info| info.state.last_sequence);
        if let Some(last) = stream_last.filter(|last| *last > stored.applied)
            && self.projection.is_filtered()
            // Asked after the stream's end was read: nothing pending and nothing
            // unacknowledged means every event it follows up to there is applied.
            && let Ok(info) = pulled.consumer.info().await
            && info.num_pending == 0
            && info.num_ack_pending == 0
        {
            stored.applied = last;
        }
        if stored.offset < stored.applied {
            let applied_events = session.applier.take_applied();
            let offset = OffsetMove { from: stored.offset, to: stored.applied, applied_events };
            session.applier.save_progress(lock, offset).await?.ok_or(ProjectorError::LostLeadership)?;
            // Published already (before the offset it goes with: a crash between leaves it behind, safe).
            if let Some(published) = session.publisher.stream_last_seq() {
                freshness::save_output_seq(lock, self.projection, published).await?;
            }
            self.count_applied(applied_events);
            stored.offset = stored.applied;
        }
        if let Some(last) = stream_last {
            self.record_lag(last, stored.applied);
        }
        Ok(())
    }

    /// Applies a batch that writes nothing (see [`Projection::reads_only`])
    /// on the leader's connection, outside any transaction, and publishes its
    /// deliveries. Its offset is stored with a later batch: a successor
    /// applies it again and publishes only what the stream does not hold.
    async fn publish_only(
        &self,
        conn: &mut PgConnection,
        session: &mut Session,
        envelopes: Vec<(u64, Envelope)>,
        applied: u64,
    ) -> Result<(), ProjectorError> {
        session.applier.recall_progress(conn, &envelopes).await?;
        for (seq, envelope) in envelopes {
            if seq > applied {
                session.applier.apply_envelope(conn, seq, envelope).await?;
            }
        }
        session.applier.flush(conn).await?;
        session.publisher.publish(session.applier.take_outgoing()).await?;
        crate::notifications::publish(&self.js, session.applier.take_jobs()).await
    }

    fn count_applied(&self, events: u64) {
        metrics::counter!("ciphertalk_projection_events_total", "projection" => self.projection.name())
            .increment(events);
    }

    /// Applies one batch in one transaction, after `stored.applied` (and on
    /// through `through`, read from the stream), and moves the offset from
    /// `stored.offset`; returns the sequence reached.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        stream: &Stream,
        session: &mut Session,
        envelopes: Vec<(u64, Envelope)>,
        stored: Stored,
        through: Option<u64>,
    ) -> Result<(u64, Vec<(String, u64)>), ProjectorError> {
        let mut tx = conn.begin().await?;
        session.applier.recall_progress(&mut tx, &envelopes).await?;
        let mut applied_seq = stored.applied;
        let start_seq = applied_seq;
        for (seq, envelope) in envelopes {
            if seq <= applied_seq {
                continue;
            }
            // A filtered consumer's gaps are the events it is not handed.
            if seq > applied_seq + 1 && !self.projection.is_filtered() {
                self.fill_gap(stream, &mut session.applier, &mut tx, applied_seq + 1, seq).await?;
            }
            session.applier.apply_envelope(&mut tx, seq, envelope).await?;
            applied_seq = seq;
        }
        if let Some(through) = through.filter(|through| *through > applied_seq) {
            self.fill_gap(stream, &mut session.applier, &mut tx, applied_seq + 1, through + 1).await?;
            applied_seq = through;
        }
        if applied_seq == start_seq && stored.offset == start_seq {
            // Nothing new (all redeliveries): nothing to write.
            tx.rollback().await?;
            return Ok((applied_seq, Vec::new()));
        }
        let applied_events = session.applier.take_applied();
        let offset = OffsetMove { from: stored.offset, to: applied_seq, applied_events };
        let Some(progress) = session.applier.save_progress(&mut tx, offset).await? else {
            // Someone else moved the offset (two leaders overlapping): this
            // batch rolls back and the leader starts over.
            tx.rollback().await?;
            return Err(ProjectorError::LostLeadership);
        };
        // Published before the commit: a commit that fails after this
        // re-applies the batch, which resumes after what the stream holds.
        session.publisher.publish(session.applier.take_outgoing()).await?;
        crate::notifications::publish(&self.js, session.applier.take_jobs()).await?;
        if let Some(published) = session.publisher.stream_last_seq() {
            freshness::save_output_seq(&mut tx, self.projection, published).await?;
        }
        tx.commit().await?;
        self.count_applied(applied_events);
        Ok((applied_seq, progress))
    }

    /// Applies stream sequences `from..to` read directly from the stream (they
    /// were delivered elsewhere or not yet); sequences no longer stored are skipped.
    async fn fill_gap(
        &self,
        stream: &Stream,
        applier: &mut Applier,
        conn: &mut PgConnection,
        from: u64,
        to: u64,
    ) -> Result<(), ProjectorError> {
        let mut info_stream = stream.clone();
        let first = info_stream.info().await.map_err(|err| err.with_kind(Js::Stream))?.state.first_sequence;
        tracing::info!(projection = self.projection.name(), from, to, "filling a gap from the stream");
        for seq in from.max(first)..to {
            match stream.get_raw_message(seq).await {
                Ok(message) => applier.apply_body(conn, seq, &message.payload).await?,
                Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => {}
                Err(err) => return Err(err.with_kind(Js::Read).into()),
            }
        }
        Ok(())
    }

    fn record_lag(&self, stream_last: u64, applied: u64) {
        metrics::gauge!("ciphertalk_projection_lag_events", "projection" => self.projection.name())
            .set(stream_last.saturating_sub(applied) as f64);
    }
}

/// Fails once the leadership connection, and with it the lock, is gone.
async fn still_leading(lock: &mut PgConnection) -> Result<(), ProjectorError> {
    match sqlx::query("SELECT 1").execute(lock).await {
        Ok(_) => Ok(()),
        Err(_) => Err(ProjectorError::LostLeadership),
    }
}

/// A filtered projection's consumer opened for a leader that starts at
/// `offset`: the existing one when it has the same filter and holds nothing
/// delivered but unacknowledged, else a new one from `offset`. (A message
/// another process holds would come back later than the ones after it, and a
/// filtered stream's gaps cannot show it missing.)
async fn filtered_consumer(
    stream: &Stream,
    config: pull::Config,
    offset: u64,
) -> Result<Consumer<pull::Config>, ProjectorError> {
    let name = config.durable_name.clone().unwrap_or_default();
    if let Ok(existing) = stream.get_consumer::<pull::Config>(&name).await {
        // Read just now, by `get_consumer`.
        let info = existing.cached_info();
        // nats-server may keep a single filter as `filter_subject`.
        let filter = |one: &str, many: &[String]| {
            let mut subjects = many.to_vec();
            subjects.extend((!one.is_empty()).then(|| one.to_owned()));
            subjects.sort();
            subjects
        };
        if filter(&info.config.filter_subject, &info.config.filter_subjects)
            == filter(&config.filter_subject, &config.filter_subjects)
            && info.num_ack_pending == 0
            && info.ack_floor.stream_sequence <= offset
        {
            return Ok(existing);
        }
        tracing::info!(consumer = name, "making the projection's consumer afresh from its stored offset");
        stream.delete_consumer(&name).await.map_err(|err| err.with_kind(Js::Consume))?;
    }
    Ok(stream.create_consumer(config).await.map_err(|err| err.with_kind(Js::Consume))?)
}

/// Checks that a filtered consumer's batch continues, delivery by delivery,
/// what this leader received before (`next`: none for an unfiltered one).
fn check_deliveries(batch: &[Message], next: &mut Option<u64>) -> Result<(), ProjectorError> {
    let Some(next) = next else { return Ok(()) };
    for message in batch {
        let delivery = message.info().map_err(|_| JetStreamError::new(Js::Consume))?.consumer_sequence;
        if delivery != *next {
            let missed = delivery.saturating_sub(*next);
            return Err(ProjectorError::DeliveredElsewhere { delivery, missed });
        }
        *next += 1;
    }
    Ok(())
}

/// The batch's messages read as envelopes, once, in stream order.
fn envelopes_in_order(batch: &[Message]) -> Vec<(u64, Envelope)> {
    let mut envelopes: Vec<(u64, Envelope)> = batch
        .iter()
        .filter_map(|m| m.info().ok().map(|info| (info.stream_sequence, WireEvent::from_body(&m.payload))))
        .collect();
    envelopes.sort_by_key(|(seq, _)| *seq);
    envelopes
}

/// The batch's last sequence, if it is beyond `applied` and follows it without a gap.
fn contiguous_end(batch: &[Message], applied: u64) -> Option<u64> {
    let mut last = applied;
    let mut seqs: Vec<u64> = batch.iter().filter_map(|m| m.info().ok()).map(|i| i.stream_sequence).collect();
    seqs.sort_unstable();
    for seq in seqs {
        if seq > last + 1 {
            return None;
        }
        last = last.max(seq);
    }
    (last > applied).then_some(last)
}

/// Starts one projector per projection; they stop when `shutdown` is cancelled.
/// The delivery projector offers what it stores to `handoff`, when given.
pub fn spawn_all(
    js: &jetstream::Context,
    freshness: &Freshness,
    options: &ProjectorOptions,
    handoff: Option<HandoffSender>,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    Projection::ALL
        .into_iter()
        .map(|projection| {
            let mut projector = Projector::new(projection, js.clone(), freshness.clone(), options.clone());
            if let (Projection::Delivery, Some(handoff)) = (projection, &handoff) {
                projector = projector.with_handoff(handoff.clone());
            }
            tokio::spawn(projector.run(shutdown.child_token()))
        })
        .collect()
}
