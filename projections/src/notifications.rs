//! Projection `notifications`: turns each message into push-notification
//! jobs on CHAT_NOTIFY (`chat.notify.<user_id>`, a work queue the pusher
//! consumes), one per member who should be woken: not its sender, not a
//! user who muted the room (at the message's time) or turned notifications
//! off or blocked the sender, and only users with a device registered for
//! push. Which of their devices are connected is the pusher's question, at
//! push time. It also keeps where each device is woken (`push_registrations`),
//! which the pusher reads, and on each membership whether its user could be
//! woken at all (`notify_members.wakeable`: a device registered, notifications
//! on), so that a message reads only the members it may wake.
//!
//! Deterministic: everything is decided from this projection's own tables,
//! kept from the same ordered stream. Once per job: a job's `Nats-Msg-Id`
//! is `<event stream seq>:<user>`, so a batch published again (its commit
//! failed) is de-duplicated by JetStream within the window, and the pusher
//! keeps which jobs it pushed. A rebuild recomputes the tables and publishes
//! nothing, as does a message recorded too long ago to be worth a push (the
//! first run over an old log).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::{RoomId, UserId};
use ciphertalk_domain::room::RoomEvent;
use ciphertalk_domain::user::UserEvent;
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::{WithKind, subjects};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::event::Sent;

/// Whether the user `$n` names could be woken by a push at all.
macro_rules! wakeable {
    ($user:literal) => {
        concat!(
            "(EXISTS (SELECT 1 FROM push_registrations p WHERE p.user_id = ",
            $user,
            ") AND NOT EXISTS (SELECT 1 FROM notify_quiet_users q WHERE q.user_id = ",
            $user,
            "))"
        )
    };
}

/// A message recorded longer ago than this makes no job: a push that late
/// is noise, and a first run over an old log would otherwise wake everyone.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// One push-notification job: `user` has a new message in `room_id`.
/// Carries no ciphertext and no names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub user_id: UserId,
    pub room_id: RoomId,
    /// The message's sequence in its room.
    pub seq: u64,
    pub sent_at: DateTime<Utc>,
}

impl Job {
    /// The job's `Nats-Msg-Id`: the event's CHAT_EVENTS sequence and the user.
    #[must_use]
    pub fn id(event_seq: u64, user: UserId) -> String {
        format!("{event_seq}:{user}")
    }
}

/// The jobs one batch produced, published by the projector before it commits.
pub(crate) struct Jobs {
    /// `false` in a rebuild: what was pushed stays pushed.
    publishes: bool,
    items: Vec<(String, Job)>,
}

impl Jobs {
    pub(crate) fn new(publishes: bool) -> Self {
        Self { publishes, items: Vec::new() }
    }

    pub(crate) fn take(&mut self) -> Vec<(String, Job)> {
        std::mem::take(&mut self.items)
    }
}

pub(crate) async fn apply_room(
    conn: &mut PgConnection,
    room: Uuid,
    event: RoomEvent,
) -> Result<(), sqlx::Error> {
    match event {
        RoomEvent::RoomCreated { creator, members, .. } => {
            let users: Vec<Uuid> =
                std::iter::once(creator).chain(members).map(|user| user.as_uuid()).collect();
            sqlx::query(concat!(
                "INSERT INTO notify_members (room_id, user_id, wakeable) SELECT $1, u, ",
                wakeable!("u"),
                " FROM unnest($2::uuid[]) AS u ON CONFLICT DO NOTHING"
            ))
            .bind(room)
            .bind(&users)
            .execute(conn)
            .await?;
        }
        RoomEvent::MemberJoined { user, .. } => {
            sqlx::query(concat!(
                "INSERT INTO notify_members (room_id, user_id, wakeable) VALUES ($1, $2, ",
                wakeable!("$2"),
                ") ON CONFLICT DO NOTHING"
            ))
            .bind(room)
            .bind(user.as_uuid())
            .execute(conn)
            .await?;
        }
        RoomEvent::MemberLeft { user, .. } => {
            sqlx::query("DELETE FROM notify_members WHERE room_id = $1 AND user_id = $2")
                .bind(room)
                .bind(user.as_uuid())
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

pub(crate) async fn apply_user(
    conn: &mut PgConnection,
    user: Uuid,
    event: UserEvent,
) -> Result<(), sqlx::Error> {
    let may_change_wakeable = matches!(
        event,
        UserEvent::SettingsUpdated { .. }
            | UserEvent::PushRegistered { .. }
            | UserEvent::PushUnregistered { .. }
            | UserEvent::DeviceRemoved { .. }
    );
    apply_user_tables(conn, user, event).await?;
    if may_change_wakeable {
        sqlx::query(concat!(
            "UPDATE notify_members m SET wakeable = w.now FROM (SELECT ",
            wakeable!("$1"),
            " AS now) w WHERE m.user_id = $1 AND m.wakeable <> w.now"
        ))
        .bind(user)
        .execute(conn)
        .await?;
    }
    Ok(())
}

async fn apply_user_tables(conn: &mut PgConnection, user: Uuid, event: UserEvent) -> Result<(), sqlx::Error> {
    match event {
        UserEvent::SettingsUpdated { notifications, .. } => {
            let sql = if notifications {
                "DELETE FROM notify_quiet_users WHERE user_id = $1"
            } else {
                "INSERT INTO notify_quiet_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING"
            };
            sqlx::query(sql).bind(user).execute(conn).await?;
        }
        UserEvent::RoomMuted { room_id, until, .. } => {
            sqlx::query(
                "INSERT INTO notify_mutes (user_id, room_id, until) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, room_id) DO UPDATE SET until = excluded.until",
            )
            .bind(user)
            .bind(room_id.as_uuid())
            .bind(until)
            .execute(conn)
            .await?;
        }
        UserEvent::RoomUnmuted { room_id, .. } => {
            sqlx::query("DELETE FROM notify_mutes WHERE user_id = $1 AND room_id = $2")
                .bind(user)
                .bind(room_id.as_uuid())
                .execute(conn)
                .await?;
        }
        UserEvent::UserBlocked { blocked, .. } => {
            sqlx::query(
                "INSERT INTO notify_blocks (user_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(blocked.as_uuid())
            .execute(conn)
            .await?;
        }
        UserEvent::UserUnblocked { blocked, .. } => {
            sqlx::query("DELETE FROM notify_blocks WHERE user_id = $1 AND blocked_id = $2")
                .bind(user)
                .bind(blocked.as_uuid())
                .execute(conn)
                .await?;
        }
        UserEvent::PushRegistered { device_id, target, at } => {
            let platform = target.platform();
            let target = serde_json::to_value(&target).unwrap_or(serde_json::Value::Null);
            sqlx::query(
                "INSERT INTO push_registrations (user_id, device_id, platform, target, registered_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id, device_id)
                 DO UPDATE SET platform = excluded.platform, target = excluded.target,
                               registered_at = excluded.registered_at",
            )
            .bind(user)
            .bind(device_id.as_uuid())
            .bind(platform)
            .bind(target)
            .bind(at)
            .execute(conn)
            .await?;
        }
        UserEvent::PushUnregistered { device_id, .. } | UserEvent::DeviceRemoved { device_id, .. } => {
            sqlx::query("DELETE FROM push_registrations WHERE user_id = $1 AND device_id = $2")
                .bind(user)
                .bind(device_id.as_uuid())
                .execute(conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// A run of `MessageSent` events: the jobs of all of them, in one query.
pub(crate) async fn apply_sent(
    conn: &mut PgConnection,
    run: &[Sent],
    jobs: &mut Jobs,
) -> Result<(), sqlx::Error> {
    if !jobs.publishes {
        return Ok(());
    }
    let fresh_since = Utc::now() - STALE_AFTER;
    let mut rooms = Vec::new();
    let mut senders = Vec::new();
    let mut times = Vec::new();
    let mut sent = Vec::new();
    for item in run {
        if let RoomEvent::MessageSent { seq, sender_id, sent_at, .. } = &item.event
            && item.origin.recorded_at >= fresh_since
        {
            rooms.push(item.room);
            senders.push(sender_id.as_uuid());
            times.push(*sent_at);
            sent.push((item.room, *seq, *sent_at, item.origin));
        }
    }
    if sent.is_empty() {
        return Ok(());
    }
    let recipients: Vec<(i64, Uuid)> = sqlx::query_as(
        "SELECT r.idx, m.user_id
           FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) WITH ORDINALITY AS r(room_id, sender, sent_at, idx)
           JOIN notify_members m ON m.room_id = r.room_id AND m.wakeable
          WHERE m.user_id <> r.sender
            AND NOT EXISTS (SELECT 1 FROM notify_blocks b WHERE b.user_id = m.user_id AND b.blocked_id = r.sender)
            AND NOT EXISTS (SELECT 1 FROM notify_mutes mu
                             WHERE mu.user_id = m.user_id AND mu.room_id = r.room_id
                               AND (mu.until IS NULL OR mu.until > r.sent_at))
          ORDER BY r.idx, m.user_id",
    )
    .bind(&rooms)
    .bind(&senders)
    .bind(&times)
    .fetch_all(conn)
    .await?;
    for (idx, user) in recipients {
        let Some((room, seq, sent_at, origin)) = usize::try_from(idx - 1).ok().and_then(|i| sent.get(i))
        else {
            continue;
        };
        let user_id = UserId::from_uuid(user);
        let job = Job { user_id, room_id: RoomId::from_uuid(*room), seq: *seq, sent_at: *sent_at };
        jobs.items.push((Job::id(origin.stream_seq, user_id), job));
    }
    Ok(())
}

/// Publishes a batch's jobs and returns once JetStream holds them all.
pub(crate) async fn publish(js: &jetstream::Context, jobs: Vec<(String, Job)>) -> Result<(), ProjectorError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let count = jobs.len() as u64;
    let mut acks = Vec::with_capacity(jobs.len());
    for (id, job) in jobs {
        let subject = subjects::notify(&job.user_id.to_string()).map_err(|err| err.with_kind(Js::Subject))?;
        let payload = Bytes::from(serde_json::to_vec(&job).unwrap_or_default());
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let ack = js
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(|err| err.with_kind(Js::Publish))?;
        acks.push(ack);
    }
    for ack in acks {
        ack.await.map_err(|err| err.with_kind(Js::Publish))?;
    }
    metrics::counter!("ciphertalk_push_jobs_total").increment(count);
    Ok(())
}
