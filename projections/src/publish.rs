//! Publishing a batch's delivery messages into CHAT_DELIVERY, in order,
//! exactly once, through a [`chain`] (one JetStream acknowledgement per few
//! hundred messages). Only the delivery projector's leader writes to
//! CHAT_DELIVERY.
//!
//! Exactly once: a batch applied again (its commit failed, or was lost with a
//! crash) resumes after the last message the stream holds, found by its
//! [`HEADER_DELIVERY_ID`]: messages are published in the order of their
//! events and, within an event, of their recipients, so everything up to that
//! one is stored already. This needs no de-duplication window. A leader reads
//! the stream's end once; after that its own chain says where the stream ends
//! until something fails (and a failure ends its leadership session).
//!
//! What a chain stored is then offered to this process's live feed
//! ([`crate::handoff`]), with the stream sequences it got.

use std::fmt;
use std::str::FromStr;

use async_nats::HeaderMap;
use async_nats::jetstream;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::headers::{HEADER_DELIVERY_ID, HEADER_RECORDED_AT};
use ciphertalk_streams::{Link, WithKind, chain, subjects};
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::handoff::{HandoffSender, StoredDelivery, StoredRun};

/// Which event a delivery message carries, and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryId {
    /// The CHAT_EVENTS sequence of the event.
    pub event_seq: u64,
    pub user: Uuid,
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.event_seq, self.user)
    }
}

impl FromStr for DeliveryId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, user) = s.split_once(':').ok_or(())?;
        Ok(Self { event_seq: seq.parse().map_err(|_| ())?, user: user.parse().map_err(|_| ())? })
    }
}

/// One message for one user's delivery queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub id: DeliveryId,
    pub recorded_at: DateTime<Utc>,
    pub payload: Bytes,
}

/// Publishes one leader session's delivery messages.
pub(crate) struct DeliveryPublisher {
    js: jetstream::Context,
    /// Where the stream ends, as this session read it or its last chain left it.
    end: Option<StreamEnd>,
    handoff: Option<HandoffSender>,
}

/// The stream's last sequence and which message is stored there.
#[derive(Debug, Clone, Copy)]
struct StreamEnd {
    last_seq: u64,
    tail: Option<DeliveryId>,
}

impl DeliveryPublisher {
    pub(crate) fn new(js: jetstream::Context, handoff: Option<HandoffSender>) -> Self {
        Self { js, end: None, handoff }
    }

    /// Publishes `outgoing` (in stream order) and returns once JetStream holds all of it.
    pub(crate) async fn publish(&mut self, outgoing: Vec<Outgoing>) -> Result<(), ProjectorError> {
        let Some(tail) = outgoing.last().map(|message| message.id) else { return Ok(()) };
        // Taken: if anything below fails, the next batch re-reads the stream's end.
        let end = match self.end.take() {
            Some(end) => end,
            None => self.read_end().await?,
        };
        let stored = end.tail.map_or(0, |tail| already_stored(&outgoing, tail));
        let count = outgoing.len() - stored;
        if count == 0 {
            self.end = Some(end);
            return Ok(());
        }
        // What the live feed is handed, when there is one to hand it to.
        let mut handed = self.handoff.as_ref().map(|_| Vec::with_capacity(count));
        let links = outgoing
            .into_iter()
            .skip(stored)
            .map(|message| {
                let subject = subjects::delivery(&message.id.user.to_string())
                    .map_err(|err| err.with_kind(Js::Subject))?;
                let mut headers = HeaderMap::new();
                headers.insert(HEADER_DELIVERY_ID, message.id.to_string().as_str());
                headers.insert(HEADER_RECORDED_AT, message.recorded_at.to_rfc3339().as_str());
                if let Some(handed) = handed.as_mut() {
                    handed.push(StoredDelivery {
                        subject: subject.clone(),
                        recorded_at: message.recorded_at,
                        payload: message.payload.clone(),
                    });
                }
                Ok(Link { subject, headers, payload: message.payload })
            })
            .collect::<Result<Vec<_>, ProjectorError>>()?;
        let last_seq = chain::publish(&self.js, end.last_seq, links).await?;
        if let (Some(handoff), Some(messages)) = (&self.handoff, handed) {
            handoff.offer(StoredRun { first_seq: end.last_seq + 1, messages });
        }
        self.end = Some(StreamEnd { last_seq, tail: Some(tail) });
        metrics::counter!("ciphertalk_delivery_messages_total").increment(count as u64);
        Ok(())
    }

    async fn read_end(&self) -> Result<StreamEnd, ProjectorError> {
        let mut stream =
            self.js.get_stream(subjects::DELIVERY_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
        let last_seq = stream.info().await.map_err(|err| err.with_kind(Js::Stream))?.state.last_sequence;
        let tail = match last_seq {
            0 => None,
            seq => stream.get_raw_message(seq).await.ok().and_then(|message| {
                message.headers.get(HEADER_DELIVERY_ID).and_then(|id| id.as_str().parse::<DeliveryId>().ok())
            }),
        };
        Ok(StreamEnd { last_seq, tail })
    }
}

/// How many of `outgoing` the stream holds already, given the last message
/// it holds: those of earlier events, and of the tail's event those up to
/// and including the tail's recipient.
fn already_stored(outgoing: &[Outgoing], tail: DeliveryId) -> usize {
    match outgoing.iter().position(|message| message.id == tail) {
        Some(index) => index + 1,
        None => outgoing.iter().take_while(|message| message.id.event_seq <= tail.event_seq).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(event_seq: u64, user: u128) -> Outgoing {
        Outgoing {
            id: DeliveryId { event_seq, user: Uuid::from_u128(user) },
            recorded_at: DateTime::<Utc>::MIN_UTC,
            payload: Bytes::new(),
        }
    }

    #[test]
    fn delivery_ids_round_trip() {
        let id = DeliveryId { event_seq: 42, user: Uuid::from_u128(7) };
        assert_eq!(id.to_string().parse::<DeliveryId>(), Ok(id));
        assert!("42".parse::<DeliveryId>().is_err());
        assert!("x:00000000-0000-0000-0000-000000000007".parse::<DeliveryId>().is_err());
    }

    #[test]
    fn a_retried_batch_resumes_after_the_streams_last_message() {
        let batch = [outgoing(5, 1), outgoing(5, 2), outgoing(6, 1), outgoing(8, 3)];
        let id = |seq, user| DeliveryId { event_seq: seq, user: Uuid::from_u128(user) };
        // The tail is in this batch: everything up to it is stored.
        assert_eq!(already_stored(&batch, id(5, 2)), 2);
        assert_eq!(already_stored(&batch, id(8, 3)), 4);
        // The tail comes from an earlier batch: nothing is stored.
        assert_eq!(already_stored(&batch, id(4, 9)), 0);
        // The tail comes from a later batch (a lost commit replayed): all is stored.
        assert_eq!(already_stored(&batch, id(9, 1)), 4);
        // The tail's event has no message here (e.g. no recipient left).
        assert_eq!(already_stored(&batch, id(7, 1)), 3);
    }
}
