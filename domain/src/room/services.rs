//! What a room needs to know that it does not keep: facts about individual
//! messages (the room holds no per-message state, so it loads in bounded
//! time) and block relations (owned by the users' aggregates).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::LookupError;
use crate::ids::{MessageId, RoomId, UserId};

/// The facts about one message that edit and delete rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFacts {
    pub sender_id: UserId,
    pub seq: u64,
    pub sent_at: DateTime<Utc>,
    /// Deleted for everyone or taken down.
    pub deleted: bool,
}

/// Read access the write side provides to the room (usually over read models).
/// It must see every event committed before the command was loaded: stale
/// facts could let an edit through on a just-deleted message.
#[async_trait]
pub trait RoomLookup: Send + Sync {
    /// The facts of `message` in `room`, or `None` if it is not in that room.
    async fn message(&self, room: RoomId, message: MessageId) -> Result<Option<MessageFacts>, LookupError>;

    /// Whether `blocker` has blocked `blocked`.
    async fn is_blocked(&self, blocker: UserId, blocked: UserId) -> Result<bool, LookupError>;
}

/// The services of the room aggregate.
#[derive(Clone)]
pub struct RoomServices {
    lookup: Arc<dyn RoomLookup>,
}

impl RoomServices {
    /// Services backed by `lookup`.
    #[must_use]
    pub fn new(lookup: Arc<dyn RoomLookup>) -> Self {
        Self { lookup }
    }

    /// The lookup.
    #[must_use]
    pub fn lookup(&self) -> &dyn RoomLookup {
        self.lookup.as_ref()
    }
}

impl fmt::Debug for RoomServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomServices").finish_non_exhaustive()
    }
}
