//! Golden fixtures: the stored JSON form of one example of every event, in
//! `tests/fixtures/<aggregate>/<EventType>.v1.json`. A change to an event's
//! stored form fails here; that is the moment to add a new version and an
//! upcaster instead (see `ciphertalk_domain::upcast`).
//!
//! To (re)write the files after adding an event:
//! `CIPHERTALK_BLESS_FIXTURES=1 cargo test -p ciphertalk-domain golden`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ciphertalk_domain::EVENT_VERSION;
use ciphertalk_domain::file::{File, FileEvent};
use ciphertalk_domain::report::{Report, ReportAction, ReportEvent, ReportTarget, TargetKind};
use ciphertalk_domain::room::{JoinRule, ReceiptKind, Role, Room, RoomEvent, RoomKind};
use ciphertalk_domain::user::{LastSeenVisibility, OneTimePrekey, SignedPrekey, User, UserEvent};
use ciphertalk_domain::values::{
    Bio, Commitment, ContentType, Email, FrankingKeyId, ModeratorNote, PhoneNumber, ReportEvidence,
    ReportReason, RoomDescription, Username,
};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;

use crate::support::*;

fn check<A: Aggregate>(examples: Vec<A::Event>, expected_types: &[&str]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(A::TYPE);
    let bless = std::env::var_os("CIPHERTALK_BLESS_FIXTURES").is_some();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut covered = BTreeSet::new();
    for event in examples {
        let event_type = event.event_type();
        assert_eq!(event.event_version(), EVENT_VERSION);
        let value = serde_json::to_value(&event).unwrap();
        let tags: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(tags, vec![&event_type], "externally tagged by the event type");
        let path = dir.join(format!("{event_type}.v{EVENT_VERSION}.json"));
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
    }
    let expected: BTreeSet<String> = expected_types.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(covered, expected, "one example per event type");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".v1.json").to_owned())
        .collect();
    assert_eq!(on_disk, expected, "no stale or unknown fixtures");
}

#[test]
fn user_events() {
    let key = OneTimePrekey { key_id: 7, public_key: b64(&[7; 32]) };
    check::<User>(
        vec![
            UserEvent::UserRegistered {
                user_id: ALICE,
                email: Some(Email::parse("alice@example.org").unwrap()),
                phone: Some(PhoneNumber::parse("+4915112345678").unwrap()),
                display_name: dn("Alice"),
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
                identity_key: b64(&[1; 33]),
                signed_prekey: SignedPrekey {
                    key_id: 1,
                    public_key: b64(&[2; 33]),
                    signature: b64(&[3; 64]),
                },
                one_time_prekeys: vec![key.clone()],
                at: at(3),
            },
            UserEvent::OneTimePrekeysAdded {
                keys: vec![OneTimePrekey { key_id: 8, public_key: b64(&[8; 32]) }],
                at: at(4),
            },
            UserEvent::OneTimePrekeyClaimed {
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
        ],
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
        ],
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
                expires_at: Some(at(1440)),
                at: t0(),
            },
            FileEvent::ChunkStored { index: 2, size: 402_848, at: at(1) },
            FileEvent::FileCompleted { by: ALICE, at: at(2) },
            FileEvent::FileDeleted { by: BOB, at: at(3) },
            FileEvent::FileExpired { at: at(1440) },
            FileEvent::FileTakenDown { moderator: EVE, report_id: Some(repid(2)), at: at(4) },
        ],
        &["FileRegistered", "ChunkStored", "FileCompleted", "FileDeleted", "FileExpired", "FileTakenDown"],
    );
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
    );
}

#[test]
fn times_are_rfc3339_utc_and_ids_are_strings() {
    let event = RoomEvent::MemberInvited { user: DAVE, by: BOB, at: at(2) };
    let value = serde_json::to_value(event).unwrap();
    assert_eq!(value["MemberInvited"]["at"], "2026-01-01T12:02:00Z");
    assert_eq!(value["MemberInvited"]["user"], DAVE.to_string());
}
