//! Publishing messages into one stream in order, exactly as given, without a
//! JetStream round trip per message.
//!
//! Every message names the stream sequence its predecessor must have got
//! (`Nats-Expected-Last-Sequence`), so JetStream stores none after one it
//! refused (a wrong predecessor, a duplicate `Nats-Msg-Id`, a limit): the
//! chain stops at the first gap. Most messages are therefore sent as plain
//! publishes without asking for an acknowledgement; every [`CONFIRM_EVERY`]th
//! and the last ask for one, and an acknowledgement at the sequence the chain
//! predicts proves that every message before it is stored.
//!
//! The relay (CHAT_EVENTS) and the delivery projection (CHAT_DELIVERY) each
//! publish through one chain at a time; both find where to resume after a
//! failure from the stream's last message, not from this module.

use std::fmt;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;

use crate::error::{Error, WithKind};

/// Messages published between two acknowledged ones.
pub const CONFIRM_EVERY: usize = 256;

/// One message of a chain.
#[derive(Debug)]
pub struct Link {
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

/// Why a chain did not end where it should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainErrorKind {
    /// A message was not sent, or its acknowledgement did not come.
    Publish,
    /// The stream refused a message (or stored something else before it):
    /// whoever publishes must re-read where the stream ends.
    Broken { stored: u64, expected: u64 },
}

impl fmt::Display for ChainErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Publish => f.write_str("publish failed"),
            Self::Broken { stored, expected } => {
                write!(f, "message stored at stream sequence {stored}, expected {expected}")
            }
        }
    }
}

/// A chain that did not end where it should have; a failed publish keeps async-nats's error.
pub type ChainError = Error<ChainErrorKind>;

/// Publishes `links` after stream sequence `last_seq` (the stream's last
/// message) and returns the sequence of the last one once JetStream holds
/// them all.
pub async fn publish(js: &jetstream::Context, last_seq: u64, links: Vec<Link>) -> Result<u64, ChainError> {
    let count = links.len();
    let client = js.client();
    let mut confirmations = Vec::with_capacity(count / CONFIRM_EVERY + 1);
    for (i, link) in links.into_iter().enumerate() {
        let expected_last = last_seq + i as u64;
        if (i + 1) % CONFIRM_EVERY == 0 || i + 1 == count {
            let message = PublishMessage::build()
                .payload(link.payload)
                .headers(link.headers)
                .expected_last_sequence(expected_last);
            let ack = js
                .send_publish(link.subject, message)
                .await
                .map_err(|err| err.with_kind(ChainErrorKind::Publish))?;
            confirmations.push((ack, expected_last + 1));
        } else {
            let mut headers = link.headers;
            headers
                .insert(async_nats::header::NATS_EXPECTED_LAST_SEQUENCE, expected_last.to_string().as_str());
            client
                .publish_with_headers(link.subject, headers, link.payload)
                .await
                .map_err(|err| err.with_kind(ChainErrorKind::Publish))?;
        }
    }
    for (ack, expected) in confirmations {
        let ack = ack.await.map_err(|err| err.with_kind(ChainErrorKind::Publish))?;
        // A duplicate is acknowledged with the sequence of its first copy.
        if ack.sequence != expected || ack.duplicate {
            return Err(ChainErrorKind::Broken { stored: ack.sequence, expected }.into());
        }
    }
    Ok(last_seq + count as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_chain_says_where_and_a_failed_publish_keeps_its_cause() {
        let broken: ChainError = ChainErrorKind::Broken { stored: 5, expected: 4 }.into();
        assert_eq!(broken.to_string(), "message stored at stream sequence 5, expected 4");
        let failed = "timed out".with_kind(ChainErrorKind::Publish);
        assert_eq!(failed.kind(), ChainErrorKind::Publish);
        assert_eq!(failed.to_string(), "publish failed: timed out");
    }
}
