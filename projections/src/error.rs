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
}
