//! Given/when/then for every file command: the happy path and each rule.

use std::collections::BTreeMap;

use ciphertalk_domain::DomainError;
use ciphertalk_domain::file::{File, FileCommand, FileEvent, MAX_CHUNK_COUNT};
use ciphertalk_domain::values::ContentType;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};

use crate::support::*;

const MAX: u64 = 1 << 30;

fn given(events: Vec<FileEvent>) -> AggregateTestExecutor<File> {
    TestFramework::<File>::with(()).given(events)
}

fn keys() -> BTreeMap<ciphertalk_domain::UserId, ciphertalk_domain::values::Base64Bytes> {
    BTreeMap::from([(ALICE, b64(&[1; 40])), (BOB, b64(&[2; 40]))])
}

/// 250 bytes in chunks of 100: two full chunks and a last one of 50.
fn register(size: u64, chunk_size: u64, chunk_count: u32) -> FileCommand {
    FileCommand::RegisterFile {
        file_id: fid(1),
        room_id: ROOM,
        uploader: ALICE,
        size,
        chunk_size,
        chunk_count,
        content_type: ContentType::parse("video/mp4").unwrap(),
        wrapped_keys: keys(),
        expires_at: Some(at(60)),
        max_size: MAX,
        at: t0(),
    }
}

fn registered() -> FileEvent {
    FileEvent::FileRegistered {
        file_id: fid(1),
        room_id: ROOM,
        uploader: ALICE,
        size: 250,
        chunk_size: 100,
        chunk_count: 3,
        content_type: ContentType::parse("video/mp4").unwrap(),
        wrapped_keys: keys(),
        expires_at: Some(at(60)),
        at: t0(),
    }
}

fn chunk(index: u32, size: u64) -> FileEvent {
    FileEvent::ChunkStored { index, size, at: at(1) }
}

fn all_chunks() -> Vec<FileEvent> {
    vec![registered(), chunk(0, 100), chunk(2, 50), chunk(1, 100)]
}

fn code(events: Vec<FileEvent>, command: FileCommand) -> &'static str {
    given(events).when(command).inspect_result().unwrap_err().code()
}

#[test]
fn register_happy_path_and_twice() {
    given(vec![]).when(register(250, 100, 3)).then_expect_events(vec![registered()]);
    given(vec![registered()]).when(register(250, 100, 3)).then_expect_error(DomainError::AlreadyExists);
}

#[test]
fn register_checks_the_layout() {
    assert_eq!(code(vec![], register(250, 100, 2)), "invalid_value");
    assert_eq!(code(vec![], register(250, 100, 4)), "invalid_value");
    assert_eq!(code(vec![], register(0, 100, 0)), "invalid_value");
    assert_eq!(code(vec![], register(250, 0, 3)), "invalid_value");
    assert_eq!(code(vec![], register(MAX + 1, MAX + 1, 1)), "too_large");
    let count = MAX_CHUNK_COUNT + 1;
    assert_eq!(code(vec![], register(u64::from(count), 1, count)), "invalid_value");
}

#[test]
fn register_needs_recipients_and_a_future_expiry() {
    let mut no_keys = register(250, 100, 3);
    if let FileCommand::RegisterFile { wrapped_keys, .. } = &mut no_keys {
        wrapped_keys.clear();
    }
    assert_eq!(code(vec![], no_keys), "invalid_value");
    let mut past = register(250, 100, 3);
    if let FileCommand::RegisterFile { expires_at, .. } = &mut past {
        *expires_at = Some(t0());
    }
    assert_eq!(code(vec![], past), "invalid_value");
}

#[test]
fn store_chunks_including_the_short_last_one() {
    given(vec![registered()])
        .when(FileCommand::StoreChunk { index: 0, size: 100, at: at(1) })
        .then_expect_events(vec![chunk(0, 100)]);
    given(vec![registered()])
        .when(FileCommand::StoreChunk { index: 2, size: 50, at: at(1) })
        .then_expect_events(vec![chunk(2, 50)]);
}

#[test]
fn storing_a_chunk_again_is_a_no_op() {
    given(vec![registered(), chunk(0, 100)])
        .when(FileCommand::StoreChunk { index: 0, size: 100, at: at(2) })
        .then_expect_events(vec![]);
}

#[test]
fn store_chunk_refusals() {
    assert_eq!(
        code(vec![registered()], FileCommand::StoreChunk { index: 3, size: 50, at: at(1) }),
        "invalid_value"
    );
    assert_eq!(
        code(vec![registered()], FileCommand::StoreChunk { index: 2, size: 100, at: at(1) }),
        "invalid_value"
    );
    assert_eq!(
        code(vec![registered()], FileCommand::StoreChunk { index: 0, size: 99, at: at(1) }),
        "invalid_value"
    );
    given(vec![])
        .when(FileCommand::StoreChunk { index: 0, size: 100, at: at(1) })
        .then_expect_error(DomainError::FileNotFound);
}

#[test]
fn complete_after_every_chunk() {
    given(all_chunks())
        .when(FileCommand::CompleteFile { actor: ALICE, at: at(5) })
        .then_expect_events(vec![FileEvent::FileCompleted { by: ALICE, at: at(5) }]);
    let mut completed = all_chunks();
    completed.push(FileEvent::FileCompleted { by: ALICE, at: at(5) });
    given(completed).when(FileCommand::CompleteFile { actor: ALICE, at: at(6) }).then_expect_events(vec![]);
}

#[test]
fn complete_refusals() {
    assert_eq!(code(all_chunks(), FileCommand::CompleteFile { actor: BOB, at: at(5) }), "forbidden");
    assert_eq!(
        code(vec![registered(), chunk(0, 100)], FileCommand::CompleteFile { actor: ALICE, at: at(5) }),
        "conflict"
    );
    given(vec![])
        .when(FileCommand::CompleteFile { actor: ALICE, at: at(5) })
        .then_expect_error(DomainError::FileNotFound);
}

#[test]
fn delete_by_uploader_or_room_admin() {
    given(vec![registered()])
        .when(FileCommand::DeleteFile { actor: ALICE, actor_is_room_admin: false, at: at(5) })
        .then_expect_events(vec![FileEvent::FileDeleted { by: ALICE, at: at(5) }]);
    given(vec![registered()])
        .when(FileCommand::DeleteFile { actor: BOB, actor_is_room_admin: true, at: at(5) })
        .then_expect_events(vec![FileEvent::FileDeleted { by: BOB, at: at(5) }]);
    assert_eq!(
        code(
            vec![registered()],
            FileCommand::DeleteFile { actor: BOB, actor_is_room_admin: false, at: at(5) }
        ),
        "forbidden"
    );
}

#[test]
fn expire_only_after_expiry() {
    given(vec![registered()])
        .when(FileCommand::ExpireFile { at: at(60) })
        .then_expect_events(vec![FileEvent::FileExpired { at: at(60) }]);
    assert_eq!(code(vec![registered()], FileCommand::ExpireFile { at: at(59) }), "conflict");
    let mut never = registered();
    if let FileEvent::FileRegistered { expires_at, .. } = &mut never {
        *expires_at = None;
    }
    assert_eq!(code(vec![never], FileCommand::ExpireFile { at: at(600) }), "conflict");
}

#[test]
fn take_down() {
    given(vec![registered()])
        .when(FileCommand::TakeDownFile { moderator: EVE, report_id: Some(repid(1)), at: at(5) })
        .then_expect_events(vec![FileEvent::FileTakenDown {
            moderator: EVE,
            report_id: Some(repid(1)),
            at: at(5),
        }]);
}

#[test]
fn deleted_expired_and_taken_down_files_are_gone() {
    let ends = [
        FileEvent::FileDeleted { by: ALICE, at: at(5) },
        FileEvent::FileExpired { at: at(60) },
        FileEvent::FileTakenDown { moderator: EVE, report_id: None, at: at(5) },
    ];
    for end in ends {
        let commands = [
            FileCommand::StoreChunk { index: 0, size: 100, at: at(61) },
            FileCommand::CompleteFile { actor: ALICE, at: at(61) },
            FileCommand::DeleteFile { actor: ALICE, actor_is_room_admin: true, at: at(61) },
            FileCommand::ExpireFile { at: at(61) },
            FileCommand::TakeDownFile { moderator: EVE, report_id: None, at: at(61) },
        ];
        for command in commands {
            given(vec![registered(), end.clone()]).when(command).then_expect_error(DomainError::Gone);
        }
    }
}
