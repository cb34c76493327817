//! Projection `rooms`: room settings, members and roles, and each member's
//! room list ordered by latest activity with unread counts.
//!
//! A message is unread for a member when it is above their read receipt and
//! they did not send it. Joining sets the mark to the room's latest message, so
//! history a member joins into does not count as new.

use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::{FileId, RoomId, UserId};
use ciphertalk_domain::room::{JoinRule, ReceiptKind, Role, RoomEvent, RoomKind};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::event::{Sent, to_i64, to_u64};
use crate::page::{Page, QueryError, clamp_limit, enum_text, parse_enum};

/// A room as API.md shows it (`members` only on single-room reads, `unread`
/// only in the caller's room list).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomView {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: Option<String>,
    pub description: Option<String>,
    pub photo_file_id: Option<FileId>,
    pub join_rule: JoinRule,
    pub created_at: DateTime<Utc>,
    pub last_seq: u64,
    pub last_activity_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// A run of `MessageSent` events (see [`crate::projection`]): who sent each
/// (for unread counts) and each room's latest seq and activity, in one statement.
pub(crate) async fn apply_sent(conn: &mut PgConnection, run: &[Sent]) -> Result<(), sqlx::Error> {
    let mut rooms = Vec::with_capacity(run.len());
    let mut seqs = Vec::with_capacity(run.len());
    let mut senders = Vec::with_capacity(run.len());
    let mut times = Vec::with_capacity(run.len());
    for sent in run {
        if let RoomEvent::MessageSent { seq, sender_id, sent_at, .. } = &sent.event {
            rooms.push(sent.room);
            seqs.push(to_i64(*seq));
            senders.push(sender_id.as_uuid());
            times.push(*sent_at);
        }
    }
    sqlx::query(
        "WITH sent AS (
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::timestamptz[])
                 AS t(room_id, seq, sender_id, sent_at)
         ), senders AS (
             INSERT INTO room_message_senders (room_id, seq, sender_id)
             SELECT room_id, seq, sender_id FROM sent
             ON CONFLICT (room_id, seq) DO NOTHING
         )
         UPDATE rooms r SET last_seq = GREATEST(r.last_seq, latest.seq),
                            last_activity_at = GREATEST(r.last_activity_at, latest.at)
           FROM (SELECT room_id, max(seq) AS seq, max(sent_at) AS at FROM sent GROUP BY room_id) latest
          WHERE r.room_id = latest.room_id",
    )
    .bind(&rooms)
    .bind(&seqs)
    .bind(&senders)
    .bind(&times)
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies any room event but `MessageSent` (applied in runs by [`apply_sent`]).
pub(crate) async fn apply(conn: &mut PgConnection, room: Uuid, event: RoomEvent) -> Result<(), sqlx::Error> {
    match event {
        RoomEvent::RoomCreated { kind, name, description, join_rule, creator, members, at, .. } => {
            sqlx::query(
                "INSERT INTO rooms (room_id, kind, name, description, join_rule, created_at, last_activity_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (room_id) DO NOTHING",
            )
            .bind(room)
            .bind(enum_text(&kind))
            .bind(name.map(String::from))
            .bind(description.map(String::from))
            .bind(enum_text(&join_rule))
            .bind(at)
            .execute(&mut *conn)
            .await?;
            let others: Vec<Uuid> = members.iter().map(UserId::as_uuid).collect();
            sqlx::query(
                "INSERT INTO room_members (room_id, user_id, role, joined_at)
                 SELECT $1, $2, 'owner', $3
                 UNION ALL SELECT $1, u, 'member', $3 FROM unnest($4::uuid[]) AS u WHERE u <> $2
                 ON CONFLICT (room_id, user_id) DO NOTHING",
            )
            .bind(room)
            .bind(creator.as_uuid())
            .bind(at)
            .bind(&others)
            .execute(conn)
            .await?;
        }
        RoomEvent::RoomUpdated { name, description, photo_file_id, join_rule, .. } => {
            sqlx::query(
                "UPDATE rooms SET name = $2, description = $3, photo_file_id = $4, join_rule = $5
                  WHERE room_id = $1",
            )
            .bind(room)
            .bind(name.map(String::from))
            .bind(description.map(String::from))
            .bind(photo_file_id.map(|id| id.as_uuid()))
            .bind(enum_text(&join_rule))
            .execute(conn)
            .await?;
        }
        RoomEvent::MemberJoined { user, role, at, .. } => {
            sqlx::query(
                "INSERT INTO room_members (room_id, user_id, role, joined_at, read_up_to)
                 VALUES ($1, $2, $3, $4, COALESCE((SELECT last_seq FROM rooms WHERE room_id = $1), 0))
                 ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .bind(room)
            .bind(user.as_uuid())
            .bind(enum_text(&role))
            .bind(at)
            .execute(conn)
            .await?;
        }
        RoomEvent::MemberLeft { user, .. } => {
            sqlx::query("DELETE FROM room_members WHERE room_id = $1 AND user_id = $2")
                .bind(room)
                .bind(user.as_uuid())
                .execute(conn)
                .await?;
        }
        RoomEvent::MemberRoleChanged { user, role, .. } => {
            sqlx::query("UPDATE room_members SET role = $3 WHERE room_id = $1 AND user_id = $2")
                .bind(room)
                .bind(user.as_uuid())
                .bind(enum_text(&role))
                .execute(conn)
                .await?;
        }
        RoomEvent::ReceiptUpdated { user, kind: ReceiptKind::Read, up_to_seq, .. } => {
            sqlx::query(
                "UPDATE room_members SET read_up_to = GREATEST(read_up_to, $3)
                  WHERE room_id = $1 AND user_id = $2",
            )
            .bind(room)
            .bind(user.as_uuid())
            .bind(to_i64(up_to_seq))
            .execute(conn)
            .await?;
        }
        RoomEvent::MemberInvited { .. }
        | RoomEvent::ReceiptUpdated { .. }
        | RoomEvent::MessageEdited { .. }
        | RoomEvent::MessageDeleted { .. }
        | RoomEvent::MessageHidden { .. }
        | RoomEvent::MessageTakenDown { .. }
        // Applied in runs by `apply_sent`.
        | RoomEvent::MessageSent { .. } => {}
    }
    Ok(())
}

const ROOM_COLUMNS: &str = "r.room_id, r.kind, r.name, r.description, r.photo_file_id, r.join_rule, r.created_at, r.last_seq, \
     r.last_activity_at";

fn room_from_row(row: &PgRow, unread: Option<u64>) -> Result<RoomView, sqlx::Error> {
    Ok(RoomView {
        id: RoomId::from_uuid(row.try_get("room_id")?),
        kind: parse_enum(row.try_get("kind")?)?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        photo_file_id: row.try_get::<Option<Uuid>, _>("photo_file_id")?.map(FileId::from_uuid),
        join_rule: parse_enum(row.try_get("join_rule")?)?,
        created_at: row.try_get("created_at")?,
        last_seq: to_u64(row.try_get("last_seq")?),
        last_activity_at: row.try_get("last_activity_at")?,
        unread,
        members: None,
    })
}

/// One room without its members.
pub async fn get(pool: &PgPool, room: RoomId) -> Result<Option<RoomView>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {ROOM_COLUMNS} FROM rooms r WHERE r.room_id = $1"))
        .bind(room.as_uuid())
        .fetch_optional(pool)
        .await?;
    row.map(|row| room_from_row(&row, None)).transpose()
}

/// One room with `members`.
pub async fn get_with_members(pool: &PgPool, room: RoomId) -> Result<Option<RoomView>, sqlx::Error> {
    let Some(mut view) = get(pool, room).await? else { return Ok(None) };
    view.members = Some(members(pool, room).await?);
    Ok(Some(view))
}

/// The members of a room, owner first, then by when they joined.
pub async fn members(pool: &PgPool, room: RoomId) -> Result<Vec<Member>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id, role, joined_at FROM room_members WHERE room_id = $1
          ORDER BY role = 'owner' DESC, joined_at, user_id",
    )
    .bind(room.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Member {
                user_id: UserId::from_uuid(row.try_get("user_id")?),
                role: parse_enum(row.try_get("role")?)?,
                joined_at: row.try_get("joined_at")?,
            })
        })
        .collect()
}

/// The user's role in the room, `None` when not a member (or no such room).
pub async fn role_of(pool: &PgPool, room: RoomId, user: UserId) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(pool)
            .await?;
    role.map(parse_enum).transpose()
}

/// The rooms the user is a member of, in no order.
pub async fn room_ids_of(pool: &PgPool, user: UserId) -> Result<Vec<RoomId>, sqlx::Error> {
    let rooms: Vec<Uuid> = sqlx::query_scalar("SELECT room_id FROM room_members WHERE user_id = $1")
        .bind(user.as_uuid())
        .fetch_all(pool)
        .await?;
    Ok(rooms.into_iter().map(RoomId::from_uuid).collect())
}

/// The user's rooms, most recent activity first, each with `unread`.
/// `cursor` is the `next` of the previous page.
pub async fn list_for_user(
    pool: &PgPool,
    user: UserId,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<RoomView>, QueryError> {
    let after = cursor.map(RoomCursor::parse).transpose()?;
    let limit = clamp_limit(limit);
    let rows = sqlx::query(&format!(
        "SELECT {ROOM_COLUMNS},
                (SELECT count(*) FROM room_message_senders s
                  WHERE s.room_id = r.room_id AND s.seq > m.read_up_to AND s.sender_id <> m.user_id) AS unread
           FROM room_members m JOIN rooms r ON r.room_id = m.room_id
          WHERE m.user_id = $1
            AND ($2::timestamptz IS NULL OR (r.last_activity_at, r.room_id) < ($2, $3))
          ORDER BY r.last_activity_at DESC, r.room_id DESC
          LIMIT $4"
    ))
    .bind(user.as_uuid())
    .bind(after.as_ref().map(|c| c.at))
    .bind(after.as_ref().map(|c| c.room))
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let mut items = rows
        .iter()
        .map(|row| room_from_row(row, Some(to_u64(row.try_get("unread")?))))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let next = if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        items.last().map(|room| RoomCursor { at: room.last_activity_at, room: room.id.as_uuid() }.to_string())
    } else {
        None
    };
    Ok(Page { items, next })
}

/// Position in a room list: `<activity time in µs>_<room id>`.
struct RoomCursor {
    at: DateTime<Utc>,
    room: Uuid,
}

impl RoomCursor {
    fn parse(text: &str) -> Result<Self, QueryError> {
        let (micros, room) = text.split_once('_').ok_or(QueryError::BadCursor)?;
        let micros: i64 = micros.parse().map_err(|_| QueryError::BadCursor)?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros).ok_or(QueryError::BadCursor)?,
            room: room.parse().map_err(|_| QueryError::BadCursor)?,
        })
    }
}

impl std::fmt::Display for RoomCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.at.timestamp_micros(), self.room)
    }
}
