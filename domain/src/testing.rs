//! In-memory stand-ins for aggregate services, and a helper to run one
//! command against an aggregate, for tests in this crate and its callers.
//! Pure and synchronous underneath: no I/O.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;

use crate::error::LookupError;
use crate::ids::{MessageId, RoomId, UserId};
use crate::room::{MessageFacts, RoomEvent, RoomLookup, RoomServices};

/// A [`RoomLookup`] over maps, fed by hand or by [`Self::record`]ing room
/// events the way the timeline projection would.
#[derive(Debug, Default)]
pub struct InMemoryRoomLookup {
    messages: RwLock<HashMap<(RoomId, MessageId), MessageFacts>>,
    blocks: RwLock<HashSet<(UserId, UserId)>>,
    failing: AtomicBool,
}

impl InMemoryRoomLookup {
    /// An empty lookup.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Room services backed by this lookup.
    #[must_use]
    pub fn services(self: &Arc<Self>) -> RoomServices {
        RoomServices::new(Arc::clone(self) as Arc<dyn RoomLookup>)
    }

    /// `blocker` blocks `blocked`.
    pub fn block(&self, blocker: UserId, blocked: UserId) {
        self.blocks.write().unwrap_or_else(PoisonError::into_inner).insert((blocker, blocked));
    }

    /// `blocker` unblocks `blocked`.
    pub fn unblock(&self, blocker: UserId, blocked: UserId) {
        self.blocks.write().unwrap_or_else(PoisonError::into_inner).remove(&(blocker, blocked));
    }

    /// Stores the facts of one message.
    pub fn insert_message(&self, room: RoomId, message: MessageId, facts: MessageFacts) {
        self.messages.write().unwrap_or_else(PoisonError::into_inner).insert((room, message), facts);
    }

    /// Updates message facts from a room event, as a projection would.
    pub fn record(&self, room: RoomId, event: &RoomEvent) {
        let mut messages = self.messages.write().unwrap_or_else(PoisonError::into_inner);
        match event {
            RoomEvent::MessageSent { message_id, seq, sender_id, sent_at, .. } => {
                messages.insert(
                    (room, *message_id),
                    MessageFacts { sender_id: *sender_id, seq: *seq, sent_at: *sent_at, deleted: false },
                );
            }
            RoomEvent::MessageDeleted { message_id, .. } | RoomEvent::MessageTakenDown { message_id, .. } => {
                if let Some(facts) = messages.get_mut(&(room, *message_id)) {
                    facts.deleted = true;
                }
            }
            _ => {}
        }
    }

    /// Makes every lookup fail (to test how `unavailable` surfaces).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }

    fn check(&self) -> Result<(), LookupError> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(LookupError("in-memory lookup set to fail".to_owned()));
        }
        Ok(())
    }
}

#[async_trait]
impl RoomLookup for InMemoryRoomLookup {
    async fn message(&self, room: RoomId, message: MessageId) -> Result<Option<MessageFacts>, LookupError> {
        self.check()?;
        Ok(self.messages.read().unwrap_or_else(PoisonError::into_inner).get(&(room, message)).copied())
    }

    async fn is_blocked(&self, blocker: UserId, blocked: UserId) -> Result<bool, LookupError> {
        self.check()?;
        Ok(self.blocks.read().unwrap_or_else(PoisonError::into_inner).contains(&(blocker, blocked)))
    }
}

/// Handles `command` on `aggregate` (applying the events, as the framework
/// does) and returns the events. Every aggregate here decides before it
/// writes, so on error the aggregate is unchanged.
pub async fn execute<A: Aggregate>(
    aggregate: &mut A,
    command: A::Command,
    services: &A::Services,
) -> Result<Vec<A::Event>, A::Error> {
    let sink = EventSink::default();
    aggregate.handle(command, services, &sink).await?;
    Ok(sink.collect().await)
}
