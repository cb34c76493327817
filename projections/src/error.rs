//! Why a projector's leader session ended; it starts over after a pause.

use ciphertalk_streams::{ChainError, JetStreamError};

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("jetstream: {0}")]
    JetStream(#[from] JetStreamError),
    /// Delivery messages not all stored in CHAT_DELIVERY.
    #[error("jetstream: {0}")]
    Chain(#[from] ChainError),
    #[error("leadership lost")]
    LostLeadership,
    /// A filtered consumer delivered messages this leader did not receive
    /// (another process pulled from it): it cannot tell what it missed from
    /// the stream sequences, so it starts over from its stored offset.
    #[error("the consumer delivered {missed} message(s) elsewhere before sequence {delivery}")]
    DeliveredElsewhere { delivery: u64, missed: u64 },
    /// The projection's output stream ends before what its applied events
    /// produced (its NATS store was lost or restored from an older copy):
    /// publishing on would give new messages the sequences devices have
    /// already acknowledged, so nothing is published until it is refilled.
    #[error(
        "{stream} ends at {stream_last} but the {projection} projection had published up to {published}: \
         its store was lost; run `ciphertalk relay rebuild`"
    )]
    OutputBehind { projection: &'static str, stream: &'static str, stream_last: u64, published: u64 },
}
