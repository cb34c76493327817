//! The live feed: one ordered consumer per gateway process over all of
//! CHAT_DELIVERY, dispatching each stored message to the connections it is
//! addressed to: a message on `chat.dlv.<user_id>` to every connection of
//! that user, one on `chat.dlv.<user_id>.<device_id>` to that device's only
//! (each connection is routed under both of its subjects).
//!
//! Handed over, not read back: when the delivery leader runs in this process
//! it offers each run of messages it stored, with their stream sequences
//! ([`ciphertalk_projections::handoff`]). A run that continues exactly where
//! dispatching stands is dispatched as it is and the consumer is let go;
//! anything else (a run that leaves a gap, messages stored with no run
//! offered: a dropped run, a leader elsewhere) sends the feed back to reading
//! the stream from its position, and a run waiting ahead is taken up again
//! once the reading reaches it. Either way each stream sequence is dispatched
//! once, in order.
//!
//! Why one per process and not one per connection: a consumer filtered to one
//! user's subject makes nats-server walk every message stored between two of
//! that user's messages (its per-block subject index only knows a subject's
//! first and last message), so with N users each delivery cost O(N) scans.
//! An unfiltered consumer reads the stream in order, O(1) per message, and the
//! routing by user happens here, in a hash map.
//!
//! The seam with the backlog: a subscription is registered at the feed's
//! `position` (the last stream sequence it has dispatched) under the same lock
//! the dispatcher holds, so every message after that position reaches the
//! subscription; the connection reads its backlog from the stream up to that
//! position and skips live messages it has already sent. The dispatcher never
//! waits for a connection: when a subscription's buffer is full the message is
//! dropped and the subscription marked, and the connection reads what it
//! missed from the stream (where it is stored) before going on. When the feed
//! itself fails, or the NATS client reconnects (the ordered consumer did not
//! survive a nats-server restart), it makes a new consumer from its position
//! at once; subscriptions stay, and get what was stored meanwhile, in order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::Stream;
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_projections::handoff::{HandoffReceiver, StoredRun};
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::WithKind;
use ciphertalk_streams::connect::{Outage, Reconnects};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cursor::Cursor;
use super::queue::{Delivered, QueueError, subjects};

/// Messages the feed's consumer pulls at a time.
const FEED_BATCH: i64 = 1_000;
/// How often a feed taking handed-over runs checks that the stream holds
/// nothing beyond them.
const HANDOFF_CHECK: Duration = Duration::from_millis(250);
/// Runs kept that were offered ahead of where dispatching stands.
const RUNS_AHEAD: usize = 64;
/// Longest pause between two tries to resume reading the stream.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Routes {
    /// The last stream sequence dispatched.
    position: u64,
    next_id: u64,
    /// Subscriptions by delivery subject (`chat.dlv.<user_id>` and
    /// `chat.dlv.<user_id>.<device_id>`): each is under both of its own.
    by_subject: HashMap<String, Vec<Route>>,
}

struct Route {
    id: u64,
    tx: mpsc::Sender<Delivered>,
    overflowed: Arc<AtomicBool>,
}

struct Shared {
    routes: Mutex<Routes>,
    /// Live messages each subscription may buffer before they are dropped
    /// (and read again from the stream by the connection).
    buffer: usize,
}

impl Shared {
    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Routes {
    /// Offers the message stored at `sequence` to the subscriptions to
    /// `subject`, unless it was dispatched already. `delivered` is only made
    /// when someone here subscribes.
    fn dispatch(
        &mut self,
        sequence: u64,
        subject: &str,
        delivered: impl FnOnce() -> Result<Delivered, QueueError>,
    ) -> Result<(), QueueError> {
        if sequence <= self.position {
            return Ok(());
        }
        self.position = sequence;
        if let Some(list) = self.by_subject.get(subject) {
            let delivered = delivered()?;
            for route in list {
                if let Err(mpsc::error::TrySendError::Full(_)) = route.tx.try_send(delivered.clone()) {
                    route.overflowed.store(true, Ordering::Release);
                }
            }
        }
        Ok(())
    }
}

/// What the feed listens to besides the stream: the runs the local delivery
/// leader hands over, and the NATS client's reconnections.
pub struct Signals {
    pub handed_over: HandoffReceiver,
    pub reconnects: Reconnects,
}

/// The live feed of one gateway process.
#[derive(Clone)]
pub struct Feed {
    shared: Arc<Shared>,
}

impl Feed {
    /// Starts following CHAT_DELIVERY from its current end, taking the runs
    /// `handed_over` offers where they continue it; runs until `shutdown`.
    pub async fn start(
        stream: Stream,
        buffer: usize,
        signals: Signals,
        shutdown: CancellationToken,
    ) -> Result<Self, QueueError> {
        let Signals { handed_over, reconnects } = signals;
        let mut info_stream = stream.clone();
        let position = info_stream.info().await.map_err(|err| err.with_kind(Js::Stream))?.state.last_sequence;
        let shared = Arc::new(Shared {
            routes: Mutex::new(Routes { position, ..Routes::default() }),
            buffer: buffer.max(1),
        });
        let handed_over = HandedOver { receiver: Some(handed_over), ahead: VecDeque::new() };
        tokio::spawn(follow(stream, shared.clone(), handed_over, reconnects, shutdown));
        Ok(Self { shared })
    }

    /// The last stream sequence dispatched to subscriptions.
    pub fn position(&self) -> u64 {
        self.shared.routes().position
    }

    /// Receives every message for `device` of `user` (on either subject)
    /// stored after the returned subscription's `position`, in stream order.
    pub fn subscribe(&self, user: UserId, device: DeviceId) -> Result<Subscription, QueueError> {
        let subjects = subjects(user, device)?;
        let (tx, rx) = mpsc::channel(self.shared.buffer);
        let overflowed = Arc::new(AtomicBool::new(false));
        let mut routes = self.shared.routes();
        routes.next_id += 1;
        let id = routes.next_id;
        let position = routes.position;
        // Under the one lock: a message on either subject after `position` reaches it.
        for subject in &subjects {
            routes.by_subject.entry(subject.clone()).or_default().push(Route {
                id,
                tx: tx.clone(),
                overflowed: overflowed.clone(),
            });
        }
        Ok(Subscription { feed: self.clone(), subjects, id, position, rx, overflowed })
    }

    fn unsubscribe(&self, subjects: &[String], id: u64) {
        let mut routes = self.shared.routes();
        for subject in subjects {
            if let Some(list) = routes.by_subject.get_mut(subject) {
                list.retain(|route| route.id != id);
                if list.is_empty() {
                    routes.by_subject.remove(subject);
                }
            }
        }
    }
}

/// One connection's share of the feed; unsubscribes when dropped.
pub struct Subscription {
    feed: Feed,
    subjects: [String; 2],
    id: u64,
    /// Every message after this stream sequence is offered to this subscription.
    pub position: u64,
    rx: mpsc::Receiver<Delivered>,
    overflowed: Arc<AtomicBool>,
}

impl Subscription {
    /// The next live message; `None` only if the feed is gone.
    pub async fn recv(&mut self) -> Option<Delivered> {
        self.rx.recv().await
    }

    /// Whether messages were dropped since the last call because the buffer
    /// was full: the caller must read them from the stream.
    pub fn take_overflow(&self) -> bool {
        self.overflowed.swap(false, Ordering::AcqRel)
    }

    pub fn feed(&self) -> &Feed {
        &self.feed
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feed.unsubscribe(&self.subjects, self.id);
    }
}

/// Follows the stream from the feed's position on, restarting after failures
/// and reconnections right after the last message dispatched, so none is
/// skipped or repeated.
async fn follow(
    stream: Stream,
    shared: Arc<Shared>,
    mut handed_over: HandedOver,
    mut reconnects: Reconnects,
    shutdown: CancellationToken,
) {
    let dispatched = AtomicU64::new(0);
    let outage = Outage::default();
    let mut backoff = Duration::from_millis(50);
    loop {
        let run = dispatch(&stream, &shared, &mut handed_over, &dispatched, &outage);
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            () = reconnects.next() => {
                // The consumer is gone with the old connection: a new one, now.
                tracing::info!("NATS reconnected; the live feed makes a new consumer");
                outage.begin();
                backoff = Duration::from_millis(50);
                continue;
            }
            outcome = run => outcome,
        };
        if let Err(err) = outcome {
            outage.begin();
            tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "the live delivery feed failed; resuming");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = reconnects.next() => backoff = Duration::from_millis(50),
            () = tokio::time::sleep(backoff) => {
                backoff = if dispatched.swap(0, Ordering::Relaxed) > 0 {
                    Duration::from_millis(50)
                } else {
                    (backoff * 2).min(MAX_BACKOFF)
                };
            }
        }
    }
}

/// Reads the stream until a run handed over continues it, takes runs until
/// they no longer do, and so on.
async fn dispatch(
    stream: &Stream,
    shared: &Shared,
    handed_over: &mut HandedOver,
    dispatched: &AtomicU64,
    outage: &Outage,
) -> Result<(), QueueError> {
    loop {
        read_stream(stream, shared, handed_over, dispatched, outage).await?;
        take_handed_over(stream, shared, handed_over, dispatched).await;
    }
}

/// Dispatches from the stream, from the position on, until a run handed
/// over continues where it stands (and is dispatched).
async fn read_stream(
    stream: &Stream,
    shared: &Shared,
    handed_over: &mut HandedOver,
    dispatched: &AtomicU64,
    outage: &Outage,
) -> Result<(), QueueError> {
    let start_sequence = shared.routes().position + 1;
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
            max_batch: FEED_BATCH,
            ..Default::default()
        })
        .await
        .map_err(|err| err.with_kind(Js::Consume))?;
    let name = consumer.cached_info().name.clone();
    let mut messages = consumer.messages().await.map_err(|err| err.with_kind(Js::Consume))?;
    outage.end("feed");
    loop {
        tokio::select! {
            message = messages.next() => {
                let message = message.ok_or(QueueError::new(Js::Ended))?;
                let message = message.map_err(|err| err.with_kind(Js::Consume))?;
                let sequence = message.info().map_err(|err| err.with_kind(Js::Consume))?.stream_sequence;
                // Only messages for users connected here are decoded.
                shared.routes().dispatch(sequence, &message.subject, || Delivered::from_message(&message))?;
                dispatched.fetch_add(1, Ordering::Relaxed);
            }
            Some(run) = handed_over.next() => handed_over.keep(run),
        }
        if !handed_over.ahead.is_empty() && handed_over.splice(shared, dispatched)? {
            metrics::counter!("ciphertalk_feed_source_switches_total", "to" => "handoff").increment(1);
            drop(messages);
            // Not needed any more; it would only expire later.
            if let Err(err) = stream.delete_consumer(&name).await {
                tracing::debug!(error = %err, "the feed's consumer was not deleted");
            }
            return Ok(());
        }
    }
}

/// Dispatches the runs handed over while each continues the last, and while
/// the stream holds nothing beyond them (checked every [`HANDOFF_CHECK`]: a
/// sequence stored beyond the position at one check and not dispatched by
/// the next was not handed over). Returns when the stream must be read.
async fn take_handed_over(
    stream: &Stream,
    shared: &Shared,
    handed_over: &mut HandedOver,
    dispatched: &AtomicU64,
) {
    let mut info = stream.clone();
    let mut check = tokio::time::interval(HANDOFF_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stored_beyond: Option<u64> = None;
    let reason = loop {
        tokio::select! {
            run = handed_over.next() => {
                let Some(run) = run else { break "no leader here any more" };
                handed_over.keep(run);
                match handed_over.splice(shared, dispatched) {
                    Ok(_) if handed_over.ahead.is_empty() => {}
                    Ok(_) => break "a run left a gap",
                    Err(err) => {
                        tracing::warn!(error = %err, "a handed-over run did not dispatch");
                        break "a run did not dispatch";
                    }
                }
            }
            _ = check.tick() => {
                let last_seq = match info.info().await {
                    Ok(info) => info.state.last_sequence,
                    Err(err) => {
                        tracing::debug!(error = %err, "cannot read where CHAT_DELIVERY ends");
                        break "the stream's end is unknown";
                    }
                };
                let position = shared.routes().position;
                if stored_beyond.is_some_and(|seq| position < seq) {
                    break "messages stored were not handed over";
                }
                stored_beyond = (last_seq > position).then_some(last_seq);
            }
        }
    };
    tracing::debug!(reason, "the live feed reads CHAT_DELIVERY");
    metrics::counter!("ciphertalk_feed_source_switches_total", "to" => "stream").increment(1);
}

/// The runs the local delivery leader offers, and those kept because they
/// start beyond where dispatching stands.
struct HandedOver {
    /// `None` once no leader in this process can offer more.
    receiver: Option<HandoffReceiver>,
    ahead: VecDeque<StoredRun>,
}

impl HandedOver {
    /// The next run offered; `None` once, when the last sender is gone, and
    /// then never ready again.
    async fn next(&mut self) -> Option<StoredRun> {
        let Some(receiver) = self.receiver.as_mut() else { return std::future::pending().await };
        let run = receiver.recv().await;
        if run.is_none() {
            self.receiver = None;
        }
        run
    }

    fn keep(&mut self, run: StoredRun) {
        if self.ahead.len() == RUNS_AHEAD {
            self.ahead.pop_front();
        }
        self.ahead.push_back(run);
    }

    /// Dispatches the kept runs that continue the position, in order, and
    /// drops those dispatched already. Whether any was dispatched.
    fn splice(&mut self, shared: &Shared, dispatched: &AtomicU64) -> Result<bool, QueueError> {
        let mut routes = shared.routes();
        let mut spliced = false;
        while let Some(run) = self.ahead.front() {
            match fit(routes.position, run) {
                Fit::Stale => {}
                Fit::Ahead => break,
                Fit::Continues { from } => {
                    let first_seq = run.first_seq;
                    for (i, message) in run.messages.iter().enumerate().skip(from) {
                        let sequence = first_seq + i as u64;
                        routes.dispatch(sequence, &message.subject, || {
                            Ok(Delivered {
                                cursor: Cursor(sequence),
                                event: message.payload.clone(),
                                recorded_at: Some(message.recorded_at),
                                pending: 0,
                            })
                        })?;
                    }
                    dispatched.fetch_add(run.messages.len().saturating_sub(from) as u64, Ordering::Relaxed);
                    spliced = true;
                }
            }
            self.ahead.pop_front();
        }
        Ok(spliced)
    }
}

/// How a run stands against the last sequence dispatched.
#[derive(Debug, PartialEq, Eq)]
enum Fit {
    /// All of it was dispatched.
    Stale,
    /// It continues the position from its message `from` on.
    Continues { from: usize },
    /// Something lies between the position and its first message.
    Ahead,
}

fn fit(position: u64, run: &StoredRun) -> Fit {
    if run.messages.is_empty() || run.last_seq() <= position {
        Fit::Stale
    } else if run.first_seq <= position + 1 {
        Fit::Continues { from: usize::try_from(position + 1 - run.first_seq).unwrap_or(usize::MAX) }
    } else {
        Fit::Ahead
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::Utc;
    use ciphertalk_projections::handoff::StoredDelivery;

    use super::*;

    fn run(first_seq: u64, len: usize) -> StoredRun {
        let message =
            StoredDelivery { subject: "chat.dlv.x".into(), recorded_at: Utc::now(), payload: Bytes::new() };
        StoredRun { first_seq, messages: vec![message; len] }
    }

    #[test]
    fn a_run_fits_where_it_continues_the_position() {
        assert_eq!(fit(10, &run(11, 3)), Fit::Continues { from: 0 });
        assert_eq!(fit(12, &run(11, 3)), Fit::Continues { from: 2 });
        assert_eq!(fit(13, &run(11, 3)), Fit::Stale);
        assert_eq!(fit(20, &run(11, 3)), Fit::Stale);
        assert_eq!(fit(9, &run(11, 3)), Fit::Ahead);
        assert_eq!(fit(10, &run(11, 0)), Fit::Stale);
    }
}
