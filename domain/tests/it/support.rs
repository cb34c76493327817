//! Fixed ids, times and values shared by the tests.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ciphertalk_domain::room::{JoinRule, MessageRef};
use ciphertalk_domain::room::{MessageFacts, Room, RoomCommand, RoomEvent, RoomKind};
use ciphertalk_domain::testing::{InMemoryRoomLookup, SendMessageBuilder, execute};
use ciphertalk_domain::values::{Base64Bytes, Ciphertext, ClientMsgId, DisplayName, RoomName};
use ciphertalk_domain::{DomainError, FileId, MessageId, ReportId, RoomId, UserId};
use uuid::Uuid;

pub const ALICE: UserId = UserId::from_uuid(Uuid::from_u128(0xa11ce));
pub const BOB: UserId = UserId::from_uuid(Uuid::from_u128(0xb0b));
pub const CAROL: UserId = UserId::from_uuid(Uuid::from_u128(0xca201));
pub const DAVE: UserId = UserId::from_uuid(Uuid::from_u128(0xda7e));
pub const EVE: UserId = UserId::from_uuid(Uuid::from_u128(0xe7e));
pub const ROOM: RoomId = RoomId::from_uuid(Uuid::from_u128(0x200));
pub const OTHER_ROOM: RoomId = RoomId::from_uuid(Uuid::from_u128(0x201));

pub fn uid(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

pub fn mid(n: u128) -> MessageId {
    MessageId::from_uuid(Uuid::from_u128(0x3000 + n))
}

pub fn fid(n: u128) -> FileId {
    FileId::from_uuid(Uuid::from_u128(0x4000 + n))
}

pub fn repid(n: u128) -> ReportId {
    ReportId::from_uuid(Uuid::from_u128(0x5000 + n))
}

/// 2026-01-01T12:00:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// `minutes` after [`t0`].
pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

pub fn ct(plain: &str) -> Ciphertext {
    Ciphertext::parse(&STANDARD.encode(plain)).unwrap()
}

pub fn b64(bytes: &[u8]) -> Base64Bytes {
    Base64Bytes::from_bytes(bytes).unwrap()
}

pub fn cmid(s: &str) -> ClientMsgId {
    ClientMsgId::parse(s).unwrap()
}

pub fn dn(s: &str) -> DisplayName {
    DisplayName::parse(s).unwrap()
}

pub fn room_name(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

/// A group "Team" owned by Alice with Bob and Carol as members.
pub fn group_created(join_rule: JoinRule) -> RoomEvent {
    RoomEvent::RoomCreated {
        room_id: ROOM,
        kind: RoomKind::Group,
        name: Some(room_name("Team")),
        description: None,
        join_rule,
        creator: ALICE,
        members: vec![BOB, CAROL],
        at: t0(),
    }
}

/// A direct room between Alice (creator) and Bob.
pub fn direct_created() -> RoomEvent {
    RoomEvent::RoomCreated {
        room_id: ROOM,
        kind: RoomKind::Direct,
        name: None,
        description: None,
        join_rule: JoinRule::Invite,
        creator: ALICE,
        members: vec![BOB],
        at: t0(),
    }
}

/// The `SendMessage` the tests use: message `n`, client id `c-n`, plain defaults.
pub fn send(sender: UserId, n: u128) -> RoomCommand {
    message(sender, n).build()
}

/// [`send`] before it is built, for a test that adds a reply, files or franking.
pub fn message(sender: UserId, n: u128) -> SendMessageBuilder {
    SendMessageBuilder::new(
        mid(n),
        sender,
        cmid(&format!("c-{n}")),
        ct("hello"),
        at(i64::try_from(n).unwrap()),
    )
}

/// The `MessageSent` that [`send`] produces as message number `seq`.
pub fn sent(sender: UserId, n: u128, seq: u64) -> RoomEvent {
    message(sender, n).sent(seq)
}

pub fn forwarded() -> MessageRef {
    MessageRef { room_id: OTHER_ROOM, message_id: mid(999) }
}

/// A lookup that knows message `n` in [`ROOM`], sent by `sender` at `sent_at`.
pub fn lookup_with(messages: &[(u128, UserId, u64, DateTime<Utc>, bool)]) -> Arc<InMemoryRoomLookup> {
    let lookup = InMemoryRoomLookup::new();
    for (n, sender_id, seq, sent_at, deleted) in messages {
        lookup.insert_message(
            ROOM,
            mid(*n),
            MessageFacts { sender_id: *sender_id, seq: *seq, sent_at: *sent_at, deleted: *deleted },
        );
    }
    lookup
}

/// Replays `events` into a fresh room.
pub fn room_from(events: &[RoomEvent]) -> Room {
    use cqrs_es::Aggregate as _;
    let mut room = Room::default();
    for event in events {
        room.apply(event.clone());
    }
    room
}

/// Runs one room command to completion and feeds its events to `lookup`, as
/// the write side plus the timeline projection would.
pub fn run_room(
    room: &mut Room,
    lookup: &Arc<InMemoryRoomLookup>,
    command: RoomCommand,
) -> Result<Vec<RoomEvent>, DomainError> {
    let events = futures::executor::block_on(execute(room, command, &lookup.services()))?;
    for event in &events {
        lookup.record(ROOM, event);
    }
    Ok(events)
}

/// A plain `SendMessage` with the given ids and time.
pub fn send_with(message_id: MessageId, sender: UserId, client: &str, sent_at: DateTime<Utc>) -> RoomCommand {
    SendMessageBuilder::new(message_id, sender, cmid(client), ct("payload"), sent_at).build()
}
