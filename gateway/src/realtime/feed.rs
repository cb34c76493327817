//! The live feed: one ordered consumer per gateway process over all of
//! CHAT_DELIVERY, dispatching each stored message to the connections of the
//! user it is addressed to.
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
//! itself fails, every subscription ends, and so do their connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::Stream;
use ciphertalk_domain::UserId;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::queue::{Delivered, QueueError, queue_error, subject};

/// Messages the feed's consumer pulls at a time.
const FEED_BATCH: i64 = 1_000;

#[derive(Default)]
struct Routes {
    /// The last stream sequence dispatched.
    position: u64,
    next_id: u64,
    /// Subscriptions by delivery subject (`chat.dlv.<user_id>`).
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

/// The live feed of one gateway process.
#[derive(Clone)]
pub struct Feed {
    shared: Arc<Shared>,
}

impl Feed {
    /// Starts following CHAT_DELIVERY from its current end; runs until `shutdown`.
    pub async fn start(
        stream: Stream,
        buffer: usize,
        shutdown: CancellationToken,
    ) -> Result<Self, QueueError> {
        let mut info_stream = stream.clone();
        let position = info_stream.info().await.map_err(queue_error)?.state.last_sequence;
        let shared = Arc::new(Shared {
            routes: Mutex::new(Routes { position, ..Routes::default() }),
            buffer: buffer.max(1),
        });
        tokio::spawn(follow(stream, shared.clone(), shutdown));
        Ok(Self { shared })
    }

    /// The last stream sequence dispatched to subscriptions.
    pub fn position(&self) -> u64 {
        self.shared.routes().position
    }

    /// Receives every message for `user` stored after the returned
    /// subscription's `position`.
    pub fn subscribe(&self, user: UserId) -> Result<Subscription, QueueError> {
        let subject = subject(user)?;
        let (tx, rx) = mpsc::channel(self.shared.buffer);
        let overflowed = Arc::new(AtomicBool::new(false));
        let mut routes = self.shared.routes();
        routes.next_id += 1;
        let id = routes.next_id;
        let position = routes.position;
        routes.by_subject.entry(subject.clone()).or_default().push(Route {
            id,
            tx,
            overflowed: overflowed.clone(),
        });
        Ok(Subscription { feed: self.clone(), subject, id, position, rx, overflowed })
    }

    fn unsubscribe(&self, subject: &str, id: u64) {
        let mut routes = self.shared.routes();
        if let Some(list) = routes.by_subject.get_mut(subject) {
            list.retain(|route| route.id != id);
            if list.is_empty() {
                routes.by_subject.remove(subject);
            }
        }
    }
}

/// One connection's share of the feed; unsubscribes when dropped.
pub struct Subscription {
    feed: Feed,
    subject: String,
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
        self.feed.unsubscribe(&self.subject, self.id);
    }
}

/// Follows the stream from the feed's position on, restarting after failures
/// right after the last message dispatched, so none is skipped or repeated.
async fn follow(stream: Stream, shared: Arc<Shared>, shutdown: CancellationToken) {
    let dispatched = AtomicU64::new(0);
    let mut backoff = Duration::from_millis(100);
    loop {
        let run = dispatch(&stream, &shared, &dispatched);
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return,
            outcome = run => outcome,
        };
        if let Err(err) = outcome {
            tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "the live delivery feed failed; resuming");
            // Their live events would stall until the feed is back: the
            // connections end (`unavailable`) and their clients reconnect.
            shared.routes().by_subject.clear();
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        if dispatched.swap(0, Ordering::Relaxed) > 0 {
            backoff = Duration::from_millis(100);
        } else {
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

async fn dispatch(stream: &Stream, shared: &Shared, dispatched: &AtomicU64) -> Result<(), QueueError> {
    let start_sequence = shared.routes().position + 1;
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence },
            max_batch: FEED_BATCH,
            ..Default::default()
        })
        .await
        .map_err(queue_error)?;
    let mut messages = consumer.messages().await.map_err(queue_error)?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(queue_error)?;
        let sequence = message.info().map_err(queue_error)?.stream_sequence;
        let mut routes = shared.routes();
        routes.position = routes.position.max(sequence);
        // Only messages for users connected here are decoded.
        if let Some(list) = routes.by_subject.get(message.subject.as_str()) {
            let delivered = Delivered::from_message(&message)?;
            for route in list {
                if let Err(mpsc::error::TrySendError::Full(_)) = route.tx.try_send(delivered.clone()) {
                    route.overflowed.store(true, Ordering::Release);
                }
            }
        }
        drop(routes);
        dispatched.fetch_add(1, Ordering::Relaxed);
    }
    Err(QueueError::new("the feed's consumer ended"))
}
