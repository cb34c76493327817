//! Projection `delivery`: fans each room event out to the members who should
//! see it, as a message on `chat.dlv.<user_id>` in CHAT_DELIVERY (each user's
//! FIFO queue, the offline inbox), and the realtime queries built on the same
//! membership. Device events go the same way, to the user and to everyone
//! sharing a room with them; each message of a to-device batch goes to its
//! one device, on `chat.dlv.<user_id>.<device_id>`, in batch order.
//!
//! Deterministic. Who receives an event is decided from this projection's own
//! tables (members, blocks, removed devices), which it keeps from the same ordered stream; an
//! edit or deletion is delivered with its message as the event store held it
//! just before that event. A replay decides exactly as the live run did.
//!
//! No query per message. A session's [`Fanout`] keeps the members and blocks
//! it has read: the leader is the only writer of these tables, every write
//! here drops the entries it changes, and a batch that rolls back ends the
//! session and its memory with it. A message only costs a query when its room
//! or sender is new to the session. That memory is bounded; making room never
//! forgets what the batch at hand needs (it is not read again).
//!
//! Exactly once per user. The projector publishes a batch's messages (see
//! [`crate::publish`]) and makes sure JetStream holds them before it commits
//! the batch; a batch applied again resumes after the last message stored. A
//! rebuild recomputes the tables and publishes nothing (the messages exist
//! already).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use ciphertalk_domain::file::FileEvent;
use ciphertalk_domain::ids::{DeviceId, FileId, MessageId, RoomId, UserId};
use ciphertalk_domain::room::{Room, RoomEvent};
use ciphertalk_domain::to_device::ToDeviceEvent;
use ciphertalk_domain::user::UserEvent;
use cqrs_es::Aggregate;
use cqrs_es::persist::SerializedEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::client_event::ClientEvent;
use crate::event::{Origin, Sent, decode_stored};
use crate::publish::{DeliveryId, Outgoing};
use crate::timeline::Message;

/// Rooms (and, separately, senders' blockers) a [`Fanout`] remembers by
/// default; beyond it the entries the batch at hand does not need are
/// dropped and read again when needed.
pub const DEFAULT_REMEMBERED: usize = 100_000;

/// A decoded event of an aggregate type this projection follows.
pub(crate) enum Followed {
    Room(RoomEvent),
    User(UserEvent),
    ToDevice(ToDeviceEvent),
    File(FileEvent),
}

/// The delivery projection's state within one leader session (or rebuild):
/// the messages produced for publishing, and the members and blocks read.
pub(crate) struct Fanout {
    /// `false` in a rebuild: what was delivered stays delivered.
    publishes: bool,
    outgoing: Vec<Outgoing>,
    /// Each room's members in user order: a retried batch finds where it
    /// stopped by that order.
    members: HashMap<Uuid, Arc<[Uuid]>>,
    /// Who has blocked each user (almost always nobody).
    blockers: HashMap<Uuid, Arc<[Uuid]>>,
    /// Most entries kept in each of `members` and `blockers` (but for those one batch needs).
    remembered: usize,
}

impl Fanout {
    pub(crate) fn new(publishes: bool, remembered: usize) -> Self {
        Self {
            publishes,
            outgoing: Vec::new(),
            members: HashMap::new(),
            blockers: HashMap::new(),
            remembered: remembered.max(1),
        }
    }

    /// Delivery messages produced since the last call, in stream order.
    pub(crate) fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outgoing)
    }

    /// Reads the members of `rooms` and the blockers of `senders` this session
    /// has not read yet, in one query.
    async fn remember(
        &mut self,
        conn: &mut PgConnection,
        rooms: impl IntoIterator<Item = Uuid>,
        senders: impl IntoIterator<Item = Uuid>,
    ) -> Result<(), sqlx::Error> {
        let needed_rooms: Vec<Uuid> = rooms.into_iter().collect();
        let needed_senders: Vec<Uuid> = senders.into_iter().collect();
        let mut rooms: Vec<Uuid> =
            needed_rooms.iter().filter(|room| !self.members.contains_key(room)).copied().collect();
        let mut senders: Vec<Uuid> =
            needed_senders.iter().filter(|sender| !self.blockers.contains_key(sender)).copied().collect();
        if rooms.is_empty() && senders.is_empty() {
            return Ok(());
        }
        rooms.sort_unstable();
        rooms.dedup();
        senders.sort_unstable();
        senders.dedup();
        let rows: Vec<(bool, Uuid, Uuid)> = sqlx::query_as(
            "SELECT true, room_id, user_id FROM delivery_members WHERE room_id = ANY($1)
             UNION ALL
             SELECT false, blocked_id, user_id FROM delivery_blocks WHERE blocked_id = ANY($2)",
        )
        .bind(&rooms)
        .bind(&senders)
        .fetch_all(conn)
        .await?;
        let mut members: HashMap<Uuid, Vec<Uuid>> =
            rooms.into_iter().map(|room| (room, Vec::new())).collect();
        let mut blockers: HashMap<Uuid, Vec<Uuid>> =
            senders.into_iter().map(|sender| (sender, Vec::new())).collect();
        for (is_member, key, user) in rows {
            let users = if is_member { members.get_mut(&key) } else { blockers.get_mut(&key) };
            users.into_iter().for_each(|users| users.push(user));
        }
        remember_sorted(&mut self.members, members, &needed_rooms, self.remembered);
        remember_sorted(&mut self.blockers, blockers, &needed_senders, self.remembered);
        Ok(())
    }

    /// The members of `room`, except those who blocked `sender` (when there
    /// is one), in user order. Both must have been [`remember`](Self::remember)ed.
    fn accepting(&self, room: Uuid, sender: Option<Uuid>) -> Vec<Uuid> {
        let blockers = sender.and_then(|sender| self.blockers.get(&sender)).map_or(&[][..], |b| &b[..]);
        let members = self.members.get(&room).map_or(&[][..], |m| &m[..]);
        members.iter().filter(|user| !blockers.contains(user)).copied().collect()
    }

    /// Queues `client_event` for each of `recipients` (every device of
    /// each), in order. `about` names the event's subject in a log line.
    fn push(
        &mut self,
        about: impl std::fmt::Display,
        client_event: &ClientEvent,
        recipients: &[Uuid],
        origin: Origin,
    ) {
        let Some(payload) = serialized(&about, client_event) else { return };
        for user in recipients {
            self.outgoing.push(Outgoing {
                id: DeliveryId { event_seq: origin.stream_seq, user: *user, part: None },
                device: None,
                recorded_at: origin.recorded_at,
                payload: payload.clone(),
            });
        }
    }
}

/// `client_event` as JSON; `None` (logged) should it not serialize.
fn serialized(about: &impl std::fmt::Display, client_event: &ClientEvent) -> Option<Bytes> {
    match serde_json::to_vec(client_event) {
        Ok(payload) => Some(Bytes::from(payload)),
        Err(err) => {
            tracing::error!(%about, error = %err, "a client event does not serialize; not delivered");
            None
        }
    }
}

/// Keeps what was `read`, making room first when the memory would grow past
/// `limit`: it drops every entry but those `needed` by the batch at hand,
/// which are only read when missing (dropping one would lose its deliveries,
/// or let a blocked sender through).
fn remember_sorted(
    memory: &mut HashMap<Uuid, Arc<[Uuid]>>,
    read: HashMap<Uuid, Vec<Uuid>>,
    needed: &[Uuid],
    limit: usize,
) {
    if memory.len() + read.len() > limit {
        let needed: HashSet<&Uuid> = needed.iter().collect();
        memory.retain(|key, _| needed.contains(key));
        metrics::counter!("ciphertalk_delivery_memory_evictions_total").increment(1);
    }
    for (key, mut users) in read {
        users.sort_unstable();
        memory.insert(key, users.into());
    }
}

pub(crate) async fn apply(
    conn: &mut PgConnection,
    aggregate: Uuid,
    event: Followed,
    origin: Origin,
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    match event {
        Followed::User(event) => apply_user(conn, aggregate, event, origin, fanout).await,
        Followed::Room(event) => apply_room(conn, RoomId::from_uuid(aggregate), event, origin, fanout).await,
        Followed::ToDevice(event) => apply_to_device(conn, &event, origin, fanout).await,
        Followed::File(event) => apply_file(conn, aggregate, event, origin, fanout).await,
    }
}

/// A file event to its room's members: the room is remembered from the
/// file's registration (later events do not name it).
async fn apply_file(
    conn: &mut PgConnection,
    file: Uuid,
    event: FileEvent,
    origin: Origin,
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    if let FileEvent::FileRegistered { room_id, .. } = &event {
        sqlx::query("INSERT INTO delivery_files (file_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(file)
            .bind(room_id.as_uuid())
            .execute(&mut *conn)
            .await?;
    }
    if !fanout.publishes {
        return Ok(());
    }
    let room: Option<Uuid> = sqlx::query_scalar("SELECT room_id FROM delivery_files WHERE file_id = $1")
        .bind(file)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(room) = room.map(RoomId::from_uuid) else { return Ok(()) };
    let Some(client_event) = ClientEvent::from_file_event(room, FileId::from_uuid(file), &event) else {
        return Ok(());
    };
    fanout.remember(conn, [room.as_uuid()], None).await?;
    let recipients = fanout.accepting(room.as_uuid(), None);
    fanout.push(room, &client_event, &recipients, origin);
    Ok(())
}

async fn apply_user(
    conn: &mut PgConnection,
    user: Uuid,
    event: UserEvent,
    origin: Origin,
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    match event {
        UserEvent::DeviceAdded { device_id, at, .. } => {
            let user_id = UserId::from_uuid(user);
            let event = ClientEvent::DeviceAdded { user_id, device_id, at };
            apply_device_event(conn, user_id, device_id, &event, origin, fanout).await?;
        }
        UserEvent::DeviceRemoved { device_id, at } => {
            let user_id = UserId::from_uuid(user);
            let event = ClientEvent::DeviceRemoved { user_id, device_id, at };
            apply_device_event(conn, user_id, device_id, &event, origin, fanout).await?;
        }
        UserEvent::UserBlocked { blocked, .. } => {
            sqlx::query(
                "INSERT INTO delivery_blocks (user_id, blocked_id) VALUES ($1, $2)
                 ON CONFLICT (user_id, blocked_id) DO NOTHING",
            )
            .bind(user)
            .bind(blocked.as_uuid())
            .execute(conn)
            .await?;
            fanout.blockers.remove(&blocked.as_uuid());
        }
        UserEvent::UserUnblocked { blocked, .. } => {
            sqlx::query("DELETE FROM delivery_blocks WHERE user_id = $1 AND blocked_id = $2")
                .bind(user)
                .bind(blocked.as_uuid())
                .execute(conn)
                .await?;
            fanout.blockers.remove(&blocked.as_uuid());
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
    fanout: &mut Fanout,
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
            fanout.members.remove(&room.as_uuid());
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
            fanout.members.remove(&room.as_uuid());
        }
        // The invitee is not a member yet but must learn of the invitation.
        RoomEvent::MemberInvited { user, .. } => extra = Some(*user),
        _ => {}
    }

    if fanout.publishes {
        deliver(conn, room, &event, extra, origin, fanout).await?;
    }
    if let RoomEvent::MemberLeft { user, .. } = &event {
        sqlx::query("DELETE FROM delivery_members WHERE room_id = $1 AND user_id = $2")
            .bind(room.as_uuid())
            .bind(user.as_uuid())
            .execute(conn)
            .await?;
        fanout.members.remove(&room.as_uuid());
    }
    Ok(())
}

/// Records a device added or removed (a removed one gets no more to-device
/// messages; ids are not minted twice, but one that came back would be live
/// again), then queues its `device.*` event for `user`'s devices (the new one
/// too: its cursor was set at the end of the queue before this is published)
/// and for everyone who shares a room with them but those they blocked, in
/// user order.
async fn apply_device_event(
    conn: &mut PgConnection,
    user: UserId,
    device: DeviceId,
    event: &ClientEvent,
    origin: Origin,
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    let record = if matches!(event, ClientEvent::DeviceRemoved { .. }) {
        "INSERT INTO delivery_removed_devices (user_id, device_id) VALUES ($1, $2)
         ON CONFLICT (user_id, device_id) DO NOTHING"
    } else {
        "DELETE FROM delivery_removed_devices WHERE user_id = $1 AND device_id = $2"
    };
    sqlx::query(record).bind(user.as_uuid()).bind(device.as_uuid()).execute(&mut *conn).await?;
    if !fanout.publishes {
        return Ok(());
    }
    let co_members: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT other.user_id FROM delivery_members mine
           JOIN delivery_members other ON other.room_id = mine.room_id
          WHERE mine.user_id = $1 AND other.user_id <> $1
            AND NOT EXISTS (SELECT 1 FROM delivery_blocks b WHERE b.user_id = $1 AND b.blocked_id = other.user_id)
          ORDER BY other.user_id",
    )
    .bind(user.as_uuid())
    .fetch_all(conn)
    .await?;
    let recipients: Vec<Uuid> = std::iter::once(user.as_uuid()).chain(co_members).collect();
    fanout.push(device, event, &recipients, origin);
    Ok(())
}

/// Queues each message of a to-device batch for its one device, in batch
/// order, but those to users who blocked the sender and to devices removed.
async fn apply_to_device(
    conn: &mut PgConnection,
    event: &ToDeviceEvent,
    origin: Origin,
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    if !fanout.publishes {
        return Ok(());
    }
    let ToDeviceEvent::ToDeviceSent { from_user, from_device, messages, at, .. } = event;
    let users: Vec<Uuid> = messages.iter().map(|message| message.user_id.as_uuid()).collect();
    let devices: Vec<Uuid> = messages.iter().map(|message| message.device_id.as_uuid()).collect();
    // Blockers of the sender (no device) and removed targets, in one query.
    let refused: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
        "SELECT user_id, NULL::uuid FROM delivery_blocks WHERE blocked_id = $1 AND user_id = ANY($2)
         UNION ALL
         SELECT DISTINCT r.user_id, r.device_id FROM delivery_removed_devices r
           JOIN unnest($2::uuid[], $3::uuid[]) AS t(user_id, device_id)
             ON r.user_id = t.user_id AND r.device_id = t.device_id",
    )
    .bind(from_user.as_uuid())
    .bind(&users)
    .bind(&devices)
    .fetch_all(conn)
    .await?;
    let blockers: HashSet<Uuid> =
        refused.iter().filter(|(_, device)| device.is_none()).map(|(u, _)| *u).collect();
    let removed: HashSet<(Uuid, Uuid)> =
        refused.iter().filter_map(|(user, device)| Some((*user, (*device)?))).collect();
    let delivered = event
        .deliverable(|user| blockers.contains(&user.as_uuid()))
        .filter(|message| !removed.contains(&(message.user_id.as_uuid(), message.device_id.as_uuid())));
    for (part, message) in (0u32..).zip(delivered) {
        let client_event = ClientEvent::ToDevice {
            from_user: *from_user,
            from_device: *from_device,
            kind: message.kind.clone(),
            ciphertext: message.ciphertext.clone(),
            at: *at,
        };
        let Some(payload) = serialized(&message.device_id, &client_event) else { continue };
        fanout.outgoing.push(Outgoing {
            id: DeliveryId {
                event_seq: origin.stream_seq,
                user: message.user_id.as_uuid(),
                part: Some(part),
            },
            device: Some(message.device_id.as_uuid()),
            recorded_at: origin.recorded_at,
            payload,
        });
    }
    Ok(())
}

/// Queues a room event (other than a run of sends) for whoever receives it.
async fn deliver(
    conn: &mut PgConnection,
    room: RoomId,
    event: &RoomEvent,
    extra: Option<UserId>,
    origin: Origin,
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    let before = match event {
        RoomEvent::MessageEdited { message_id, .. }
        | RoomEvent::MessageDeleted { message_id, .. }
        | RoomEvent::MessageTakenDown { message_id, .. } => {
            message_before(conn, room, *message_id, origin.sequence).await?
        }
        _ => None,
    };
    let Some(client_event) = ClientEvent::from_room_event(room, event, before) else {
        tracing::warn!(%room, "no earlier message for an edit or deletion; not delivered");
        return Ok(());
    };
    let recipients = match event {
        // Only the member who hid it (their other devices).
        RoomEvent::MessageHidden { user, .. } => vec![user.as_uuid()],
        _ => {
            // A receipt is its reader's, as a message is its sender's.
            let author = match event {
                RoomEvent::ReceiptUpdated { user, .. } => Some(user.as_uuid()),
                _ => client_event.message().map(|m| m.sender_id.as_uuid()),
            };
            fanout.remember(conn, [room.as_uuid()], author).await?;
            let mut users = fanout.accepting(room.as_uuid(), author);
            if let RoomEvent::ReceiptUpdated { user, .. } = event {
                // Nor does a blocker's reading show to those they blocked.
                let blocked = blocked_by(conn, *user).await?;
                users.retain(|member| !blocked.contains(member));
            }
            if let Some(user) = extra.filter(|u| !users.contains(&u.as_uuid())) {
                users.push(user.as_uuid());
            }
            users
        }
    };
    fanout.push(room, &client_event, &recipients, origin);
    Ok(())
}

/// A run of `MessageSent` events (see [`crate::projection`]): each to its
/// room's members but those who blocked its sender, read from memory (or in
/// one query for rooms and senders new to the session).
pub(crate) async fn apply_sent(
    conn: &mut PgConnection,
    run: &[Sent],
    fanout: &mut Fanout,
) -> Result<(), sqlx::Error> {
    if !fanout.publishes {
        return Ok(());
    }
    let mut sent = Vec::with_capacity(run.len());
    for item in run {
        let room = RoomId::from_uuid(item.room);
        if let Some(client_event) = ClientEvent::from_room_event(room, &item.event, None)
            && let Some(sender) = client_event.message().map(|m| m.sender_id.as_uuid())
        {
            sent.push((item, room, sender, client_event));
        }
    }
    let rooms = sent.iter().map(|(item, ..)| item.room);
    let senders = sent.iter().map(|(_, _, sender, _)| *sender);
    fanout.remember(conn, rooms, senders).await?;
    for (item, room, sender, client_event) in &sent {
        let recipients = fanout.accepting(item.room, Some(*sender));
        fanout.push(*room, client_event, &recipients, item.origin);
    }
    Ok(())
}

/// Everyone `user` has blocked (receipts are rare enough to read this each time).
async fn blocked_by(conn: &mut PgConnection, user: UserId) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT blocked_id FROM delivery_blocks WHERE user_id = $1")
        .bind(user.as_uuid())
        .fetch_all(conn)
        .await
}

/// The message `message_id` as it stood before the room's event `sequence`:
/// its earlier events, read from the event store and applied in order, as a
/// client saw them.
async fn message_before(
    conn: &mut PgConnection,
    room: RoomId,
    message_id: MessageId,
    sequence: u64,
) -> Result<Option<Message>, sqlx::Error> {
    let rows: Vec<(i64, String, String, serde_json::Value)> = sqlx::query_as(
        // Literals, not parameters, where they match `events_room_message`'s
        // predicate: a generic plan can only use that partial index then.
        "SELECT sequence, event_type, event_version, payload FROM events
          WHERE aggregate_type = 'room' AND aggregate_id = $1
            AND event_type IN ('MessageSent', 'MessageEdited', 'MessageDeleted', 'MessageTakenDown')
            AND (payload -> event_type ->> 'message_id') = $2
            AND sequence < $3
          ORDER BY sequence",
    )
    .bind(room.to_string())
    .bind(message_id.to_string())
    .bind(i64::try_from(sequence).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    let mut message = None;
    for (sequence, event_type, event_version, payload) in rows {
        let stored = SerializedEvent {
            aggregate_id: room.to_string(),
            sequence: usize::try_from(sequence).unwrap_or(usize::MAX),
            aggregate_type: Room::TYPE.to_owned(),
            event_type,
            event_version,
            payload,
            metadata: serde_json::Value::Null,
        };
        let Ok(event) = decode_stored::<RoomEvent>(stored) else {
            tracing::error!(%room, sequence, "an earlier event of a message cannot be decoded");
            return Ok(None);
        };
        message = ClientEvent::from_room_event(room, &event, message).and_then(|e| e.message().cloned());
    }
    Ok(message)
}

/// Who has blocked `user` (as the delivery projection has it).
pub async fn blockers_of(pool: &PgPool, user: UserId) -> Result<Vec<UserId>, sqlx::Error> {
    let users: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM delivery_blocks WHERE blocked_id = $1")
        .bind(user.as_uuid())
        .fetch_all(pool)
        .await?;
    Ok(users.into_iter().map(UserId::from_uuid).collect())
}

/// Whether `blocker` has blocked `blocked`, as the delivery projection has
/// it: the read side's answer, for delivery and realtime checks, which
/// follow this projection anyway (the write side asks the User aggregate,
/// `EventStoreLookup::has_blocked_per_aggregate`).
pub async fn has_blocked_per_read_model(
    pool: &PgPool,
    blocker: UserId,
    blocked: UserId,
) -> Result<bool, sqlx::Error> {
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

/// Those of `others` who share a room with `user`, as this projection has
/// it: at least as fresh as anything a client learned from its delivery
/// queue (a membership is delivered only once applied here).
pub async fn sharing_a_room(
    pool: &PgPool,
    user: UserId,
    others: &[UserId],
) -> Result<HashSet<UserId>, sqlx::Error> {
    let others: Vec<Uuid> = others.iter().map(UserId::as_uuid).collect();
    let sharing: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT other.user_id FROM delivery_members mine
           JOIN delivery_members other ON other.room_id = mine.room_id
          WHERE mine.user_id = $1 AND other.user_id = ANY($2)",
    )
    .bind(user.as_uuid())
    .bind(&others)
    .fetch_all(pool)
    .await?;
    Ok(sharing.into_iter().map(UserId::from_uuid).collect())
}
