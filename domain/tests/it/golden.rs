//! Golden fixtures: the stored JSON form of one example of every event, in
//! `tests/fixtures/<aggregate>/<EventType>.v<version>.json`. A change to an
//! event's stored form fails here; that is the moment to add a new version and
//! an upcaster instead (see `ciphertalk_domain::upcast`), keeping the old
//! version's fixture frozen: it is data written by the code of its time, and
//! must still load (as must `tests/fixtures/snapshots`).
//!
//! To (re)write the files after adding an event:
//! `CIPHERTALK_BLESS_FIXTURES=1 cargo test -p ciphertalk-domain golden`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ciphertalk_domain::DeviceId;
use ciphertalk_domain::file::{ChunkDigest, DIGEST_EVENT_VERSION, File, FileEvent};
use ciphertalk_domain::report::{Report, ReportAction, ReportEvent, ReportTarget, TargetKind};
use ciphertalk_domain::room::{JoinRule, ReceiptKind, Role, Room, RoomEvent, RoomKind};
use ciphertalk_domain::to_device::{BatchId, Outbox, ToDeviceEvent, ToDeviceKind, ToDeviceMessage};
use ciphertalk_domain::upcast::{upcast, upcasters};
use ciphertalk_domain::user::{
    DEVICE_EVENT_VERSION, DeviceName, LastSeenVisibility, OneTimePrekey, P256dhKey, PushAuthSecret,
    PushRemoval, PushTarget, PushUrl, SignedPrekey, User, UserEvent,
};
use ciphertalk_domain::values::{
    Bio, Commitment, ContentType, Email, FrankingKeyId, ModeratorNote, PhoneNumber, ReportEvidence,
    ReportReason, RoomDescription, Username,
};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;

use crate::support::*;

fn fixtures(aggregate_type: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(aggregate_type)
}

/// Checks each example against `<EventType>.v<version>.json` (one example per
/// name in `expected_types`); the directory holds exactly those files plus
/// the `frozen` older versions (`"KeysPublished.v1"`), checked elsewhere.
fn check<A: Aggregate>(examples: Vec<A::Event>, expected_types: &[&str], frozen: &[&str]) {
    let dir = fixtures(A::TYPE);
    let bless = std::env::var_os("CIPHERTALK_BLESS_FIXTURES").is_some();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut covered = BTreeSet::new();
    let mut files: BTreeSet<String> = frozen.iter().map(|name| (*name).to_owned()).collect();
    for event in examples {
        let event_type = event.event_type();
        let value = serde_json::to_value(&event).unwrap();
        let tags: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(tags, vec![&event_type], "externally tagged by the event type");
        let name = format!("{event_type}.v{}", event.event_version());
        let path = dir.join(format!("{name}.json"));
        if bless {
            std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing {}; bless with CIPHERTALK_BLESS_FIXTURES=1", path.display()));
        let stored: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value, stored, "the stored form of {event_type} changed");
        let back: A::Event = serde_json::from_value(stored).unwrap();
        assert_eq!(back, event, "{event_type} does not read back as written");
        covered.insert(event_type);
        files.insert(name);
    }
    let expected: BTreeSet<String> = expected_types.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(covered, expected, "one example per event type");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    assert_eq!(on_disk, files, "no stale or unknown fixtures");
}

/// The user events whose version 1, written before devices, is frozen.
const USER_EVENTS_BEFORE_DEVICES: [&str; 4] =
    ["UserRegistered.v1", "KeysPublished.v1", "OneTimePrekeysAdded.v1", "OneTimePrekeyClaimed.v1"];

/// The device the fixtures' user (Alice) had before devices: the one their
/// version 1 events load onto.
fn alices_first_device() -> DeviceId {
    DeviceId::first_of(ALICE)
}

/// One example of every current user event. The four that name a device
/// carry Alice's first device and the values of their frozen version 1, so
/// that each frozen fixture must upcast to exactly its example.
fn user_examples() -> Vec<UserEvent> {
    let key = OneTimePrekey { key_id: 7, public_key: b64(&[7; 32]) };
    let laptop = DeviceId::from_uuid(uuid::Uuid::from_u128(0xde7));
    vec![
        UserEvent::UserRegistered {
            user_id: ALICE,
            email: Some(Email::parse("alice@example.org").unwrap()),
            phone: Some(PhoneNumber::parse("+4915112345678").unwrap()),
            display_name: dn("Alice"),
            device_id: alices_first_device(),
            device_name: None,
            at: t0(),
        },
        UserEvent::ProfileUpdated {
            display_name: dn("Alice A."),
            username: Some(Username::parse("alice").unwrap()),
            bio: Some(Bio::parse("Hello there").unwrap()),
            avatar_file_id: Some(fid(1)),
            at: at(1),
        },
        UserEvent::SettingsUpdated {
            last_seen_visible_to: LastSeenVisibility::Contacts,
            notifications: false,
            at: at(2),
        },
        UserEvent::KeysPublished {
            device_id: alices_first_device(),
            identity_key: b64(&[1; 33]),
            signed_prekey: SignedPrekey { key_id: 1, public_key: b64(&[2; 33]), signature: b64(&[3; 64]) },
            one_time_prekeys: vec![key.clone()],
            at: at(3),
        },
        UserEvent::OneTimePrekeysAdded {
            device_id: alices_first_device(),
            keys: vec![OneTimePrekey { key_id: 8, public_key: b64(&[8; 32]) }],
            at: at(4),
        },
        UserEvent::OneTimePrekeyClaimed {
            device_id: alices_first_device(),
            key_id: 7,
            public_key: key.public_key,
            claimed_by: BOB,
            at: at(5),
        },
        UserEvent::ContactAdded { contact: BOB, at: at(6) },
        UserEvent::ContactRemoved { contact: BOB, at: at(7) },
        UserEvent::UserBlocked { blocked: EVE, at: at(8) },
        UserEvent::UserUnblocked { blocked: EVE, at: at(9) },
        UserEvent::AdminGranted { by: Some(CAROL), at: at(10) },
        UserEvent::AdminRevoked { by: None, at: at(11) },
        UserEvent::DeviceAdded {
            device_id: laptop,
            name: Some(DeviceName::parse("Alice's laptop").unwrap()),
            at: at(12),
        },
        UserEvent::DeviceRenamed {
            device_id: laptop,
            name: DeviceName::parse("Work laptop").unwrap(),
            at: at(13),
        },
        UserEvent::DeviceRemoved { device_id: laptop, at: at(14) },
        UserEvent::UserSuspended {
            by: CAROL,
            reason: ModeratorNote::parse("spam in public rooms").unwrap(),
            until: Some(at(60)),
            at: at(15),
        },
        UserEvent::SuspensionLifted { by: CAROL, at: at(16) },
        UserEvent::PushRegistered {
            device_id: alices_first_device(),
            target: PushTarget::WebPush {
                endpoint: PushUrl::parse("https://push.example.org/send/abc").unwrap(),
                p256dh: P256dhKey::parse(&{
                    let mut point = vec![4_u8];
                    point.extend([9_u8; 64]);
                    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, point)
                })
                .unwrap(),
                auth: PushAuthSecret::parse("AAECAwQFBgcICQoLDA0ODw").unwrap(),
            },
            at: at(17),
        },
        UserEvent::PushUnregistered {
            device_id: alices_first_device(),
            reason: PushRemoval::Gone,
            at: at(18),
        },
        UserEvent::RoomMuted { room_id: ROOM, until: Some(at(90)), at: at(19) },
        UserEvent::RoomUnmuted { room_id: ROOM, at: at(20) },
    ]
}

#[test]
fn user_events() {
    check::<User>(
        user_examples(),
        &[
            "UserRegistered",
            "ProfileUpdated",
            "SettingsUpdated",
            "KeysPublished",
            "OneTimePrekeysAdded",
            "OneTimePrekeyClaimed",
            "ContactAdded",
            "ContactRemoved",
            "UserBlocked",
            "UserUnblocked",
            "AdminGranted",
            "AdminRevoked",
            "DeviceAdded",
            "DeviceRenamed",
            "DeviceRemoved",
            "UserSuspended",
            "SuspensionLifted",
            "PushRegistered",
            "PushUnregistered",
            "RoomMuted",
            "RoomUnmuted",
        ],
        &USER_EVENTS_BEFORE_DEVICES,
    );
}

/// Reads a frozen fixture as the event store would hand it over: stored for
/// Alice's aggregate, at the fixture's version.
fn stored_fixture(aggregate_type: &str, name: &str) -> SerializedEvent {
    let (event_type, version) = name.split_once(".v").unwrap();
    let text = std::fs::read_to_string(fixtures(aggregate_type).join(format!("{name}.json"))).unwrap();
    SerializedEvent::new(
        ALICE.to_string(),
        1,
        aggregate_type.to_owned(),
        event_type.to_owned(),
        version.to_owned(),
        serde_json::from_str(&text).unwrap(),
        Value::Null,
    )
}

#[test]
fn user_events_written_before_devices_load_onto_the_first_device() {
    let examples = user_examples();
    for name in USER_EVENTS_BEFORE_DEVICES {
        let current = upcast(stored_fixture(User::TYPE, name), &upcasters());
        assert_eq!(current.event_version, DEVICE_EVENT_VERSION, "{name} is lifted to the current version");
        let event: UserEvent = serde_json::from_value(current.payload).unwrap();
        let example = examples.iter().find(|example| example.event_type() == event.event_type()).unwrap();
        assert_eq!(&event, example, "{name} loads as its current form on Alice's first device");
    }
}

#[test]
fn a_user_snapshot_taken_before_devices_loads_with_its_keys_on_the_first_device() {
    let text = std::fs::read_to_string(fixtures("snapshots").join("user.before-devices.json")).unwrap();
    let restored: User = serde_json::from_str(&text).unwrap();
    // The history the snapshot was taken after, in its current form.
    let key = |id: u32| OneTimePrekey { key_id: id, public_key: b64(&id.to_be_bytes()) };
    let first = alices_first_device();
    let history = [
        UserEvent::UserRegistered {
            user_id: ALICE,
            email: Some(Email::parse("alice@example.org").unwrap()),
            phone: None,
            display_name: dn("Alice"),
            device_id: first,
            device_name: None,
            at: t0(),
        },
        UserEvent::KeysPublished {
            device_id: first,
            identity_key: b64(&[1; 32]),
            signed_prekey: SignedPrekey { key_id: 1, public_key: b64(&[5; 32]), signature: b64(&[6; 64]) },
            one_time_prekeys: vec![key(4), key(5)],
            at: t0(),
        },
        UserEvent::OneTimePrekeysAdded { device_id: first, keys: vec![key(6)], at: t0() },
        UserEvent::OneTimePrekeyClaimed {
            device_id: first,
            key_id: 4,
            public_key: key(4).public_key,
            claimed_by: BOB,
            at: t0(),
        },
        UserEvent::ContactAdded { contact: BOB, at: t0() },
        UserEvent::AdminGranted { by: None, at: t0() },
    ];
    let mut replayed = User::default();
    for event in history {
        replayed.apply(event);
    }
    assert_eq!(restored, replayed);
    assert_eq!(restored.devices().iter().map(|device| device.device_id).collect::<Vec<_>>(), [first]);
    let pool: Vec<u32> = restored.keys_of(first).one_time_prekeys.iter().map(|key| key.key_id).collect();
    assert_eq!(pool, [5, 6]);
    // And it is written back in today's form, which reads back the same.
    let rewritten: User = serde_json::from_value(serde_json::to_value(&restored).unwrap()).unwrap();
    assert_eq!(rewritten, restored);
}

#[test]
fn to_device_events() {
    let message = |n: u128, device: u128| ToDeviceMessage {
        user_id: uid(n),
        device_id: DeviceId::from_uuid(uuid::Uuid::from_u128(device)),
        kind: ToDeviceKind::parse("olm.prekey").unwrap(),
        ciphertext: ct("sealed"),
    };
    check::<Outbox>(
        vec![ToDeviceEvent::ToDeviceSent {
            from_user: ALICE,
            from_device: alices_first_device(),
            batch_id: BatchId::parse("batch-1").unwrap(),
            messages: vec![message(0xb0b, 0xb1), message(0xb0b, 0xb2), message(0xca201, 0xc1)],
            at: t0(),
        }],
        &["ToDeviceSent"],
        &[],
    );
}

#[test]
fn room_events() {
    check::<Room>(
        vec![
            RoomEvent::RoomCreated {
                room_id: ROOM,
                kind: RoomKind::Group,
                name: Some(room_name("Team")),
                description: Some(RoomDescription::parse("Our team").unwrap()),
                join_rule: JoinRule::Invite,
                creator: ALICE,
                members: vec![BOB, CAROL],
                at: t0(),
            },
            RoomEvent::RoomUpdated {
                name: Some(room_name("Team 2")),
                description: None,
                photo_file_id: Some(fid(2)),
                join_rule: JoinRule::Open,
                by: ALICE,
                at: at(1),
            },
            RoomEvent::MemberInvited { user: DAVE, by: BOB, at: at(2) },
            RoomEvent::MemberJoined { user: DAVE, role: Role::Member, by: DAVE, at: at(3) },
            RoomEvent::MemberLeft { user: CAROL, by: ALICE, at: at(4) },
            RoomEvent::MemberRoleChanged { user: BOB, role: Role::Admin, by: ALICE, at: at(5) },
            RoomEvent::MessageSent {
                message_id: mid(1),
                seq: 1,
                sender_id: BOB,
                client_msg_id: cmid("client-1"),
                ciphertext: ct("opaque"),
                content_type: ContentType::parse("text/plain").unwrap(),
                reply_to: Some(mid(0)),
                file_ids: vec![fid(3)],
                forwarded_from: Some(forwarded()),
                commitment: Some(Commitment::from_bytes([4; 32])),
                reporting_tag: Some(b64(&[5; 32])),
                franking_key_id: Some(FrankingKeyId::parse("frank-2026-01").unwrap()),
                sent_at: at(6),
            },
            RoomEvent::MessageEdited {
                message_id: mid(1),
                seq: 1,
                by: BOB,
                ciphertext: ct("edited"),
                at: at(7),
            },
            RoomEvent::MessageDeleted { message_id: mid(1), seq: 1, by: ALICE, at: at(8) },
            RoomEvent::MessageHidden { message_id: mid(1), seq: 1, user: DAVE, at: at(9) },
            RoomEvent::ReceiptUpdated { user: DAVE, kind: ReceiptKind::Read, up_to_seq: 1, at: at(10) },
            RoomEvent::MessageTakenDown {
                message_id: mid(1),
                seq: 1,
                moderator: EVE,
                report_id: Some(repid(1)),
                at: at(11),
            },
        ],
        &[
            "RoomCreated",
            "RoomUpdated",
            "MemberInvited",
            "MemberJoined",
            "MemberLeft",
            "MemberRoleChanged",
            "MessageSent",
            "MessageEdited",
            "MessageDeleted",
            "MessageHidden",
            "ReceiptUpdated",
            "MessageTakenDown",
        ],
        &[],
    );
}

#[test]
fn file_events() {
    check::<File>(
        vec![
            FileEvent::FileRegistered {
                file_id: fid(1),
                room_id: ROOM,
                uploader: ALICE,
                size: 2_500_000,
                chunk_size: 1_048_576,
                chunk_count: 3,
                content_type: ContentType::parse("video/mp4").unwrap(),
                wrapped_keys: BTreeMap::from([(ALICE, b64(&[1; 40])), (BOB, b64(&[2; 40]))]),
                chunk_sha256: Some((1..=3).map(|n| ChunkDigest::from_bytes([n; 32])).collect()),
                expires_at: Some(at(1440)),
                at: t0(),
            },
            FileEvent::ChunkStored {
                index: 2,
                size: 402_848,
                sha256: Some(ChunkDigest::from_bytes([3; 32])),
                at: at(1),
            },
            FileEvent::FileCompleted { by: ALICE, at: at(2) },
            FileEvent::FileDeleted { by: BOB, at: at(3) },
            FileEvent::FileExpired { at: at(1440) },
            FileEvent::FileTakenDown { moderator: EVE, report_id: Some(repid(2)), at: at(4) },
        ],
        &["FileRegistered", "ChunkStored", "FileCompleted", "FileDeleted", "FileExpired", "FileTakenDown"],
        &FILE_EVENTS_BEFORE_DIGESTS,
    );
}

/// The file events whose version 1, written before chunk digests, is frozen.
const FILE_EVENTS_BEFORE_DIGESTS: [&str; 2] = ["FileRegistered.v1", "ChunkStored.v1"];

#[test]
fn file_events_written_before_digests_load_with_none() {
    for name in FILE_EVENTS_BEFORE_DIGESTS {
        let current = upcast(stored_fixture(File::TYPE, name), &upcasters());
        assert_eq!(current.event_version, DIGEST_EVENT_VERSION, "{name} is lifted to the current version");
        let event: FileEvent = serde_json::from_value(current.payload).unwrap();
        match event {
            FileEvent::FileRegistered { chunk_sha256, chunk_count, .. } => {
                assert_eq!((chunk_sha256, chunk_count), (None, 3));
            }
            FileEvent::ChunkStored { sha256, size, .. } => assert_eq!((sha256, size), (None, 402_848)),
            other => panic!("{name} loaded as {other:?}"),
        }
    }
}

#[test]
fn report_events() {
    check::<Report>(
        vec![
            ReportEvent::ReportFiled {
                report_id: repid(1),
                reporter: BOB,
                target: ReportTarget { kind: TargetKind::Message, id: mid(1).as_uuid(), room_id: Some(ROOM) },
                reason: ReportReason::parse("harassment").unwrap(),
                evidence: Some(ReportEvidence::parse("it said rude things").unwrap()),
                verified: Some(true),
                at: t0(),
            },
            ReportEvent::ReportResolved {
                moderator: EVE,
                action: ReportAction::Takedown,
                note: Some(ModeratorNote::parse("removed").unwrap()),
                at: at(1),
            },
        ],
        &["ReportFiled", "ReportResolved"],
        &[],
    );
}

#[test]
fn times_are_rfc3339_utc_and_ids_are_strings() {
    let event = RoomEvent::MemberInvited { user: DAVE, by: BOB, at: at(2) };
    let value = serde_json::to_value(event).unwrap();
    assert_eq!(value["MemberInvited"]["at"], "2026-01-01T12:02:00Z");
    assert_eq!(value["MemberInvited"]["user"], DAVE.to_string());
}
