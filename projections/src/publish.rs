//! Publishing a batch's delivery messages into CHAT_DELIVERY, in order,
//! exactly once, through a [`chain`] (one JetStream acknowledgement per few
//! hundred messages). Only the delivery projector's leader writes to
//! CHAT_DELIVERY.
//!
//! Exactly once: a batch applied again (its commit failed, or was lost with a
//! crash) resumes after the last message the stream holds, found by its
//! [`HEADER_DELIVERY_ID`]: messages are published in the order of their
//! events and, within an event, of their recipients (a to-device batch: of
//! its messages), so everything up to that one is stored already. This needs no de-duplication window. A leader reads
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
///
/// Written as `<event_seq>:<user>` for the messages of which an event makes
/// at most one per user (room and device events: the format the code before
/// to-device messages wrote, still read), and `<event_seq>.<part>:<user>` for
/// a to-device batch, which may hold several for one user (their devices, or
/// one device twice): `part` is the message's place among the batch's
/// messages delivered, so each is told apart and they stay in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryId {
    /// The CHAT_EVENTS sequence of the event.
    pub event_seq: u64,
    pub user: Uuid,
    pub part: Option<u32>,
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.part {
            None => write!(f, "{}:{}", self.event_seq, self.user),
            Some(part) => write!(f, "{}.{part}:{}", self.event_seq, self.user),
        }
    }
}

impl FromStr for DeliveryId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (position, user) = s.split_once(':').ok_or(())?;
        let (seq, part) = match position.split_once('.') {
            Some((seq, part)) => (seq, Some(part.parse().map_err(|_| ())?)),
            None => (position, None),
        };
        Ok(Self { event_seq: seq.parse().map_err(|_| ())?, user: user.parse().map_err(|_| ())?, part })
    }
}

/// One message for one user's delivery queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub id: DeliveryId,
    /// The one device it is for (a to-device message, on that device's
    /// subject); `None`: every device of the user (the user's subject).
    pub device: Option<Uuid>,
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
        // An event's messages share its commit time: formatted once for them all.
        let mut recorded_at: Option<(DateTime<Utc>, String)> = None;
        let links = outgoing
            .into_iter()
            .skip(stored)
            .map(|message| {
                let user = message.id.user.to_string();
                let subject = match message.device {
                    None => subjects::delivery(&user),
                    Some(device) => subjects::device_delivery(&user, &device.to_string()),
                }
                .map_err(|err| err.with_kind(Js::Subject))?;
                let mut headers = HeaderMap::new();
                headers.insert(HEADER_DELIVERY_ID, message.id.to_string().as_str());
                let recorded = match &recorded_at {
                    Some((at, text)) if *at == message.recorded_at => text,
                    _ => &recorded_at.insert((message.recorded_at, message.recorded_at.to_rfc3339())).1,
                };
                headers.insert(HEADER_RECORDED_AT, recorded.as_str());
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

    /// Refuses, before anything is published, a CHAT_DELIVERY that ends before
    /// `published`, the sequence the committed batches reached.
    pub(crate) async fn check_holds(&mut self, published: u64) -> Result<(), ProjectorError> {
        let end = self.read_end().await?;
        if end.last_seq < published {
            return Err(ProjectorError::OutputBehind {
                projection: "delivery",
                stream: subjects::DELIVERY_STREAM,
                stream_last: end.last_seq,
                published,
            });
        }
        self.end = Some(end);
        Ok(())
    }

    /// The stream's last sequence as the last chain left it (or as read).
    pub(crate) fn stream_last_seq(&self) -> Option<u64> {
        self.end.map(|end| end.last_seq)
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
/// and including the tail (by recipient; for a to-device batch, by part).
fn already_stored(outgoing: &[Outgoing], tail: DeliveryId) -> usize {
    match outgoing.iter().position(|message| message.id == tail) {
        Some(index) => index + 1,
        None => outgoing
            .iter()
            .take_while(|message| {
                message.id.event_seq < tail.event_seq
                    || (message.id.event_seq == tail.event_seq
                        && message.id.part.zip(tail.part).is_none_or(|(part, last)| part <= last))
            })
            .count(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn outgoing(event_seq: u64, user: u128) -> Outgoing {
        Outgoing {
            id: DeliveryId { event_seq, user: Uuid::from_u128(user), part: None },
            device: None,
            recorded_at: DateTime::<Utc>::MIN_UTC,
            payload: Bytes::new(),
        }
    }

    /// Message `part` of a to-device batch stored at `event_seq`, for `device` of `user`.
    fn to_device(event_seq: u64, part: u32, user: u128, device: u128) -> Outgoing {
        Outgoing {
            id: DeliveryId { event_seq, user: Uuid::from_u128(user), part: Some(part) },
            device: Some(Uuid::from_u128(device)),
            ..outgoing(event_seq, user)
        }
    }

    #[test]
    fn delivery_ids_round_trip() {
        let id = DeliveryId { event_seq: 42, user: Uuid::from_u128(7), part: None };
        assert_eq!(id.to_string(), "42:00000000-0000-0000-0000-000000000007", "the format before to-device");
        assert_eq!(id.to_string().parse::<DeliveryId>(), Ok(id));
        let part = DeliveryId { part: Some(3), ..id };
        assert_eq!(part.to_string(), "42.3:00000000-0000-0000-0000-000000000007");
        assert_eq!(part.to_string().parse::<DeliveryId>(), Ok(part));
        assert!("42".parse::<DeliveryId>().is_err());
        assert!("x:00000000-0000-0000-0000-000000000007".parse::<DeliveryId>().is_err());
        assert!("42.x:00000000-0000-0000-0000-000000000007".parse::<DeliveryId>().is_err());
    }

    #[test]
    fn a_retried_to_device_batch_resumes_after_the_streams_last_message() {
        // One batch (event 7) with three messages to user 1's devices 10, 11
        // and 10 again, one to user 2, between room events.
        let batch = [
            outgoing(6, 1),
            to_device(7, 0, 1, 10),
            to_device(7, 1, 1, 11),
            to_device(7, 2, 1, 10),
            to_device(7, 3, 2, 20),
            outgoing(8, 1),
        ];
        let part =
            |seq, part, user| DeliveryId { event_seq: seq, user: Uuid::from_u128(user), part: Some(part) };
        // Each message of the batch is told apart, the same device's twice too.
        for stored in 1..=4 {
            let tail = batch[stored].id;
            assert_eq!(already_stored(&batch, tail), stored + 1, "{tail}");
        }
        assert_eq!(already_stored(&batch, part(7, 2, 1)), 4, "not the first message to device 10");
        // The tail read back from the stream's header.
        let header = part(7, 1, 1).to_string();
        assert_eq!(already_stored(&batch, header.parse().unwrap()), 3);
        // A tail of the same batch not among these messages still counts by part.
        assert_eq!(already_stored(&batch, part(7, 9, 3)), 5);
        // Earlier and later tails.
        assert_eq!(already_stored(&batch, part(5, 0, 1)), 0);
        assert_eq!(already_stored(&batch, part(9, 0, 1)), 6);
        // A tail in the format written before to-device messages.
        let old = DeliveryId { event_seq: 6, user: Uuid::from_u128(1), part: None };
        assert_eq!(already_stored(&batch, old.to_string().parse().unwrap()), 1);
    }

    #[test]
    fn a_retried_batch_resumes_after_the_streams_last_message() {
        let batch = [outgoing(5, 1), outgoing(5, 2), outgoing(6, 1), outgoing(8, 3)];
        let id = |seq, user| DeliveryId { event_seq: seq, user: Uuid::from_u128(user), part: None };
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
