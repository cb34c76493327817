//! Given/when/then for every file command: the happy path and each rule.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use ciphertalk_domain::DomainError;
use ciphertalk_domain::file::{ChunkDigest, File, FileCommand, FileEvent, FileLimits, MAX_CHUNK_COUNT};
use ciphertalk_domain::testing::execute;
use ciphertalk_domain::values::ContentType;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use proptest::prelude::*;

use crate::support::*;

const MAX: u64 = 1 << 30;

/// Generous limits: a file of up to [`MAX`] bytes, living up to a day.
pub fn limits() -> FileLimits {
    FileLimits {
        max_size: MAX,
        max_chunk_size: MAX,
        max_user_bytes: 4 * MAX,
        max_expiry: Some(TimeDelta::days(1)),
    }
}

/// The digest of the bytes the tests store as chunk `index`.
pub fn digest(index: u32) -> ChunkDigest {
    let mut bytes = [0; 32];
    bytes[..4].copy_from_slice(&index.to_be_bytes());
    ChunkDigest::from_bytes(bytes)
}

/// Other bytes than [`digest`]'s.
fn other_digest(index: u32) -> ChunkDigest {
    let mut bytes = *digest(index).as_bytes();
    bytes[31] = 0xff;
    ChunkDigest::from_bytes(bytes)
}

fn store(index: u32, size: u64) -> FileCommand {
    FileCommand::StoreChunk { index, size, sha256: digest(index), at: at(1) }
}

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
        chunk_sha256: None,
        expires_at: Some(at(60)),
        limits: limits(),
        uploader_stored_bytes: 0,
        at: t0(),
    }
}

/// [`register`] with the digest of each chunk declared.
fn register_with_digests(size: u64, chunk_size: u64, chunk_count: u32) -> FileCommand {
    let mut command = register(size, chunk_size, chunk_count);
    if let FileCommand::RegisterFile { chunk_sha256, .. } = &mut command {
        *chunk_sha256 = Some((0..chunk_count).map(digest).collect());
    }
    command
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
        chunk_sha256: None,
        expires_at: Some(at(60)),
        at: t0(),
    }
}

fn chunk(index: u32, size: u64) -> FileEvent {
    FileEvent::ChunkStored { index, size, sha256: Some(digest(index)), at: at(1) }
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
    given(vec![registered()]).when(store(0, 100)).then_expect_events(vec![chunk(0, 100)]);
    given(vec![registered()]).when(store(2, 50)).then_expect_events(vec![chunk(2, 50)]);
}

#[test]
fn storing_a_chunk_again_is_a_no_op() {
    given(vec![registered(), chunk(0, 100)])
        .when(FileCommand::StoreChunk { index: 0, size: 100, sha256: digest(0), at: at(2) })
        .then_expect_events(vec![]);
}

#[test]
fn store_chunk_refusals() {
    assert_eq!(code(vec![registered()], store(3, 50)), "invalid_value");
    assert_eq!(code(vec![registered()], store(2, 100)), "invalid_value");
    assert_eq!(code(vec![registered()], store(0, 99)), "invalid_value");
    given(vec![]).when(store(0, 100)).then_expect_error(DomainError::FileNotFound);
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
            FileCommand::StoreChunk { index: 0, size: 100, sha256: digest(0), at: at(61) },
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

#[test]
fn register_checks_the_limits() {
    let with_limits = |change: fn(&mut FileLimits, &mut u64)| {
        let mut command = register(250, 100, 3);
        if let FileCommand::RegisterFile { limits, uploader_stored_bytes, .. } = &mut command {
            change(limits, uploader_stored_bytes);
        }
        code(vec![], command)
    };
    assert_eq!(with_limits(|limits, _| limits.max_chunk_size = 99), "too_large");
    assert_eq!(with_limits(|limits, _| limits.max_size = 249), "too_large");
    assert_eq!(with_limits(|limits, stored| (limits.max_user_bytes, *stored) = (1000, 751)), "too_large");
    assert_eq!(with_limits(|limits, _| limits.max_expiry = Some(TimeDelta::minutes(59))), "too_large");
    given(vec![])
        .when({
            let mut command = register(250, 100, 3);
            if let FileCommand::RegisterFile { limits, uploader_stored_bytes, .. } = &mut command {
                (limits.max_user_bytes, *uploader_stored_bytes) = (1000, 750);
            }
            command
        })
        .then_expect_events(vec![registered()]);
}

#[test]
fn a_file_without_expiry_is_refused_under_a_maximum_life() {
    let mut forever = register(250, 100, 3);
    if let FileCommand::RegisterFile { expires_at, .. } = &mut forever {
        *expires_at = None;
    }
    assert_eq!(code(vec![], forever.clone()), "too_large");
    if let FileCommand::RegisterFile { limits, .. } = &mut forever {
        limits.max_expiry = None;
    }
    assert!(given(vec![]).when(forever).inspect_result().is_ok());
}

#[test]
fn declared_digests_are_one_per_chunk_and_checked_when_a_chunk_is_stored() {
    let mut short = register_with_digests(250, 100, 3);
    if let FileCommand::RegisterFile { chunk_sha256: Some(digests), .. } = &mut short {
        digests.pop();
    }
    assert_eq!(code(vec![], short), "invalid_value");
    let declared = {
        let mut event = registered();
        if let FileEvent::FileRegistered { chunk_sha256, .. } = &mut event {
            *chunk_sha256 = Some((0..3).map(digest).collect());
        }
        event
    };
    given(vec![]).when(register_with_digests(250, 100, 3)).then_expect_events(vec![declared.clone()]);
    given(vec![declared.clone()]).when(store(1, 100)).then_expect_events(vec![chunk(1, 100)]);
    let wrong = FileCommand::StoreChunk { index: 1, size: 100, sha256: other_digest(1), at: at(1) };
    assert_eq!(code(vec![declared], wrong), "invalid_value");
}

#[test]
fn a_chunk_stored_again_with_other_bytes_is_a_conflict() {
    let again = FileCommand::StoreChunk { index: 0, size: 100, sha256: other_digest(0), at: at(2) };
    assert_eq!(code(vec![registered(), chunk(0, 100)], again.clone()), "conflict");
    // A chunk stored before digests has no digest to compare: accepted as the same.
    let unknown = FileEvent::ChunkStored { index: 0, size: 100, sha256: None, at: at(1) };
    given(vec![registered(), unknown]).when(again).then_expect_events(vec![]);
}

fn run(file: &mut File, command: FileCommand) -> Result<Vec<FileEvent>, DomainError> {
    futures::executor::block_on(execute(file, command, &()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // However chunks are retried, a stored chunk keeps its first bytes: the
    // same bytes again change nothing, other bytes are refused.
    #[test]
    fn property_a_stored_chunk_keeps_its_first_bytes(
        attempts in prop::collection::vec((0_u32..3, any::<bool>()), 1..30),
    ) {
        let mut file = File::default();
        run(&mut file, register(250, 100, 3)).unwrap();
        let mut first: std::collections::BTreeMap<u32, ChunkDigest> = std::collections::BTreeMap::new();
        for (index, other) in attempts {
            let sha256 = if other { other_digest(index) } else { digest(index) };
            let size = file.info().unwrap().expected_chunk_size(index).unwrap();
            let result = run(&mut file, FileCommand::StoreChunk { index, size, sha256, at: at(1) });
            match first.get(&index) {
                None => {
                    prop_assert_eq!(result.unwrap().len(), 1);
                    first.insert(index, sha256);
                }
                Some(kept) if *kept == sha256 => prop_assert!(result.unwrap().is_empty()),
                Some(_) => prop_assert_eq!(result.unwrap_err().code(), "conflict"),
            }
            prop_assert_eq!(file.stored_digest(index), first.get(&index).copied());
        }
    }

    // The bytes stored add up to the chunks stored, and to the file's size
    // exactly when every chunk is in; completing is allowed exactly then.
    #[test]
    fn property_stored_bytes_add_up_and_complete_needs_every_chunk(
        size in 1_u64..3000,
        chunk_size in 1_u64..500,
        picks in prop::collection::vec(any::<u32>(), 0..30),
    ) {
        let chunk_count = u32::try_from(size.div_ceil(chunk_size)).unwrap();
        let mut file = File::default();
        run(&mut file, register(size, chunk_size, chunk_count)).unwrap();
        for index in picks.into_iter().map(|pick| pick % chunk_count) {
            let expected = file.info().unwrap().expected_chunk_size(index).unwrap();
            run(&mut file, store(index, expected)).unwrap();
            let sum: u64 =
                file.stored_chunks().iter().map(|i| file.info().unwrap().expected_chunk_size(*i).unwrap()).sum();
            prop_assert_eq!(file.stored_bytes(), sum);
            prop_assert!(file.stored_bytes() <= size);
        }
        prop_assert_eq!(file.stored_bytes() == size, file.all_chunks_stored());
        let complete = run(&mut file, FileCommand::CompleteFile { actor: ALICE, at: at(2) });
        prop_assert_eq!(complete.is_ok(), file.all_chunks_stored());
    }
}
