//! Handing delivery messages that JetStream holds straight to this process's
//! live feed, so a gateway that runs the delivery leader does not read back
//! from nats-server every message it has just written there.
//!
//! Only an offer. The stream stays the record: a batch carries the stream
//! sequence of its first message, and the feed takes it only if it continues
//! exactly where the feed's dispatching stands; otherwise (a batch dropped
//! because the feed was slow, another process leading) the feed reads the
//! stream. Offering never waits for the feed.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// Batches waiting for the feed; beyond, new ones are dropped (and read from
/// the stream instead).
const WAITING_BATCHES: usize = 64;

/// One message as CHAT_DELIVERY stores it.
#[derive(Debug, Clone)]
pub struct StoredDelivery {
    /// `chat.dlv.<user_id>`, or `chat.dlv.<user_id>.<device_id>` for a to-device message.
    pub subject: String,
    pub recorded_at: DateTime<Utc>,
    pub payload: Bytes,
}

/// Messages stored at consecutive stream sequences from `first_seq` on.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub first_seq: u64,
    pub messages: Vec<StoredDelivery>,
}

impl StoredRun {
    /// The stream sequence of the last message (`first_seq - 1` when empty).
    pub fn last_seq(&self) -> u64 {
        (self.first_seq + self.messages.len() as u64).saturating_sub(1)
    }
}

/// The delivery leader's end.
#[derive(Clone, Debug)]
pub struct HandoffSender(mpsc::Sender<StoredRun>);

/// The live feed's end.
#[derive(Debug)]
pub struct HandoffReceiver(mpsc::Receiver<StoredRun>);

pub fn channel() -> (HandoffSender, HandoffReceiver) {
    let (sender, receiver) = mpsc::channel(WAITING_BATCHES);
    (HandoffSender(sender), HandoffReceiver(receiver))
}

impl HandoffSender {
    /// Offers `run` to the feed, which reads it from the stream if it is not taken.
    pub fn offer(&self, run: StoredRun) {
        if !run.messages.is_empty() {
            let _ = self.0.try_send(run);
        }
    }
}

impl HandoffReceiver {
    /// The next run offered; `None` once no leader in this process can offer more.
    pub async fn recv(&mut self) -> Option<StoredRun> {
        self.0.recv().await
    }
}
