//! Projection `timeline`: each room's messages in `seq` order, with edits,
//! tombstones (a message deleted for everyone or taken down keeps its row and
//! loses its ciphertext), per-user hides and delivered/read receipts.

use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::{FileId, MessageId, RoomId, UserId};
use ciphertalk_domain::room::{MessageRef, ReceiptKind, RoomEvent};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::event::{Sent, to_i64, to_u64};
use crate::page::{Page, clamp_limit};

/// A message as API.md shows it; `ciphertext` is `None` on tombstones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub room_id: RoomId,
    pub seq: u64,
    pub sender_id: UserId,
    pub client_msg_id: String,
    pub ciphertext: Option<String>,
    pub content_type: String,
    pub reply_to: Option<MessageId>,
    pub file_ids: Vec<FileId>,
    pub forwarded_from: Option<MessageRef>,
    pub sent_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub commitment: Option<String>,
    pub reporting_tag: Option<String>,
    pub franking_key_id: Option<String>,
}

/// The API Message a `MessageSent` event creates.
#[must_use]
pub fn sent_message(room_id: RoomId, event: &RoomEvent) -> Option<Message> {
    let RoomEvent::MessageSent {
        message_id,
        seq,
        sender_id,
        client_msg_id,
        ciphertext,
        content_type,
        reply_to,
        file_ids,
        forwarded_from,
        commitment,
        reporting_tag,
        franking_key_id,
        sent_at,
    } = event.clone()
    else {
        return None;
    };
    Some(Message {
        id: message_id,
        room_id,
        seq,
        sender_id,
        client_msg_id: client_msg_id.as_str().to_owned(),
        ciphertext: Some(ciphertext.as_str().to_owned()),
        content_type: content_type.as_str().to_owned(),
        reply_to,
        file_ids,
        forwarded_from,
        sent_at,
        edited_at: None,
        deleted: false,
        commitment: commitment.map(String::from),
        reporting_tag: reporting_tag.map(String::from),
        franking_key_id: franking_key_id.map(String::from),
    })
}

/// How far one member has received and read a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub user_id: UserId,
    pub delivered_up_to: u64,
    pub read_up_to: u64,
}

/// Which slice of a room's timeline to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The messages just below this seq.
    Before(u64),
    /// The messages just above this seq.
    After(u64),
    /// The newest messages.
    Latest,
}

/// A run of `MessageSent` events (see [`crate::projection`]), inserted in one statement.
pub(crate) async fn apply_sent(conn: &mut PgConnection, run: &[Sent]) -> Result<(), sqlx::Error> {
    let messages: Vec<Message> =
        run.iter().filter_map(|sent| sent_message(RoomId::from_uuid(sent.room), &sent.event)).collect();
    let mut rows = SentRows::default();
    for message in &messages {
        rows.room_id.push(message.room_id.as_uuid());
        rows.seq.push(to_i64(message.seq));
        rows.message_id.push(message.id.as_uuid());
        rows.sender_id.push(message.sender_id.as_uuid());
        rows.client_msg_id.push(&message.client_msg_id);
        rows.ciphertext.push(message.ciphertext.as_deref());
        rows.content_type.push(&message.content_type);
        rows.reply_to.push(message.reply_to.map(|id| id.as_uuid()));
        rows.file_ids.push(uuid_array_literal(message.file_ids.iter().map(FileId::as_uuid)));
        rows.forwarded_room_id.push(message.forwarded_from.map(|f| f.room_id.as_uuid()));
        rows.forwarded_message_id.push(message.forwarded_from.map(|f| f.message_id.as_uuid()));
        rows.sent_at.push(message.sent_at);
        rows.commitment.push(message.commitment.as_deref());
        rows.reporting_tag.push(message.reporting_tag.as_deref());
        rows.franking_key_id.push(message.franking_key_id.as_deref());
    }
    sqlx::query(
        "INSERT INTO timeline_messages (room_id, seq, message_id, sender_id, client_msg_id, ciphertext,
                content_type, reply_to, file_ids, forwarded_room_id, forwarded_message_id, sent_at,
                commitment, reporting_tag, franking_key_id)
         SELECT room_id, seq, message_id, sender_id, client_msg_id, ciphertext, content_type, reply_to,
                file_ids::uuid[], forwarded_room_id, forwarded_message_id, sent_at, commitment, reporting_tag,
                franking_key_id
           FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
                       $8::uuid[], $9::text[], $10::uuid[], $11::uuid[], $12::timestamptz[], $13::text[],
                       $14::text[], $15::text[])
             AS t(room_id, seq, message_id, sender_id, client_msg_id, ciphertext, content_type, reply_to,
                  file_ids, forwarded_room_id, forwarded_message_id, sent_at, commitment, reporting_tag,
                  franking_key_id)
         ON CONFLICT (room_id, seq) DO NOTHING",
    )
    .bind(&rows.room_id)
    .bind(&rows.seq)
    .bind(&rows.message_id)
    .bind(&rows.sender_id)
    .bind(&rows.client_msg_id)
    .bind(&rows.ciphertext)
    .bind(&rows.content_type)
    .bind(&rows.reply_to)
    .bind(&rows.file_ids)
    .bind(&rows.forwarded_room_id)
    .bind(&rows.forwarded_message_id)
    .bind(&rows.sent_at)
    .bind(&rows.commitment)
    .bind(&rows.reporting_tag)
    .bind(&rows.franking_key_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The columns of a run's `timeline_messages` rows, one array each.
#[derive(Default)]
struct SentRows<'a> {
    room_id: Vec<Uuid>,
    seq: Vec<i64>,
    message_id: Vec<Uuid>,
    sender_id: Vec<Uuid>,
    client_msg_id: Vec<&'a str>,
    ciphertext: Vec<Option<&'a str>>,
    content_type: Vec<&'a str>,
    reply_to: Vec<Option<Uuid>>,
    /// Postgres array literals (`{id,id}`): arrays of arrays must be rectangular.
    file_ids: Vec<String>,
    forwarded_room_id: Vec<Option<Uuid>>,
    forwarded_message_id: Vec<Option<Uuid>>,
    sent_at: Vec<DateTime<Utc>>,
    commitment: Vec<Option<&'a str>>,
    reporting_tag: Vec<Option<&'a str>>,
    franking_key_id: Vec<Option<&'a str>>,
}

fn uuid_array_literal(ids: impl Iterator<Item = Uuid>) -> String {
    let ids: Vec<String> = ids.map(|id| id.to_string()).collect();
    format!("{{{}}}", ids.join(","))
}

/// Applies any room event but `MessageSent` (applied in runs by [`apply_sent`]).
pub(crate) async fn apply(conn: &mut PgConnection, room: Uuid, event: RoomEvent) -> Result<(), sqlx::Error> {
    match event {
        RoomEvent::MessageEdited { message_id, ciphertext, at, .. } => {
            sqlx::query(
                "UPDATE timeline_messages SET ciphertext = $3, edited_at = $4
                  WHERE room_id = $1 AND message_id = $2 AND NOT deleted",
            )
            .bind(room)
            .bind(message_id.as_uuid())
            .bind(ciphertext.as_str())
            .bind(at)
            .execute(conn)
            .await?;
        }
        RoomEvent::MessageDeleted { message_id, .. } | RoomEvent::MessageTakenDown { message_id, .. } => {
            sqlx::query(
                "UPDATE timeline_messages SET deleted = true, ciphertext = NULL
                  WHERE room_id = $1 AND message_id = $2",
            )
            .bind(room)
            .bind(message_id.as_uuid())
            .execute(conn)
            .await?;
        }
        RoomEvent::MessageHidden { seq, user, at, .. } => {
            sqlx::query(
                "INSERT INTO timeline_hidden (room_id, seq, user_id, hidden_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (room_id, user_id, seq) DO NOTHING",
            )
            .bind(room)
            .bind(to_i64(seq))
            .bind(user.as_uuid())
            .bind(at)
            .execute(conn)
            .await?;
        }
        RoomEvent::ReceiptUpdated { user, kind, up_to_seq, at } => {
            // Reading implies delivery; neither mark moves backwards.
            let read = if kind == ReceiptKind::Read { to_i64(up_to_seq) } else { 0 };
            sqlx::query(
                "INSERT INTO timeline_receipts (room_id, user_id, delivered_up_to, read_up_to, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (room_id, user_id) DO UPDATE SET
                     delivered_up_to = GREATEST(timeline_receipts.delivered_up_to, excluded.delivered_up_to),
                     read_up_to = GREATEST(timeline_receipts.read_up_to, excluded.read_up_to),
                     updated_at = excluded.updated_at",
            )
            .bind(room)
            .bind(user.as_uuid())
            .bind(to_i64(up_to_seq))
            .bind(read)
            .bind(at)
            .execute(conn)
            .await?;
        }
        RoomEvent::RoomCreated { .. }
        | RoomEvent::RoomUpdated { .. }
        | RoomEvent::MemberInvited { .. }
        | RoomEvent::MemberJoined { .. }
        | RoomEvent::MemberLeft { .. }
        | RoomEvent::MemberRoleChanged { .. }
        // Applied in runs by `apply_sent`.
        | RoomEvent::MessageSent { .. } => {}
    }
    Ok(())
}

const MESSAGE_COLUMNS: &str = "m.room_id, m.seq, m.message_id, m.sender_id, m.client_msg_id, m.ciphertext, \
     m.content_type, m.reply_to, m.file_ids, m.forwarded_room_id, m.forwarded_message_id, m.sent_at, \
     m.edited_at, m.deleted, m.commitment, m.reporting_tag, m.franking_key_id";

fn message_from_row(row: &PgRow) -> Result<Message, sqlx::Error> {
    let forwarded_room: Option<Uuid> = row.try_get("forwarded_room_id")?;
    let forwarded_message: Option<Uuid> = row.try_get("forwarded_message_id")?;
    Ok(Message {
        id: MessageId::from_uuid(row.try_get("message_id")?),
        room_id: RoomId::from_uuid(row.try_get("room_id")?),
        seq: to_u64(row.try_get("seq")?),
        sender_id: UserId::from_uuid(row.try_get("sender_id")?),
        client_msg_id: row.try_get("client_msg_id")?,
        ciphertext: row.try_get("ciphertext")?,
        content_type: row.try_get("content_type")?,
        reply_to: row.try_get::<Option<Uuid>, _>("reply_to")?.map(MessageId::from_uuid),
        file_ids: row.try_get::<Vec<Uuid>, _>("file_ids")?.into_iter().map(FileId::from_uuid).collect(),
        forwarded_from: forwarded_room.zip(forwarded_message).map(|(room, message)| MessageRef {
            room_id: RoomId::from_uuid(room),
            message_id: MessageId::from_uuid(message),
        }),
        sent_at: row.try_get("sent_at")?,
        edited_at: row.try_get("edited_at")?,
        deleted: row.try_get("deleted")?,
        commitment: row.try_get("commitment")?,
        reporting_tag: row.try_get("reporting_tag")?,
        franking_key_id: row.try_get("franking_key_id")?,
    })
}

/// A page of a room's messages as `viewer` sees them (without the ones they
/// hid, nor those of users they blocked), in ascending `seq` order. `next` continues in the same direction:
/// further back for `Before`/`Latest`, further on for `After`.
pub async fn page(
    pool: &PgPool,
    room: RoomId,
    viewer: UserId,
    window: Window,
    limit: u32,
) -> Result<Page<Message>, sqlx::Error> {
    let limit = clamp_limit(limit);
    let (condition, order, bound) = match window {
        Window::Before(seq) => ("m.seq < $3", "DESC", to_i64(seq)),
        Window::Latest => ("m.seq < $3", "DESC", i64::MAX),
        Window::After(seq) => ("m.seq > $3", "ASC", to_i64(seq)),
    };
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM timeline_messages m
          WHERE m.room_id = $1 AND {condition}
            AND NOT EXISTS (SELECT 1 FROM timeline_hidden h
                             WHERE h.room_id = m.room_id AND h.user_id = $2 AND h.seq = m.seq)
            AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = $2 AND b.blocked_id = m.sender_id)
          ORDER BY m.seq {order} LIMIT $4"
    ))
    .bind(room.as_uuid())
    .bind(viewer.as_uuid())
    .bind(bound)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let mut items = rows.iter().map(message_from_row).collect::<Result<Vec<_>, _>>()?;
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    if order == "DESC" {
        items.reverse();
    }
    let next = match (more, window) {
        (false, _) => None,
        (true, Window::After(_)) => items.last().map(|m| m.seq.to_string()),
        (true, _) => items.first().map(|m| m.seq.to_string()),
    };
    Ok(Page { items, next })
}

/// One message of a room (tombstones included, hides ignored).
pub async fn message(pool: &PgPool, room: RoomId, id: MessageId) -> Result<Option<Message>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM timeline_messages m WHERE m.room_id = $1 AND m.message_id = $2"
    ))
    .bind(room.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(message_from_row).transpose()
}

/// Every member's receipts in a room.
pub async fn receipts(pool: &PgPool, room: RoomId) -> Result<Vec<Receipt>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id, delivered_up_to, read_up_to FROM timeline_receipts WHERE room_id = $1 ORDER BY user_id",
    )
    .bind(room.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Receipt {
                user_id: UserId::from_uuid(row.try_get("user_id")?),
                delivered_up_to: to_u64(row.try_get("delivered_up_to")?),
                read_up_to: to_u64(row.try_get("read_up_to")?),
            })
        })
        .collect()
}
