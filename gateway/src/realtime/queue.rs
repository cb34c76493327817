//! Reading one device's delivery queue in CHAT_DELIVERY: its user's subject
//! `chat.dlv.<user_id>`, where the `delivery` projection puts every event the
//! user's devices should see, and its own `chat.dlv.<user_id>.<device_id>`,
//! the to-device messages sent to it. One stream, so the two interleave in
//! one order, and a cursor (a stream sequence) is a position in both.
//!
//! A WebSocket's backlog and `GET /v1/inbox` read it with an ordered consumer
//! filtered to both subjects, starting just after a cursor; live events
//! reach connections through the process's [`super::feed`].

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::stream::{DirectGetErrorKind, Stream};
use async_nats::jetstream::{self, Message};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::headers::HEADER_RECORDED_AT;
use ciphertalk_streams::{JetStreamError, WithKind, subjects};
use futures::StreamExt;

use super::cursor::Cursor;

/// Messages one connection's consumer pulls from JetStream at a time.
const FOLLOW_BATCH: i64 = 64;

/// How long a page read waits for a message JetStream said was there.
const PAGE_WAIT: Duration = Duration::from_secs(5);

/// A delivery queue that cannot be read: the JetStream call that failed.
pub type QueueError = JetStreamError;

/// One event from a user's queue.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub cursor: Cursor,
    /// The client event (JSON) exactly as the projection wrote it.
    pub event: Bytes,
    /// When the domain event was committed (for delivery latency).
    pub recorded_at: Option<DateTime<Utc>>,
    /// Events stored after this one for the user when it was read.
    pub pending: u64,
}

impl Delivered {
    pub(super) fn from_message(message: &Message) -> Result<Self, QueueError> {
        let info = message.info().map_err(|err| err.with_kind(Js::Consume))?;
        let recorded_at = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(HEADER_RECORDED_AT))
            .and_then(|value| DateTime::parse_from_rfc3339(value.as_str()).ok())
            .map(|at| at.with_timezone(&Utc));
        Ok(Self {
            cursor: Cursor(info.stream_sequence),
            event: message.payload.clone(),
            recorded_at,
            pending: info.pending,
        })
    }
}

/// One user's queue from a cursor on: what is stored, then what comes.
pub struct Follow {
    /// Events after the start cursor when the consumer was made.
    pub backlog: u64,
    messages: Ordered,
    stream: Stream,
    consumer: String,
}

/// Removes the consumer as soon as its reader is done. Left alone,
/// JetStream keeps it for 30 s with a pull request pending and hands it the
/// user's next messages for nobody: a thousand clients reconnecting made
/// nats-server stall every delivery for a third of a second.
impl Drop for Follow {
    fn drop(&mut self) {
        let (stream, consumer) = (self.stream.clone(), std::mem::take(&mut self.consumer));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = stream.delete_consumer(&consumer).await {
                    tracing::debug!(error = %err, "a delivery queue consumer stays until it expires");
                }
            });
        }
    }
}

impl Follow {
    /// The next event, waiting for one to be stored if need be.
    pub async fn next(&mut self) -> Option<Result<Delivered, QueueError>> {
        let message = self.messages.next().await?;
        Some(message.map_err(|err| err.with_kind(Js::Consume)).and_then(|m| Delivered::from_message(&m)))
    }
}

/// Handle on CHAT_DELIVERY.
#[derive(Clone)]
pub struct DeliveryQueue {
    stream: Stream,
}

impl DeliveryQueue {
    pub async fn open(js: &jetstream::Context) -> Result<Self, QueueError> {
        let stream =
            js.get_stream(subjects::DELIVERY_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
        Ok(Self { stream })
    }

    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The cursor of the device's newest event, on either of its subjects (0
    /// when there is none): no valid cursor of the device is beyond it.
    pub async fn latest(&self, user: UserId, device: DeviceId) -> Result<Cursor, QueueError> {
        let [user_subject, device_subject] = subjects(user, device)?;
        let (for_user, for_device) =
            tokio::try_join!(self.last_on(user_subject), self.last_on(device_subject))?;
        Ok(for_user.max(for_device))
    }

    async fn last_on(&self, subject: String) -> Result<Cursor, QueueError> {
        match self.stream.direct_get_last_for_subject(subject).await {
            Ok(message) => Ok(Cursor(message.sequence)),
            Err(err) if err.kind() == DirectGetErrorKind::NotFound => Ok(Cursor(0)),
            Err(err) => Err(err.with_kind(Js::Read)),
        }
    }

    /// Follows the device's queue from just after `after`.
    pub async fn follow(&self, user: UserId, device: DeviceId, after: Cursor) -> Result<Follow, QueueError> {
        let consumer = self
            .stream
            .create_consumer(OrderedConfig {
                filter_subjects: subjects(user, device)?.into(),
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: after.0 + 1 },
                // Pulls of 500 (the client default) held per connection add up
                // to gigabytes with thousands of connections; the connection's
                // own queue already buffers what the socket has not taken.
                max_batch: FOLLOW_BATCH,
                ..Default::default()
            })
            .await
            .map_err(|err| err.with_kind(Js::Consume))?;
        let backlog = consumer.cached_info().num_pending;
        let name = consumer.cached_info().name.clone();
        let messages = consumer.messages().await.map_err(|err| err.with_kind(Js::Consume))?;
        Ok(Follow { backlog, messages, stream: self.stream.clone(), consumer: name })
    }

    /// Up to `limit` events after `after`, oldest first, and whether more follow.
    pub async fn page(
        &self,
        user: UserId,
        device: DeviceId,
        after: Cursor,
        limit: usize,
    ) -> Result<(Vec<Delivered>, bool), QueueError> {
        let mut follow = self.follow(user, device, after).await?;
        let wanted = usize::try_from(follow.backlog).unwrap_or(usize::MAX).min(limit);
        let mut items = Vec::with_capacity(wanted);
        while items.len() < wanted {
            match tokio::time::timeout(PAGE_WAIT, follow.next()).await {
                Ok(Some(item)) => items.push(item?),
                Ok(None) | Err(_) => return Err(QueueError::new(Js::Ended)),
            }
        }
        let more = items.last().is_some_and(|last| last.pending > 0);
        Ok((items, more))
    }
}

/// The device's two subjects: its user's (every device) and its own.
pub(super) fn subjects(user: UserId, device: DeviceId) -> Result<[String; 2], QueueError> {
    let user = user.to_string();
    let for_user = subjects::delivery(&user).map_err(|err| err.with_kind(Js::Subject))?;
    let for_device =
        subjects::device_delivery(&user, &device.to_string()).map_err(|err| err.with_kind(Js::Subject))?;
    Ok([for_user, for_device])
}
