//! In-memory stand-ins for aggregate services, a helper to run one command
//! against an aggregate, and a builder of the message command, for tests in
//! this crate and its callers. Pure and synchronous underneath: no I/O.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;

use crate::error::LookupError;
use crate::ids::{FileId, MessageId, RoomId, UserId};
use crate::room::{MessageFacts, MessageRef, RoomCommand, RoomEvent, RoomLookup, RoomServices};
use crate::values::{Base64Bytes, Ciphertext, ClientMsgId, Commitment, ContentType, FrankingKeyId};

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

/// Builds a [`RoomCommand::SendMessage`] from what every message has (ids,
/// body, time); the optional parts stay empty unless a test sets them.
#[derive(Debug, Clone)]
#[must_use]
pub struct SendMessageBuilder {
    message_id: MessageId,
    sender: UserId,
    client_msg_id: ClientMsgId,
    ciphertext: Ciphertext,
    content_type: ContentType,
    reply_to: Option<MessageId>,
    file_ids: Vec<FileId>,
    forwarded_from: Option<MessageRef>,
    commitment: Option<Commitment>,
    reporting_tag: Option<Base64Bytes>,
    franking_key_id: Option<FrankingKeyId>,
    sent_at: DateTime<Utc>,
}

impl SendMessageBuilder {
    /// A plain message: default content type, no reply, files, forward or franking.
    pub fn new(
        message_id: MessageId,
        sender: UserId,
        client_msg_id: ClientMsgId,
        ciphertext: Ciphertext,
        sent_at: DateTime<Utc>,
    ) -> Self {
        Self {
            message_id,
            sender,
            client_msg_id,
            ciphertext,
            content_type: ContentType::default(),
            reply_to: None,
            file_ids: Vec::new(),
            forwarded_from: None,
            commitment: None,
            reporting_tag: None,
            franking_key_id: None,
            sent_at,
        }
    }

    pub fn content_type(mut self, content_type: ContentType) -> Self {
        self.content_type = content_type;
        self
    }

    pub fn reply_to(mut self, message: MessageId) -> Self {
        self.reply_to = Some(message);
        self
    }

    pub fn file_ids(mut self, file_ids: Vec<FileId>) -> Self {
        self.file_ids = file_ids;
        self
    }

    pub fn forwarded_from(mut self, original: MessageRef) -> Self {
        self.forwarded_from = Some(original);
        self
    }

    pub fn commitment(mut self, commitment: Commitment) -> Self {
        self.commitment = Some(commitment);
        self
    }

    pub fn reporting_tag(mut self, tag: Base64Bytes) -> Self {
        self.reporting_tag = Some(tag);
        self
    }

    pub fn franking_key_id(mut self, key_id: FrankingKeyId) -> Self {
        self.franking_key_id = Some(key_id);
        self
    }

    /// The command.
    #[must_use]
    pub fn build(self) -> RoomCommand {
        RoomCommand::SendMessage {
            message_id: self.message_id,
            sender: self.sender,
            client_msg_id: self.client_msg_id,
            ciphertext: self.ciphertext,
            content_type: self.content_type,
            reply_to: self.reply_to,
            file_ids: self.file_ids,
            forwarded_from: self.forwarded_from,
            commitment: self.commitment,
            reporting_tag: self.reporting_tag,
            franking_key_id: self.franking_key_id,
            sent_at: self.sent_at,
        }
    }

    /// The `MessageSent` a room records for this message as number `seq`
    /// (unfranked: a room's franker would add the tag).
    #[must_use]
    pub fn sent(self, seq: u64) -> RoomEvent {
        RoomEvent::MessageSent {
            message_id: self.message_id,
            seq,
            sender_id: self.sender,
            client_msg_id: self.client_msg_id,
            ciphertext: self.ciphertext,
            content_type: self.content_type,
            reply_to: self.reply_to,
            file_ids: self.file_ids,
            forwarded_from: self.forwarded_from,
            commitment: self.commitment,
            reporting_tag: self.reporting_tag,
            franking_key_id: self.franking_key_id,
            sent_at: self.sent_at,
        }
    }
}
