//! What the room aggregate asks the store: facts about one message, and
//! whether one user blocks another. Both are read from the event store, which
//! is never behind the command being decided.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ciphertalk_domain::error::LookupError;
use ciphertalk_domain::ids::{MessageId, RoomId, UserId};
use ciphertalk_domain::room::{MessageFacts, RoomLookup};
use ciphertalk_domain::user::User;

use crate::store::AggregateStore;

pub struct EventStoreLookup {
    store: AggregateStore,
}

impl EventStoreLookup {
    pub fn new(store: AggregateStore) -> Self {
        Self { store }
    }
}

impl EventStoreLookup {
    /// The message `sender`'s send with `client_msg_id` produced in `room`,
    /// from the event store: for a retry the room's idempotency window no
    /// longer remembers (the store's unique index refused its second copy).
    pub async fn client_message(
        &self,
        room: RoomId,
        sender: UserId,
        client_msg_id: &str,
    ) -> Result<Option<MessageId>, LookupError> {
        let found: Option<String> = sqlx::query_scalar(
            // `events_unique_key` finds it (the key the appender wrote).
            "SELECT payload -> 'MessageSent' ->> 'message_id' FROM events
              WHERE aggregate_type = 'room' AND aggregate_id = $1 AND unique_key = $2",
        )
        .bind(room.to_string())
        .bind(crate::unique_key::client_message_key(sender, client_msg_id))
        .fetch_optional(self.store.pool())
        .await
        .map_err(lookup_error)?;
        found.map(|id| id.parse().map_err(lookup_error)).transpose()
    }
}

fn lookup_error(err: impl std::fmt::Display) -> LookupError {
    LookupError(err.to_string())
}

#[derive(serde::Deserialize)]
struct SentFields {
    sender_id: UserId,
    seq: u64,
    sent_at: DateTime<Utc>,
}

#[async_trait]
impl RoomLookup for EventStoreLookup {
    async fn message(&self, room: RoomId, message: MessageId) -> Result<Option<MessageFacts>, LookupError> {
        let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
            // Literals, not parameters, where they match `events_room_message`'s
            // predicate: a generic plan can only use that partial index then.
            "SELECT event_type, payload -> event_type FROM events
              WHERE aggregate_type = 'room' AND aggregate_id = $1
                AND event_type IN ('MessageSent', 'MessageDeleted', 'MessageTakenDown')
                AND (payload -> event_type ->> 'message_id') = $2",
        )
        .bind(room.to_string())
        .bind(message.to_string())
        .fetch_all(self.store.pool())
        .await
        .map_err(lookup_error)?;
        let mut facts: Option<MessageFacts> = None;
        let mut deleted = false;
        for (event_type, fields) in rows {
            if event_type == "MessageSent" {
                let sent: SentFields = serde_json::from_value(fields).map_err(lookup_error)?;
                facts = Some(MessageFacts {
                    sender_id: sent.sender_id,
                    seq: sent.seq,
                    sent_at: sent.sent_at,
                    deleted: false,
                });
            } else {
                deleted = true;
            }
        }
        Ok(facts.map(|f| MessageFacts { deleted, ..f }))
    }

    async fn is_blocked(&self, blocker: UserId, blocked: UserId) -> Result<bool, LookupError> {
        let user = self.store.load::<User>(&blocker.to_string()).await.map_err(lookup_error)?;
        Ok(user.aggregate.has_blocked(blocked))
    }
}
