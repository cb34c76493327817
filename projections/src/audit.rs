//! Projection `audit`: the moderation-relevant events of every aggregate
//! (reports and their decisions, takedowns, suspensions, instance and room
//! role changes, membership changes, deletions), one row per event with who
//! did it, when, to what, and the particulars. Keyed by the event's
//! CHAT_EVENTS sequence, so a replay writes the very same rows. Nothing but
//! this projection writes the table; the API only reads it.
//!
//! Times and actors come from the events themselves (never from the clock
//! of the applying process), which keeps a replay equal to the live log.

use chrono::{DateTime, Utc};
use ciphertalk_domain::file::FileEvent;
use ciphertalk_domain::report::ReportEvent;
use ciphertalk_domain::room::{Role, RoomEvent};
use ciphertalk_domain::user::UserEvent;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::event::{Origin, to_i64};
use crate::moderation::{action_name, kind_name};

/// The actor of an admin grant or revocation made by the configuration's list.
pub const CONFIGURATION_ACTOR: &str = "system:configuration";
/// The actor of a file's expiry.
pub const EXPIRY_ACTOR: &str = "system:expiry";

/// One row about to be written.
struct Entry {
    at: DateTime<Utc>,
    actor: String,
    action: &'static str,
    subject: String,
    room: Option<Uuid>,
    details: Value,
}

impl Entry {
    fn new(at: DateTime<Utc>, actor: impl ToString, action: &'static str, subject: impl ToString) -> Self {
        Self {
            at,
            actor: actor.to_string(),
            action,
            subject: subject.to_string(),
            room: None,
            details: json!({}),
        }
    }

    fn in_room(mut self, room: Uuid) -> Self {
        self.room = Some(room);
        self
    }

    fn with(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

const fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

fn of_room(room: Uuid, event: RoomEvent) -> Option<Entry> {
    let entry = match event {
        RoomEvent::RoomCreated { kind, name, creator, members, at, .. } => {
            Entry::new(at, creator, "room.created", room).with(json!({
                "kind": kind,
                "name": name.as_ref().map(|name| name.as_str()),
                "members": members,
            }))
        }
        RoomEvent::RoomUpdated { name, join_rule, by, at, .. } => Entry::new(at, by, "room.updated", room)
            .with(json!({"name": name.as_ref().map(|name| name.as_str()), "join_rule": join_rule})),
        RoomEvent::MemberInvited { user, by, at } => Entry::new(at, by, "member.invited", user),
        RoomEvent::MemberJoined { user, role, by, at } => {
            Entry::new(at, by, "member.joined", user).with(json!({"role": role_name(role)}))
        }
        RoomEvent::MemberLeft { user, by, at } => {
            let action = if by == user { "member.left" } else { "member.removed" };
            Entry::new(at, by, action, user)
        }
        RoomEvent::MemberRoleChanged { user, role, by, at } => {
            Entry::new(at, by, "member.role_changed", user).with(json!({"role": role_name(role)}))
        }
        RoomEvent::MessageDeleted { message_id, seq, by, at } => {
            Entry::new(at, by, "message.deleted", message_id).with(json!({"seq": seq}))
        }
        RoomEvent::MessageTakenDown { message_id, seq, moderator, report_id, at } => {
            Entry::new(at, moderator, "message.taken_down", message_id)
                .with(json!({"seq": seq, "report_id": report_id}))
        }
        RoomEvent::MessageSent { .. }
        | RoomEvent::MessageEdited { .. }
        | RoomEvent::MessageHidden { .. }
        | RoomEvent::ReceiptUpdated { .. } => return None,
    };
    Some(entry.in_room(room))
}

fn of_user(user: Uuid, event: UserEvent) -> Option<Entry> {
    let by_or_configuration = |by: Option<ciphertalk_domain::UserId>| {
        by.map_or_else(|| CONFIGURATION_ACTOR.to_owned(), |by| by.to_string())
    };
    let entry = match event {
        UserEvent::AdminGranted { by, at } => {
            Entry::new(at, by_or_configuration(by), "user.admin_granted", user)
        }
        UserEvent::AdminRevoked { by, at } => {
            Entry::new(at, by_or_configuration(by), "user.admin_revoked", user)
        }
        UserEvent::UserSuspended { by, reason, until, at } => Entry::new(at, by, "user.suspended", user)
            .with(json!({"reason": reason.as_str(), "until": until})),
        UserEvent::SuspensionLifted { by, at } => Entry::new(at, by, "user.suspension_lifted", user),
        _ => return None,
    };
    Some(entry)
}

fn of_file(file: Uuid, room: Option<Uuid>, event: FileEvent) -> Option<Entry> {
    let entry = match event {
        FileEvent::FileDeleted { by, at } => Entry::new(at, by, "file.deleted", file),
        FileEvent::FileExpired { at } => Entry::new(at, EXPIRY_ACTOR, "file.expired", file),
        FileEvent::FileTakenDown { moderator, report_id, at } => {
            Entry::new(at, moderator, "file.taken_down", file).with(json!({"report_id": report_id}))
        }
        FileEvent::FileRegistered { .. }
        | FileEvent::ChunkStored { .. }
        | FileEvent::FileCompleted { .. } => {
            return None;
        }
    };
    Some(Entry { room, ..entry })
}

/// The room of `file`, from its registration in this log (which records
/// every file's registration, so a file's later events find their room).
async fn room_of_file(conn: &mut PgConnection, file: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT room_id FROM audit_log
          WHERE aggregate_type = 'file' AND aggregate_id = $1 AND action = 'file.registered'",
    )
    .bind(file.to_string())
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}

async fn of_report(
    conn: &mut PgConnection,
    aggregate: &str,
    event: ReportEvent,
) -> Result<Entry, sqlx::Error> {
    Ok(match event {
        ReportEvent::ReportFiled { report_id, reporter, target, reason, verified, at, .. } => {
            let entry = Entry::new(at, reporter, "report.filed", target.id).with(json!({
                "report_id": report_id,
                "kind": kind_name(target.kind),
                "reason": reason.as_str(),
                "verified": verified,
            }));
            Entry { room: target.room_id.map(|room| room.as_uuid()), ..entry }
        }
        ReportEvent::ReportResolved { moderator, action, note, at } => {
            // The decision concerns what the filing did (its target and room).
            let filed: Option<(String, Option<Uuid>, Value)> = sqlx::query_as(
                "SELECT subject, room_id, details FROM audit_log
                  WHERE aggregate_type = 'report' AND aggregate_id = $1 AND action = 'report.filed'",
            )
            .bind(aggregate)
            .fetch_optional(&mut *conn)
            .await?;
            let (target, room, filed) = filed.unwrap_or_else(|| (aggregate.to_owned(), None, Value::Null));
            let entry = Entry::new(at, moderator, "report.resolved", target).with(json!({
                "report_id": filed["report_id"],
                "action": action_name(action),
                "note": note.as_ref().map(|note| note.as_str()),
            }));
            Entry { room, ..entry }
        }
    })
}

/// An event this projection reads.
pub(crate) enum Audited {
    Room(Uuid, RoomEvent),
    User(Uuid, UserEvent),
    File(Uuid, FileEvent),
    Report(String, ReportEvent),
}

pub(crate) async fn apply(
    conn: &mut PgConnection,
    event: Audited,
    origin: Origin,
) -> Result<(), sqlx::Error> {
    let (aggregate_type, aggregate_id, entry) = match event {
        Audited::Room(room, event) => ("room", room.to_string(), of_room(room, event)),
        Audited::User(user, event) => ("user", user.to_string(), of_user(user, event)),
        Audited::File(file, FileEvent::FileRegistered { room_id, uploader, size, at, .. }) => {
            // Not an action to audit, but what gives the file's later events their room.
            let entry = Entry::new(at, uploader, "file.registered", file)
                .in_room(room_id.as_uuid())
                .with(json!({"size": size}));
            ("file", file.to_string(), Some(entry))
        }
        Audited::File(file, event) => {
            let room = room_of_file(conn, file).await?;
            ("file", file.to_string(), of_file(file, room, event))
        }
        Audited::Report(aggregate, event) => {
            let entry = of_report(conn, &aggregate, event).await?;
            ("report", aggregate, Some(entry))
        }
    };
    let Some(entry) = entry else { return Ok(()) };
    sqlx::query(
        "INSERT INTO audit_log (stream_seq, at, actor_id, action, subject, room_id, details, aggregate_type, aggregate_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (stream_seq) DO NOTHING",
    )
    .bind(to_i64(origin.stream_seq))
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(entry.action)
    .bind(&entry.subject)
    .bind(entry.room)
    .bind(&entry.details)
    .bind(aggregate_type)
    .bind(&aggregate_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audit log entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// The CHAT_EVENTS sequence of the event (pagination follows it).
    #[serde(skip)]
    pub stream_seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub action: String,
    pub subject: String,
    pub room_id: Option<Uuid>,
    pub details: Value,
}

/// What an audit query selects; every given field must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The entry's subject, the room it happened in, or the report it belongs to.
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries older than this stream sequence (the previous page's last).
    pub before: Option<u64>,
}

/// Up to `limit` entries matching `filter`, newest first. Registrations of
/// files are bookkeeping and never shown.
pub async fn query(pool: &PgPool, filter: &AuditFilter, limit: u32) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT stream_seq, at, actor_id, action, subject, room_id, details FROM audit_log
          WHERE action <> 'file.registered'
            AND ($1::text IS NULL OR subject = $1 OR room_id::text = $1 OR details ->> 'report_id' = $1)
            AND ($2::text IS NULL OR actor_id = $2)
            AND ($3::timestamptz IS NULL OR at >= $3)
            AND ($4::timestamptz IS NULL OR at <= $4)
            AND ($5::bigint IS NULL OR stream_seq < $5)
          ORDER BY stream_seq DESC
          LIMIT $6",
    )
    .bind(filter.subject.as_deref())
    .bind(filter.actor.as_deref())
    .bind(filter.since)
    .bind(filter.until)
    .bind(filter.before.map(to_i64))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
}
