//! What a room needs to know that it does not keep: facts about individual
//! messages (the room holds no per-message state, so it loads in bounded
//! time), block relations (owned by the users' aggregates), and the server's
//! franking key (a secret the domain may use but never holds).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::LookupError;
use crate::ids::{MessageId, RoomId, UserId};
use crate::values::{Base64Bytes, FrankingKeyId};

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

/// Makes reporting tags: an HMAC under the server's secret franking key over
/// [`crate::room::franking::FrankingInput::encode`]. The room asks for the tag
/// while deciding a send, so the tag binds the very `seq` the message gets,
/// however many sends race for the room.
pub trait Franker: Send + Sync {
    /// Names the key, stored with every tag it makes.
    fn key_id(&self) -> &FrankingKeyId;

    /// The reporting tag over `encoded`.
    fn tag(&self, encoded: &[u8]) -> Base64Bytes;
}

/// Most members a room has unless configured otherwise: an organisation's
/// all-hands room.
pub const DEFAULT_MAX_MEMBERS: usize = 10_000;

/// The services of the room aggregate.
#[derive(Clone)]
pub struct RoomServices {
    lookup: Arc<dyn RoomLookup>,
    franker: Option<Arc<dyn Franker>>,
    max_members: usize,
}

impl RoomServices {
    /// Services backed by `lookup`, without franking.
    #[must_use]
    pub fn new(lookup: Arc<dyn RoomLookup>) -> Self {
        Self { lookup, franker: None, max_members: DEFAULT_MAX_MEMBERS }
    }

    /// Rooms have at most `max` members (the creator included).
    #[must_use]
    pub fn with_max_members(mut self, max: usize) -> Self {
        self.max_members = max;
        self
    }

    /// Most members a room may have.
    #[must_use]
    pub fn max_members(&self) -> usize {
        self.max_members
    }

    /// Also frank messages sent with a commitment.
    #[must_use]
    pub fn with_franker(mut self, franker: Arc<dyn Franker>) -> Self {
        self.franker = Some(franker);
        self
    }

    /// The lookup.
    #[must_use]
    pub fn lookup(&self) -> &dyn RoomLookup {
        self.lookup.as_ref()
    }

    /// The franker, when the server franks messages.
    #[must_use]
    pub fn franker(&self) -> Option<&dyn Franker> {
        self.franker.as_deref()
    }
}

impl fmt::Debug for RoomServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomServices").finish_non_exhaustive()
    }
}
