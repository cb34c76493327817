//! How far the projections trail CHAT_EVENTS, as every gateway process sees
//! it: the events their durable consumers still hold (not yet delivered, or
//! delivered and not yet acknowledged), read from JetStream every few
//! hundred milliseconds.
//!
//! Sends answer at their commit, so nothing else holds senders to the read
//! side's pace: under an overload the write path accepts faster than the
//! projections (the delivery fan-out first) apply, and the deliveries fall
//! further and further behind. A send waits here, bounded, while the backlog
//! is above a limit, which turns an overload into slower answers instead.

use std::time::Duration;

use async_nats::jetstream;
use ciphertalk_streams::subjects;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::projection::Projection;

/// How often the backlog is read (four consumer-info requests).
const EVERY: Duration = Duration::from_millis(250);

/// The read side's backlog, refreshed in the background.
#[derive(Debug, Clone)]
pub struct Backlog {
    events: watch::Receiver<u64>,
}

impl Backlog {
    /// Reads the backlog every [`EVERY`] until `shutdown`.
    pub fn follow(js: jetstream::Context, shutdown: CancellationToken) -> Self {
        let (tx, events) = watch::channel(0);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let events = read(&js).await;
                metrics::gauge!("ciphertalk_projection_backlog_events").set(events as f64);
                tx.send_replace(events);
            }
        });
        Self { events }
    }

    /// Events the busiest projection has still to apply, as last read.
    pub fn events(&self) -> u64 {
        *self.events.borrow()
    }

    /// Waits until the backlog is at most `limit` events, or `timeout` passes.
    /// Returns whether it got there.
    pub async fn wait_within(&self, limit: u64, timeout: Duration) -> bool {
        let mut events = self.events.clone();
        let within = tokio::time::timeout(timeout, events.wait_for(|events| *events <= limit)).await;
        // A closed channel (shutting down) holds no one back.
        within.is_ok()
    }
}

/// The largest backlog over the projections' consumers; one that cannot be
/// read (not made yet, NATS away) counts as none: the gate only slows
/// senders down, and must not stop them when it cannot see.
async fn read(js: &jetstream::Context) -> u64 {
    // A handle without a request: only the consumers are asked.
    let Ok(stream) = js.get_stream_no_info(subjects::EVENTS_STREAM).await else { return 0 };
    let mut largest = 0;
    for projection in Projection::ALL {
        match stream.consumer_info(projection.durable_name()).await {
            Ok(info) => largest = largest.max(info.num_pending + info.num_ack_pending as u64),
            Err(err) => {
                tracing::debug!(projection = projection.name(), error = %err, "cannot read a projection's backlog")
            }
        }
    }
    largest
}
