//! What is asked of the event store beyond an aggregate's own state: by the
//! room aggregate (facts about one message, whether one user blocks another)
//! and by the routes (who is registered, the original of a repeated send).
//! The event store is never behind the command being decided.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ciphertalk_domain::error::LookupError;
use ciphertalk_domain::ids::{MessageId, RoomId, UserId};
use ciphertalk_domain::room::{MessageFacts, RoomLookup};
use ciphertalk_domain::user::User;
use cqrs_es::Aggregate;

use crate::store::{AggregateStore, StoreError};

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

    /// Whether every one of `users` is registered. The first event of a user
    /// aggregate is its registration, so the event store answers exactly.
    pub async fn all_registered(&self, users: &[UserId]) -> Result<bool, sqlx::Error> {
        let mut ids: Vec<String> = users.iter().map(ToString::to_string).collect();
        ids.sort_unstable();
        ids.dedup();
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_type = $1 AND aggregate_id = ANY($2) AND sequence = 1",
        )
        .bind(User::TYPE)
        .bind(&ids)
        .fetch_one(self.store.pool())
        .await?;
        Ok(usize::try_from(found).is_ok_and(|found| found == ids.len()))
    }

    /// Whether `blocker` has blocked `blocked`, from `blocker`'s User
    /// aggregate: the write side's truth, for decisions a lagging read model
    /// must not make (the read side's is the delivery projection's).
    pub async fn has_blocked_per_aggregate(
        &self,
        blocker: UserId,
        blocked: UserId,
    ) -> Result<bool, StoreError> {
        let user = self.store.load::<User>(&blocker.to_string()).await?;
        Ok(user.aggregate.has_blocked(blocked))
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
        self.has_blocked_per_aggregate(blocker, blocked).await.map_err(lookup_error)
    }
}
