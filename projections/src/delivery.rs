//! Projection `delivery`: fans each room event out to the members who should
//! see it, as a message on `chat.dlv.<user_id>` in CHAT_DELIVERY (each user's
//! FIFO queue, the offline inbox), and the realtime queries built on the same
//! membership.
//!
//! Deterministic. Who receives an event is decided from this projection's own
//! tables (members, blocks, message metadata), which it keeps from the same
//! ordered stream, so a replay decides exactly as the live run did.
//!
//! Exactly once per user. The projector publishes a batch's messages (see
//! [`crate::publish`]) and makes sure JetStream holds them before it commits
//! the batch; a batch applied again resumes after the last message stored. A
//! rebuild recomputes the tables and publishes nothing (the messages exist
//! already).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::{RoomId, UserId};
use ciphertalk_domain::room::RoomEvent;
use ciphertalk_domain::user::UserEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::client_event::ClientEvent;
use crate::projection::Sent;
use crate::publish::{DeliveryId, Outgoing};
use crate::timeline::Message;

/// Header carrying the commit time of the domain event (RFC 3339), from which
/// gateways measure delivery latency.
pub const HEADER_RECORDED_AT: &str = "Ct-Recorded-At";

/// A decoded event of an aggregate type this projection follows.
pub(crate) enum Followed {
    Room(RoomEvent),
    User(UserEvent),
}

/// Where an event came from, for message ids and latency headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pub stream_seq: u64,
    pub recorded_at: DateTime<Utc>,
}

pub(crate) async fn apply(
    conn: &mut PgConnection,
    aggregate: Uuid,
    event: Followed,
    origin: Origin,
    out: &mut Vec<Outgoing>,
) -> Result<(), sqlx::Error> {
    match event {
        Followed::User(event) => apply_user(conn, aggregate, event).await,
        Followed::Room(event) => apply_room(conn, RoomId::from_uuid(aggregate), event, origin, out).await,
    }
}

async fn apply_user(conn: &mut PgConnection, user: Uuid, event: UserEvent) -> Result<(), sqlx::Error> {
    match event {
        UserEvent::UserBlocked { blocked, .. } => {
            sqlx::query(
                "INSERT INTO delivery_blocks (user_id, blocked_id) VALUES ($1, $2)
                 ON CONFLICT (user_id, blocked_id) DO NOTHING",
            )
            .bind(user)
            .bind(blocked.as_uuid())
            .execute(conn)
            .await?;
        }
        UserEvent::UserUnblocked { blocked, .. } => {
            sqlx::query("DELETE FROM delivery_blocks WHERE user_id = $1 AND blocked_id = $2")
                .bind(user)
                .bind(blocked.as_uuid())
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn apply_room(
    conn: &mut PgConnection,
    room: RoomId,
    event: RoomEvent,
    origin: Origin,
    out: &mut Vec<Outgoing>,
) -> Result<(), sqlx::Error> {
    // Membership changes first where the subject must receive the event too
    // (a new member sees their own join; a leaver sees their own leave).
    let mut extra = None;
    match &event {
        RoomEvent::RoomCreated { creator, members, .. } => {
            let users: Vec<Uuid> =
                std::iter::once(creator).chain(members.iter()).map(UserId::as_uuid).collect();
            sqlx::query(
                "INSERT INTO delivery_members (room_id, user_id) SELECT $1, u FROM unnest($2::uuid[]) AS u
                 ON CONFLICT (room_id, user_id) DO NOTHING",
            )
            .bind(room.as_uuid())
            .bind(&users)
            .execute(&mut *conn)
            .await?;
        }
        RoomEvent::MemberJoined { user, .. } => {
            sqlx::query(
                "INSERT INTO delivery_members (room_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (room_id, user_id) DO NOTHING",
            )
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *conn)
            .await?;
        }
        // The invitee is not a member yet but must learn of the invitation.
        RoomEvent::MemberInvited { user, .. } => extra = Some(*user),
        _ => {}
    }

    let stored = match &event {
        RoomEvent::MessageEdited { message_id, .. }
        | RoomEvent::MessageDeleted { message_id, .. }
        | RoomEvent::MessageTakenDown { message_id, .. } => {
            stored_message(conn, room, message_id.as_uuid()).await?
        }
        _ => None,
    };
    let Some(client_event) = ClientEvent::from_room_event(room, &event, stored) else {
        tracing::warn!(%room, "no stored message for an edit or deletion; not delivered");
        return Ok(());
    };
    if let Some(message) = client_event.message() {
        store_message(conn, message).await?;
    }

    let recipients = match &event {
        // Only the member who hid it (their other devices).
        RoomEvent::MessageHidden { user, .. } => vec![user.as_uuid()],
        _ => {
            let sender = client_event.message().map(|m| m.sender_id.as_uuid());
            let mut users = members_accepting(conn, room, sender).await?;
            if let Some(user) = extra.filter(|u| !users.contains(&u.as_uuid())) {
                users.push(user.as_uuid());
            }
            users
        }
    };
    fan_out(room, &client_event, &recipients, origin, out);
    if let RoomEvent::MemberLeft { user, .. } = &event {
        sqlx::query("DELETE FROM delivery_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A run of `MessageSent` events (see [`crate::projection`]): the members of
/// every room in the run, and who blocked any of its senders, are read in
/// two queries, the messages stored in one statement.
pub(crate) async fn apply_sent(
    conn: &mut PgConnection,
    run: &[Sent],
    out: &mut Vec<Outgoing>,
) -> Result<(), sqlx::Error> {
    let mut sent = Vec::with_capacity(run.len());
    for item in run {
        let room = RoomId::from_uuid(item.room);
        if let Some(client_event) = ClientEvent::from_room_event(room, &item.event, None)
            && let Some(sender) = client_event.message().map(|m| m.sender_id.as_uuid())
        {
            sent.push((item, room, sender, client_event));
        }
    }
    let mut rooms: Vec<Uuid> = sent.iter().map(|(item, ..)| item.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let mut senders: Vec<Uuid> = sent.iter().map(|(_, _, sender, _)| *sender).collect();
    senders.sort_unstable();
    senders.dedup();
    let (mut room_ids, mut message_ids, mut metadata_rows) = (Vec::new(), Vec::new(), Vec::new());
    for (item, _, _, client_event) in &sent {
        if let Some(message) = client_event.message() {
            room_ids.push(item.room);
            message_ids.push(message.id.as_uuid());
            metadata_rows.push(metadata(message)?);
        }
    }
    // One round trip: the messages' metadata stored; the rooms' members, and
    // the (blocker, blocked) pairs among the run's senders (few, and rare).
    let rows: Vec<(Option<Uuid>, Uuid, Option<Uuid>)> = sqlx::query_as(
        "WITH stored AS (
             INSERT INTO delivery_messages (room_id, message_id, message)
             SELECT * FROM unnest($3::uuid[], $4::uuid[], $5::jsonb[])
             ON CONFLICT (room_id, message_id) DO NOTHING
         )
         SELECT room_id, user_id, NULL::uuid FROM delivery_members WHERE room_id = ANY($1)
         UNION ALL
         SELECT NULL::uuid, user_id, blocked_id FROM delivery_blocks WHERE blocked_id = ANY($2)",
    )
    .bind(&rooms)
    .bind(&senders)
    .bind(&room_ids)
    .bind(&message_ids)
    .bind(&metadata_rows)
    .fetch_all(conn)
    .await?;
    let mut members: HashMap<Uuid, Vec<Uuid>> = HashMap::with_capacity(rooms.len());
    let mut blocks: HashSet<(Uuid, Uuid)> = HashSet::new();
    for row in rows {
        match row {
            (Some(room), user, _) => members.entry(room).or_default().push(user),
            (None, blocker, Some(blocked)) => {
                blocks.insert((blocker, blocked));
            }
            (None, _, None) => {}
        }
    }
    // Recipients in user order: a retried batch finds where it stopped by it.
    for users in members.values_mut() {
        users.sort_unstable();
    }
    for (item, room, sender, client_event) in &sent {
        let recipients: Vec<Uuid> = members
            .get(&item.room)
            .into_iter()
            .flatten()
            .filter(|user| !blocks.contains(&(**user, *sender)))
            .copied()
            .collect();
        fan_out(*room, client_event, &recipients, item.origin, out);
    }
    Ok(())
}

/// Queues `client_event` for each of `recipients`, in order.
fn fan_out(
    room: RoomId,
    client_event: &ClientEvent,
    recipients: &[Uuid],
    origin: Origin,
    out: &mut Vec<Outgoing>,
) {
    let payload = match serde_json::to_vec(client_event) {
        Ok(payload) => Bytes::from(payload),
        Err(err) => {
            tracing::error!(%room, error = %err, "a client event does not serialize; not delivered");
            return;
        }
    };
    for user in recipients {
        out.push(Outgoing {
            id: DeliveryId { event_seq: origin.stream_seq, user: *user },
            recorded_at: origin.recorded_at,
            payload: payload.clone(),
        });
    }
}

/// Members of the room, except those who blocked `sender` (when there is one),
/// in a stable order.
async fn members_accepting(
    conn: &mut PgConnection,
    room: RoomId,
    sender: Option<Uuid>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT m.user_id FROM delivery_members m
          WHERE m.room_id = $1
            AND NOT EXISTS (SELECT 1 FROM delivery_blocks b WHERE b.user_id = m.user_id AND b.blocked_id = $2)
          ORDER BY m.user_id",
    )
    .bind(room.as_uuid())
    .bind(sender)
    .fetch_all(conn)
    .await
}

/// The message as it stands, without ciphertext: edits bring their own, and
/// the delivery queues already hold every version sent.
async fn stored_message(
    conn: &mut PgConnection,
    room: RoomId,
    message: Uuid,
) -> Result<Option<Message>, sqlx::Error> {
    let json: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT message FROM delivery_messages WHERE room_id = $1 AND message_id = $2")
            .bind(room.as_uuid())
            .bind(message)
            .fetch_optional(conn)
            .await?;
    Ok(json.and_then(|json| serde_json::from_value(json).ok()))
}

/// What `delivery_messages` keeps of a message: all but the ciphertext.
fn metadata(message: &Message) -> Result<serde_json::Value, sqlx::Error> {
    let mut metadata = message.clone();
    metadata.ciphertext = None;
    serde_json::to_value(&metadata).map_err(|err| sqlx::Error::Encode(Box::new(err)))
}

async fn store_message(conn: &mut PgConnection, message: &Message) -> Result<(), sqlx::Error> {
    let json = metadata(message)?;
    sqlx::query(
        "INSERT INTO delivery_messages (room_id, message_id, message) VALUES ($1, $2, $3)
         ON CONFLICT (room_id, message_id) DO UPDATE SET message = excluded.message",
    )
    .bind(message.room_id.as_uuid())
    .bind(message.id.as_uuid())
    .bind(json)
    .execute(conn)
    .await?;
    Ok(())
}

/// The members of `room` other than `sender` who have not blocked them, or
/// `None` when `sender` is not a member (typing indicators go to these).
pub async fn audience(
    pool: &PgPool,
    room: RoomId,
    sender: UserId,
) -> Result<Option<Vec<UserId>>, sqlx::Error> {
    if !is_member(pool, room, sender).await? {
        return Ok(None);
    }
    let mut conn = pool.acquire().await?;
    let users = members_accepting(&mut conn, room, Some(sender.as_uuid())).await?;
    Ok(Some(users.into_iter().filter(|u| *u != sender.as_uuid()).map(UserId::from_uuid).collect()))
}

/// Whether `user` is a member of `room` (as the delivery projection has it).
pub async fn is_member(pool: &PgPool, room: RoomId, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM delivery_members WHERE room_id = $1 AND user_id = $2)")
        .bind(room.as_uuid())
        .bind(user.as_uuid())
        .fetch_one(pool)
        .await
}

/// Whether `blocker` has blocked `blocked` (as the delivery projection has it).
pub async fn has_blocked(pool: &PgPool, blocker: UserId, blocked: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM delivery_blocks WHERE user_id = $1 AND blocked_id = $2)")
        .bind(blocker.as_uuid())
        .bind(blocked.as_uuid())
        .fetch_one(pool)
        .await
}

/// Who follows `user`'s presence: everyone sharing a room with them, and
/// everyone who has them as a contact; never users they blocked.
pub async fn presence_watchers(pool: &PgPool, user: UserId) -> Result<Vec<UserId>, sqlx::Error> {
    let users: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT w.user_id FROM (
             SELECT other.user_id FROM delivery_members mine
               JOIN delivery_members other ON other.room_id = mine.room_id
              WHERE mine.user_id = $1
             UNION SELECT c.user_id FROM contacts c WHERE c.contact_id = $1
         ) w
         WHERE w.user_id <> $1
           AND NOT EXISTS (SELECT 1 FROM delivery_blocks b WHERE b.user_id = $1 AND b.blocked_id = w.user_id)
         ORDER BY w.user_id",
    )
    .bind(user.as_uuid())
    .fetch_all(pool)
    .await?;
    Ok(users.into_iter().map(UserId::from_uuid).collect())
}
