//! Invariants under random command sequences, and the replay/snapshot
//! equivalence the write side's snapshot path relies on.

use std::collections::BTreeSet;

use ciphertalk_domain::room::{
    DeleteScope, IDEMPOTENCY_WINDOW, JoinRule, ReceiptKind, Role, Room, RoomCommand, RoomEvent,
};
use ciphertalk_domain::testing::{InMemoryRoomLookup, execute};
use ciphertalk_domain::user::{OneTimePrekey, SignedPrekey, User, UserCommand, UserEvent};
use ciphertalk_domain::values::Email;
use ciphertalk_domain::{MessageId, UserId};
use cqrs_es::Aggregate;
use proptest::prelude::*;

use crate::support::*;
use crate::user::FIRST;

const USERS: [UserId; 6] = [ALICE, BOB, CAROL, DAVE, EVE, UserId::from_uuid(uuid::Uuid::from_u128(0xf00))];

#[derive(Debug, Clone)]
enum Op {
    Join(usize),
    Leave(usize),
    Invite(usize, usize),
    Add(usize, usize, Role),
    ChangeRole(usize, usize, Role),
    Remove(usize, usize),
    Send(usize, u8),
    Edit(usize, usize, i64),
    Delete(usize, usize, bool),
    Receipt(usize, u64, bool),
    Update(usize, bool),
    TakeDown(usize),
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Owner), Just(Role::Admin), Just(Role::Member)]
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS.len();
    prop_oneof![
        1 => user.clone().prop_map(Op::Join),
        1 => user.clone().prop_map(Op::Leave),
        1 => (user.clone(), user.clone()).prop_map(|(a, b)| Op::Invite(a, b)),
        1 => (user.clone(), user.clone(), role()).prop_map(|(a, b, r)| Op::Add(a, b, r)),
        1 => (user.clone(), user.clone(), role()).prop_map(|(a, b, r)| Op::ChangeRole(a, b, r)),
        1 => (user.clone(), user.clone()).prop_map(|(a, b)| Op::Remove(a, b)),
        3 => (user.clone(), 0_u8..16).prop_map(|(a, c)| Op::Send(a, c)),
        1 => (user.clone(), any::<usize>(), 0_i64..4000).prop_map(|(a, m, mins)| Op::Edit(a, m, mins)),
        1 => (user.clone(), any::<usize>(), any::<bool>()).prop_map(|(a, m, all)| Op::Delete(a, m, all)),
        1 => (user.clone(), 0_u64..10, any::<bool>()).prop_map(|(a, n, read)| Op::Receipt(a, n, read)),
        1 => (user.clone(), any::<bool>()).prop_map(|(a, open)| Op::Update(a, open)),
        1 => any::<usize>().prop_map(Op::TakeDown),
    ]
}

/// Turns an op into a command; message ops pick among the messages sent so far.
fn command(op: &Op, step: usize, sent: &[MessageId]) -> RoomCommand {
    let when = at(step as i64);
    let pick = |m: usize| if sent.is_empty() { mid(9999) } else { sent[m % sent.len()] };
    match *op {
        Op::Join(u) => RoomCommand::JoinRoom { user: USERS[u], at: when },
        Op::Leave(u) => RoomCommand::LeaveRoom { user: USERS[u], at: when },
        Op::Invite(a, u) => RoomCommand::InviteMember { actor: USERS[a], user: USERS[u], at: when },
        Op::Add(a, u, role) => RoomCommand::AddMember { actor: USERS[a], user: USERS[u], role, at: when },
        Op::ChangeRole(a, u, role) => {
            RoomCommand::ChangeRole { actor: USERS[a], user: USERS[u], role, at: when }
        }
        Op::Remove(a, u) => RoomCommand::RemoveMember { actor: USERS[a], user: USERS[u], at: when },
        Op::Send(a, client) => send_with(mid(step as u128), USERS[a], &format!("c-{client}"), when),
        Op::Edit(a, m, minutes) => RoomCommand::EditMessage {
            actor: USERS[a],
            message_id: pick(m),
            ciphertext: ct("edit"),
            at: when + chrono::TimeDelta::minutes(minutes),
        },
        Op::Delete(a, m, all) => RoomCommand::DeleteMessage {
            actor: USERS[a],
            message_id: pick(m),
            scope: if all { DeleteScope::ForEveryone } else { DeleteScope::ForMe },
            at: when,
        },
        Op::Receipt(a, up_to_seq, read) => RoomCommand::UpdateReceipt {
            user: USERS[a],
            up_to_seq,
            kind: if read { ReceiptKind::Read } else { ReceiptKind::Delivered },
            at: when,
        },
        Op::Update(a, open) => RoomCommand::UpdateRoom {
            actor: USERS[a],
            name: None,
            description: None,
            photo_file_id: None,
            join_rule: Some(if open { JoinRule::Open } else { JoinRule::Invite }),
            at: when,
        },
        Op::TakeDown(m) => {
            RoomCommand::TakeDownMessage { moderator: EVE, message_id: pick(m), report_id: None, at: when }
        }
    }
}

/// Runs `ops` on a fresh group, checking the invariants after every step.
/// Returns the event log.
fn run_ops(ops: &[Op], open: bool) -> Result<Vec<RoomEvent>, TestCaseError> {
    let lookup = InMemoryRoomLookup::new();
    let join_rule = if open { JoinRule::Open } else { JoinRule::Invite };
    let mut log = vec![group_created(join_rule)];
    let mut room = room_from(&log);
    let mut sent = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let before = room.clone();
        match run_room(&mut room, &lookup, command(op, step, &sent)) {
            Ok(events) => {
                for event in &events {
                    if let RoomEvent::MessageSent { message_id, .. } = event {
                        sent.push(*message_id);
                    }
                }
                log.extend(events);
            }
            Err(_) => prop_assert_eq!(&room, &before, "a refused command changed the room"),
        }
        check_room(&room, &log)?;
    }
    Ok(log)
}

fn check_room(room: &Room, log: &[RoomEvent]) -> Result<(), TestCaseError> {
    let owners = room.members().values().filter(|member| member.role == Role::Owner).count();
    prop_assert_eq!(owners, usize::from(!room.members().is_empty()), "exactly one owner while members exist");
    let seqs: Vec<u64> = log
        .iter()
        .filter_map(|event| match event {
            RoomEvent::MessageSent { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    prop_assert_eq!(&seqs, &expected, "sequence numbers are gap-free from 1");
    prop_assert_eq!(room.last_seq(), seqs.len() as u64);
    prop_assert_eq!(room.recent_messages().len(), seqs.len().min(IDEMPOTENCY_WINDOW));
    for (user, receipt) in room.receipts() {
        prop_assert!(room.is_member(*user), "receipts only for members");
        prop_assert!(receipt.read_up_to <= receipt.delivered_up_to);
        prop_assert!(receipt.delivered_up_to <= room.last_seq());
    }
    prop_assert!(room.invited().iter().all(|user| !room.is_member(*user)));
    // State built by `handle` (through the sink) equals a plain replay.
    prop_assert_eq!(&room_from(log), room);
    Ok(())
}

/// Serializes the state after `k` events, reads it back, applies the rest:
/// the result must equal applying everything (what a snapshot relies on).
fn snapshot_equivalent<A>(log: &[A::Event], k: usize) -> Result<(), TestCaseError>
where
    A: Aggregate + PartialEq + std::fmt::Debug,
{
    let replay = |events: &[A::Event]| {
        let mut aggregate = A::default();
        for event in events {
            aggregate.apply(event.clone());
        }
        aggregate
    };
    let k = k % (log.len() + 1);
    let snapshot = serde_json::to_string(&replay(&log[..k])).unwrap();
    let mut restored: A = serde_json::from_str(&snapshot).unwrap();
    for event in &log[k..] {
        restored.apply(event.clone());
    }
    prop_assert_eq!(restored, replay(log));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_room_commands_keep_the_invariants(ops in prop::collection::vec(op(), 1..80), open in any::<bool>()) {
        run_ops(&ops, open)?;
    }

    #[test]
    fn room_snapshot_then_rest_equals_full_replay(
        ops in prop::collection::vec(op(), 1..80),
        open in any::<bool>(),
        k in any::<usize>(),
    ) {
        let log = run_ops(&ops, open)?;
        snapshot_equivalent::<Room>(&log, k)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    // The idempotency window keeps exactly the last 1024 sends, evicting
    // oldest first, so a room's size does not grow with its traffic.
    #[test]
    fn idempotency_window_is_bounded_and_fifo(extra in 1_usize..300) {
        let total = IDEMPOTENCY_WINDOW + extra;
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&[group_created(JoinRule::Invite)]);
        for n in 0..total {
            run_room(&mut room, &lookup, send_with(mid(n as u128), BOB, &format!("c-{n}"), at(1))).unwrap();
        }
        prop_assert_eq!(room.recent_messages().len(), IDEMPOTENCY_WINDOW);
        let oldest_kept = total - IDEMPOTENCY_WINDOW;
        prop_assert_eq!(room.recent_messages().front().map(|r| r.seq), Some(oldest_kept as u64 + 1));
        // Within the window a retry is deduplicated ...
        let retry = send_with(mid(1_000_000), BOB, &format!("c-{oldest_kept}"), at(2));
        prop_assert!(run_room(&mut room, &lookup, retry).unwrap().is_empty());
        // ... beyond it the client id is forgotten and the send is new.
        let stale = send_with(mid(1_000_001), BOB, &format!("c-{}", oldest_kept - 1), at(2));
        prop_assert_eq!(run_room(&mut room, &lookup, stale).unwrap().len(), 1);
        prop_assert_eq!(room.recent_messages().len(), IDEMPOTENCY_WINDOW);
    }
}

#[derive(Debug, Clone)]
enum KeyOp {
    Publish(usize),
    Add(usize),
    Claim(usize),
}

fn key_op() -> impl Strategy<Value = KeyOp> {
    prop_oneof![
        1 => (0_usize..6).prop_map(KeyOp::Publish),
        1 => (0_usize..6).prop_map(KeyOp::Add),
        2 => (0_usize..USERS.len()).prop_map(KeyOp::Claim),
    ]
}

fn registered() -> UserEvent {
    UserEvent::UserRegistered {
        user_id: ALICE,
        email: Some(Email::parse("alice@example.org").unwrap()),
        phone: None,
        display_name: dn("Alice"),
        device_id: FIRST,
        device_name: None,
        at: t0(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // Each one-time prekey is handed out at most once, only while pooled,
    // and the pool never exceeds its cap.
    #[test]
    fn one_time_prekeys_are_handed_out_at_most_once(
        ops in prop::collection::vec(key_op(), 1..60),
        k in any::<usize>(),
    ) {
        const LIMIT: usize = 8;
        let mut user = User::default();
        user.apply(registered());
        let mut log = vec![registered()];
        let mut next_key = 0_u32;
        let mut fresh = |n: usize| -> Vec<OneTimePrekey> {
            (0..n)
                .map(|_| {
                    next_key += 1;
                    OneTimePrekey { key_id: next_key, public_key: b64(&next_key.to_be_bytes()) }
                })
                .collect()
        };
        let mut claimed = BTreeSet::new();
        for (step, op) in ops.into_iter().enumerate() {
            let when = at(step as i64);
            let command = match op {
                KeyOp::Publish(n) => UserCommand::PublishKeys {
                    device_id: FIRST,
                    identity_key: b64(&[1; 32]),
                    signed_prekey: SignedPrekey { key_id: 1, public_key: b64(&[2; 32]), signature: b64(&[3; 64]) },
                    one_time_prekeys: fresh(n),
                    pool_limit: LIMIT,
                    at: when,
                },
                KeyOp::Add(n) => {
                    UserCommand::AddOneTimePrekeys { device_id: FIRST, keys: fresh(n), pool_limit: LIMIT, at: when }
                }
                KeyOp::Claim(u) => UserCommand::ClaimOneTimePrekey { device_id: FIRST, claimed_by: USERS[u], at: when },
            };
            let pooled: Vec<u32> = user.keys_of(FIRST).one_time_prekeys.iter().map(|key| key.key_id).collect();
            let Ok(events) = futures::executor::block_on(execute(&mut user, command, &())) else {
                continue;
            };
            for event in &events {
                if let UserEvent::OneTimePrekeyClaimed { key_id, .. } = event {
                    prop_assert!(claimed.insert(*key_id), "key {} handed out twice", key_id);
                    prop_assert_eq!(pooled.first(), Some(key_id), "the oldest pooled key goes first");
                }
            }
            log.extend(events);
            prop_assert!(user.keys_of(FIRST).one_time_prekeys.len() <= LIMIT);
            prop_assert!(user.keys_of(FIRST).one_time_prekeys.iter().all(|key| !claimed.contains(&key.key_id)));
        }
        snapshot_equivalent::<User>(&log, k)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // Chunks arrive in any order and any number of times: each index is
    // recorded once, and the upload completes only when every chunk is in.
    #[test]
    fn file_chunks_in_any_order_complete_exactly_when_all_are_stored(
        size in 1_u64..5000,
        chunk_size in 1_u64..700,
        order in prop::collection::vec(any::<u32>(), 0..40),
        k in any::<usize>(),
    ) {
        use ciphertalk_domain::file::{File, FileCommand, FileEvent};
        let chunk_count = u32::try_from(size.div_ceil(chunk_size)).unwrap();
        let mut file = File::default();
        let register = FileCommand::RegisterFile {
            file_id: fid(1),
            room_id: ROOM,
            uploader: ALICE,
            size,
            chunk_size,
            chunk_count,
            content_type: ciphertalk_domain::values::ContentType::default(),
            wrapped_keys: std::collections::BTreeMap::from([(ALICE, b64(&[1; 32]))]),
            chunk_sha256: None,
            expires_at: None,
            limits: ciphertalk_domain::file::FileLimits { max_expiry: None, ..crate::file::limits() },
            uploader_stored_bytes: 0,
            at: t0(),
        };
        let run = |file: &mut File, command| futures::executor::block_on(execute(file, command, &()));
        let mut log = run(&mut file, register).unwrap();
        let mut stored = BTreeSet::new();
        for index in order.into_iter().map(|i| i % chunk_count) {
            let expected = file.info().unwrap().expected_chunk_size(index).unwrap();
            let events = run(&mut file, FileCommand::StoreChunk { index, size: expected, sha256: crate::file::digest(index), at: at(1) }).unwrap();
            prop_assert_eq!(events.len(), usize::from(stored.insert(index)));
            log.extend(events);
        }
        let sizes: u64 = (0..chunk_count).map(|i| file.info().unwrap().expected_chunk_size(i).unwrap()).sum();
        prop_assert_eq!(sizes, size, "chunk sizes add up to the file size");
        let complete = run(&mut file, FileCommand::CompleteFile { actor: ALICE, at: at(2) });
        prop_assert_eq!(complete.is_ok(), stored.len() == chunk_count as usize);
        if let Ok(events) = complete {
            prop_assert_eq!(&events, &vec![FileEvent::FileCompleted { by: ALICE, at: at(2) }]);
            log.extend(events);
        }
        snapshot_equivalent::<File>(&log, k)?;
    }
}
