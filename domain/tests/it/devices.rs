//! Devices: given/when/then for the device and per-device key commands, the
//! to-device batch and outbox, and the named properties of devices, of the
//! upcast of data written before devices, and of per-device delivery cursors.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ciphertalk_domain::delivery::{Audience, DeliveryQueue, Position, Session};
use ciphertalk_domain::testing::execute;
use ciphertalk_domain::to_device::{
    BatchId, Outbox, ToDeviceBatch, ToDeviceCommand, ToDeviceEvent, ToDeviceKind, ToDeviceLimits,
    ToDeviceMessage,
};
use ciphertalk_domain::upcast::{upcast, upcasters};
use ciphertalk_domain::user::{
    DeviceName, KeyDirectory, OneTimePrekey, SignedPrekey, User, UserCommand, UserEvent,
};
use ciphertalk_domain::{DeviceId, DomainError, UserId};
use cqrs_es::Aggregate as _;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;
use crate::user::{FIRST, claimed_on, given, key, publish_on, published_on, registered};

const LAPTOP: DeviceId = DeviceId::from_uuid(Uuid::from_u128(0xde71));
const TABLET: DeviceId = DeviceId::from_uuid(Uuid::from_u128(0xde72));

fn name(s: &str) -> DeviceName {
    DeviceName::parse(s).unwrap()
}

fn add_device(device_id: DeviceId, device_limit: usize) -> UserCommand {
    UserCommand::AddDevice { device_id, name: Some(name("Laptop")), device_limit, at: at(2) }
}

fn laptop_added() -> UserEvent {
    UserEvent::DeviceAdded { device_id: LAPTOP, name: Some(name("Laptop")), at: at(2) }
}

fn replay(events: impl IntoIterator<Item = UserEvent>) -> User {
    let mut user = User::default();
    for event in events {
        user.apply(event);
    }
    user
}

fn pool(user: &User, device: DeviceId) -> Vec<u32> {
    user.keys_of(device).one_time_prekeys.iter().map(|key| key.key_id).collect()
}

mod add_rename_remove {
    use super::*;

    #[test]
    fn registering_makes_the_first_device() {
        let user = replay([registered()]);
        let device = user.devices().get(FIRST).unwrap();
        assert_eq!((device.name.as_ref(), device.created_at), (None, t0()));
        assert_eq!(user.devices().len(), 1);
    }

    #[test]
    fn add_a_device_once_and_within_the_limit() {
        given(vec![registered()]).when(add_device(LAPTOP, 2)).then_expect_events(vec![laptop_added()]);
        given(vec![registered(), laptop_added()]).when(add_device(LAPTOP, 2)).then_expect_events(vec![]);
        given(vec![registered(), laptop_added()])
            .when(add_device(TABLET, 2))
            .then_expect_error(DomainError::DeviceLimitReached);
        given(vec![registered()])
            .when(add_device(LAPTOP, 1))
            .then_expect_error(DomainError::DeviceLimitReached);
    }

    #[test]
    fn rename_a_device() {
        let rename = |device_id, to: &str| UserCommand::RenameDevice { device_id, name: name(to), at: at(3) };
        given(vec![registered(), laptop_added()]).when(rename(LAPTOP, "Work")).then_expect_events(vec![
            UserEvent::DeviceRenamed { device_id: LAPTOP, name: name("Work"), at: at(3) },
        ]);
        given(vec![registered(), laptop_added()]).when(rename(LAPTOP, "Laptop")).then_expect_events(vec![]);
        given(vec![registered()]).when(rename(LAPTOP, "Work")).then_expect_error(DomainError::DeviceNotFound);
        let renamed = replay([
            registered(),
            UserEvent::DeviceRenamed { device_id: FIRST, name: name("Phone"), at: at(3) },
        ]);
        assert_eq!(renamed.devices().get(FIRST).unwrap().name, Some(name("Phone")));
    }

    #[test]
    fn removing_a_device_takes_its_keys_and_nothing_else() {
        let remove = |device_id| UserCommand::RemoveDevice { device_id, at: at(4) };
        let history =
            vec![registered(), laptop_added(), published_on(FIRST, &[1]), published_on(LAPTOP, &[2])];
        given(history.clone())
            .when(remove(LAPTOP))
            .then_expect_events(vec![UserEvent::DeviceRemoved { device_id: LAPTOP, at: at(4) }]);
        given(vec![registered()]).when(remove(LAPTOP)).then_expect_error(DomainError::DeviceNotFound);
        let user =
            replay(history.into_iter().chain([UserEvent::DeviceRemoved { device_id: LAPTOP, at: at(4) }]));
        assert_eq!(user.keys_of(LAPTOP), &KeyDirectory::default());
        assert_eq!(pool(&user, FIRST), [1]);
        assert!(!user.devices().contains(LAPTOP));
        let error = TestFramework::<User>::with(())
            .given(vec![
                registered(),
                laptop_added(),
                UserEvent::DeviceRemoved { device_id: LAPTOP, at: at(4) },
            ])
            .when(publish_on(LAPTOP, &[3], 10))
            .inspect_result();
        assert_eq!(error, Err(DomainError::DeviceNotFound));
    }

    #[test]
    fn the_last_device_may_go() {
        let user = replay([registered(), UserEvent::DeviceRemoved { device_id: FIRST, at: at(1) }]);
        assert!(user.devices().is_empty());
        given(vec![registered(), UserEvent::DeviceRemoved { device_id: FIRST, at: at(1) }])
            .when(add_device(LAPTOP, 1))
            .then_expect_events(vec![laptop_added()]);
    }

    #[test]
    fn device_names_are_trimmed_and_bounded() {
        assert_eq!(name("  Phone ").as_str(), "Phone");
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
            assert!(DeviceName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(DeviceName::parse(&"é".repeat(64)).is_ok());
    }
}

mod keys_per_device {
    use super::*;

    fn bundles(claimed_by: UserId) -> UserCommand {
        UserCommand::ClaimPrekeyBundles { claimed_by, at: at(5) }
    }

    #[test]
    fn each_device_publishes_its_own_bundle() {
        given(vec![registered(), laptop_added()])
            .when(publish_on(LAPTOP, &[7], 10))
            .then_expect_events(vec![published_on(LAPTOP, &[7])]);
        let user =
            replay([registered(), laptop_added(), published_on(FIRST, &[1, 2]), published_on(LAPTOP, &[7])]);
        assert_eq!((pool(&user, FIRST), pool(&user, LAPTOP)), (vec![1, 2], vec![7]));
        given(vec![registered()])
            .when(publish_on(LAPTOP, &[7], 10))
            .then_expect_error(DomainError::DeviceNotFound);
    }

    #[test]
    fn a_claim_names_the_device_it_takes_from() {
        let history =
            vec![registered(), laptop_added(), published_on(FIRST, &[1]), published_on(LAPTOP, &[1, 2])];
        given(history)
            .when(UserCommand::ClaimOneTimePrekey { device_id: LAPTOP, claimed_by: BOB, at: at(5) })
            .then_expect_events(vec![claimed_on(LAPTOP, 1, BOB, 5)]);
        let user = replay(
            [registered(), laptop_added(), published_on(FIRST, &[1]), published_on(LAPTOP, &[1, 2])]
                .into_iter()
                .chain([claimed_on(LAPTOP, 1, BOB, 5)]),
        );
        assert_eq!((pool(&user, FIRST), pool(&user, LAPTOP)), (vec![1], vec![2]));
        given(vec![registered(), published_on(FIRST, &[1])])
            .when(UserCommand::ClaimOneTimePrekey { device_id: LAPTOP, claimed_by: BOB, at: at(5) })
            .then_expect_error(DomainError::KeysNotPublished);
    }

    #[test]
    fn bundles_claim_one_key_from_every_device_that_has_one() {
        let tablet = UserEvent::DeviceAdded { device_id: TABLET, name: None, at: at(2) };
        let history = vec![
            registered(),
            laptop_added(),
            tablet.clone(),
            published_on(FIRST, &[4, 5]),
            published_on(LAPTOP, &[]),
        ];
        // The tablet published nothing, the laptop's pool is empty: one claim, the first device's.
        given(history).when(bundles(BOB)).then_expect_events(vec![claimed_on(FIRST, 4, BOB, 5)]);
        let both = vec![registered(), laptop_added(), published_on(FIRST, &[4]), published_on(LAPTOP, &[9])];
        given(both)
            .when(bundles(BOB))
            .then_expect_events(vec![claimed_on(FIRST, 4, BOB, 5), claimed_on(LAPTOP, 9, BOB, 5)]);
        given(vec![registered(), published_on(FIRST, &[])]).when(bundles(BOB)).then_expect_events(vec![]);
        given(vec![registered(), tablet]).when(bundles(BOB)).then_expect_error(DomainError::KeysNotPublished);
    }

    #[test]
    fn a_blocked_requester_gets_no_bundle_from_any_device() {
        let blocked = UserEvent::UserBlocked { blocked: BOB, at: at(3) };
        let history = vec![
            registered(),
            laptop_added(),
            published_on(FIRST, &[4]),
            published_on(LAPTOP, &[9]),
            blocked,
        ];
        given(history.clone()).when(bundles(BOB)).then_expect_error(DomainError::KeysNotPublished);
        given(history)
            .when(UserCommand::ClaimOneTimePrekey { device_id: LAPTOP, claimed_by: BOB, at: at(5) })
            .then_expect_error(DomainError::KeysNotPublished);
    }
}

mod to_device {
    use super::*;

    fn message(user_id: UserId, device_id: DeviceId, bytes: usize) -> ToDeviceMessage {
        ToDeviceMessage {
            user_id,
            device_id,
            kind: ToDeviceKind::parse("olm.prekey").unwrap(),
            ciphertext: b64ct(bytes),
        }
    }

    fn b64ct(bytes: usize) -> ciphertalk_domain::values::Ciphertext {
        ciphertalk_domain::values::Ciphertext::parse(b64(&vec![7; bytes]).as_str()).unwrap()
    }

    fn batch(messages: Vec<ToDeviceMessage>) -> Result<ToDeviceBatch, DomainError> {
        ToDeviceBatch::parse(
            BatchId::parse("b-1").unwrap(),
            messages,
            &ToDeviceLimits { max_messages: 3, max_bytes: 100 },
        )
    }

    #[test]
    fn a_batch_holds_one_to_max_messages_within_max_bytes() {
        assert_eq!(batch(vec![]).unwrap_err().code(), "invalid_value");
        assert!(batch(vec![message(BOB, LAPTOP, 50), message(BOB, TABLET, 50)]).is_ok());
        assert_eq!(batch(vec![message(BOB, LAPTOP, 1); 4]).unwrap_err().code(), "too_large");
        assert_eq!(
            batch(vec![message(BOB, LAPTOP, 51), message(BOB, TABLET, 50)]).unwrap_err().code(),
            "too_large"
        );
    }

    #[test]
    fn batch_ids_and_kinds_are_validated() {
        assert!(BatchId::parse(&"b".repeat(64)).is_ok());
        for bad in ["", "tab\there", &"b".repeat(65)] {
            assert!(BatchId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ToDeviceKind::parse("m.room_key/v2:x-y_z").is_ok());
        for bad in ["", "has space", "ü", &"k".repeat(65)] {
            assert!(ToDeviceKind::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_own_devices_and_reachable_users_may_be_sent_to() {
        let sent = batch(vec![message(ALICE, LAPTOP, 1), message(BOB, TABLET, 1)]).unwrap();
        assert_eq!(sent.recipients(), BTreeSet::from([ALICE, BOB]));
        assert_eq!(sent.authorise(ALICE, |user| user == BOB), Ok(()));
        let refused = sent.authorise(ALICE, |_| false).unwrap_err();
        assert_eq!(
            (refused.code(), refused.kind()),
            ("not_allowed", ciphertalk_domain::ErrorKind::Forbidden)
        );
        assert_eq!(batch(vec![message(ALICE, LAPTOP, 1)]).unwrap().authorise(ALICE, |_| false), Ok(()));
    }

    fn send(from_user: UserId, batch: ToDeviceBatch) -> ToDeviceCommand {
        ToDeviceCommand::SendToDevice { from_user, from_device: FIRST, batch, at: at(1) }
    }

    #[test]
    fn the_outbox_records_the_batch_whole_and_in_order() {
        let messages = vec![message(BOB, LAPTOP, 3), message(CAROL, TABLET, 2), message(BOB, TABLET, 1)];
        let sent = ToDeviceEvent::ToDeviceSent {
            from_user: ALICE,
            from_device: FIRST,
            batch_id: BatchId::parse("b-1").unwrap(),
            messages: messages.clone(),
            at: at(1),
        };
        TestFramework::<Outbox>::with(())
            .given_no_previous_events()
            .when(send(ALICE, batch(messages).unwrap()))
            .then_expect_events(vec![sent.clone()]);
        assert_eq!(sent.idempotency_key(), format!("to-device:{FIRST}:b-1"));
        let delivered: Vec<UserId> =
            sent.deliverable(|user| user == CAROL).map(|message| message.user_id).collect();
        assert_eq!(delivered, [BOB, BOB], "Carol blocked Alice: hers is dropped");
        let error = TestFramework::<Outbox>::with(())
            .given(vec![sent])
            .when(send(BOB, batch(vec![message(CAROL, TABLET, 1)]).unwrap()))
            .inspect_result();
        assert_eq!(error.unwrap_err().code(), "forbidden");
    }
}

// ---- Properties of devices and their keys ----

const DEVICES: [DeviceId; 4] = [FIRST, LAPTOP, TABLET, DeviceId::from_uuid(Uuid::from_u128(0xde73))];
const CLAIMERS: [UserId; 3] = [BOB, CAROL, EVE];

#[derive(Debug, Clone)]
enum DeviceOp {
    Add(usize),
    Remove(usize),
    Rename(usize),
    Publish(usize, usize),
    TopUp(usize, usize),
    Claim(usize, usize),
    Bundles(usize),
}

fn device_op() -> impl Strategy<Value = DeviceOp> {
    let device = 0..DEVICES.len();
    let claimer = 0..CLAIMERS.len();
    prop_oneof![
        2 => device.clone().prop_map(DeviceOp::Add),
        1 => device.clone().prop_map(DeviceOp::Remove),
        1 => device.clone().prop_map(DeviceOp::Rename),
        2 => (device.clone(), 0_usize..5).prop_map(|(d, n)| DeviceOp::Publish(d, n)),
        2 => (device.clone(), 0_usize..5).prop_map(|(d, n)| DeviceOp::TopUp(d, n)),
        3 => (device, claimer.clone()).prop_map(|(d, c)| DeviceOp::Claim(d, c)),
        2 => claimer.prop_map(DeviceOp::Bundles),
    ]
}

/// What one step did: the user before and after, and the events it emitted.
struct Step {
    before: User,
    after: User,
    events: Vec<UserEvent>,
}

/// Runs `ops` on a registered Alice with at most `device_limit` devices and
/// pools of at most `pool_limit`; refused commands emit nothing. Key ids are
/// fresh per run, so a key id names one key.
fn run_device_ops(ops: &[DeviceOp], device_limit: usize, pool_limit: usize) -> Vec<Step> {
    let mut user = replay([registered()]);
    let mut next_key = 0_u32;
    let mut fresh = |n: usize| -> Vec<OneTimePrekey> {
        (0..n)
            .map(|_| {
                next_key += 1;
                key(next_key)
            })
            .collect()
    };
    let mut steps = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let when = at(step as i64);
        let command = match *op {
            DeviceOp::Add(d) => {
                UserCommand::AddDevice { device_id: DEVICES[d], name: None, device_limit, at: when }
            }
            DeviceOp::Remove(d) => UserCommand::RemoveDevice { device_id: DEVICES[d], at: when },
            DeviceOp::Rename(d) => {
                UserCommand::RenameDevice { device_id: DEVICES[d], name: name(&format!("d{step}")), at: when }
            }
            DeviceOp::Publish(d, n) => UserCommand::PublishKeys {
                device_id: DEVICES[d],
                identity_key: b64(&[1; 32]),
                signed_prekey: SignedPrekey {
                    key_id: 1,
                    public_key: b64(&[2; 32]),
                    signature: b64(&[3; 64]),
                },
                one_time_prekeys: fresh(n),
                pool_limit,
                at: when,
            },
            DeviceOp::TopUp(d, n) => {
                UserCommand::AddOneTimePrekeys { device_id: DEVICES[d], keys: fresh(n), pool_limit, at: when }
            }
            DeviceOp::Claim(d, c) => {
                UserCommand::ClaimOneTimePrekey { device_id: DEVICES[d], claimed_by: CLAIMERS[c], at: when }
            }
            DeviceOp::Bundles(c) => UserCommand::ClaimPrekeyBundles { claimed_by: CLAIMERS[c], at: when },
        };
        let before = user.clone();
        let events = futures::executor::block_on(execute(&mut user, command, &())).unwrap_or_default();
        steps.push(Step { before, after: user.clone(), events });
    }
    steps
}

fn ops() -> impl Strategy<Value = Vec<DeviceOp>> {
    prop::collection::vec(device_op(), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // Devices: the bound is never exceeded. A user never holds more devices
    // than the limit the additions were made under, and an addition is
    // refused only when the user is at the limit.
    #[test]
    fn device_bound_never_exceeded(ops in ops(), device_limit in 1_usize..4) {
        for step in run_device_ops(&ops, device_limit, 8) {
            prop_assert!(step.after.devices().len() <= device_limit);
            let added = step.events.iter().filter(|e| matches!(e, UserEvent::DeviceAdded { .. })).count();
            prop_assert!(added <= 1);
            if added == 1 {
                prop_assert!(step.before.devices().len() < device_limit);
            }
        }
    }

    // Devices: a removed device has no keys. Once removed, a device's key
    // directory is empty, and nothing is published to it or claimed from it
    // until it is added again (which starts it with no keys).
    #[test]
    fn a_removed_device_has_no_keys(ops in ops()) {
        for step in run_device_ops(&ops, 3, 8) {
            for device in DEVICES {
                if !step.after.devices().contains(device) {
                    prop_assert_eq!(step.after.keys_of(device), &KeyDirectory::default());
                }
            }
            for event in &step.events {
                if let UserEvent::DeviceAdded { device_id, .. } = event {
                    prop_assert_eq!(step.after.keys_of(*device_id), &KeyDirectory::default());
                }
            }
        }
    }

    // Keys: a one-time prekey is claimed at most once. Whether claimed one by
    // one or as bundles, each (device, key) is handed out once, only while
    // pooled on that device, oldest first, and a bundle takes at most one
    // key per device; pools stay within their cap.
    #[test]
    fn a_one_time_prekey_is_claimed_at_most_once(ops in ops()) {
        let mut claimed = BTreeSet::new();
        for step in run_device_ops(&ops, 3, 8) {
            let mut per_device = BTreeMap::new();
            for event in &step.events {
                if let UserEvent::OneTimePrekeyClaimed { device_id, key_id, .. } = event {
                    let first = (*device_id, *key_id);
                    prop_assert!(claimed.insert(first), "key {} of {} handed out twice", key_id, device_id);
                    let oldest = step.before.keys_of(*device_id).next_claim().map(|key| key.key_id);
                    prop_assert_eq!(oldest, Some(*key_id), "the oldest pooled key goes first");
                    *per_device.entry(*device_id).or_insert(0) += 1;
                }
            }
            prop_assert!(per_device.values().all(|claims| *claims == 1));
            for device in step.after.devices().iter() {
                prop_assert!(device.keys.one_time_prekeys.len() <= 8);
                let pooled = device.keys.one_time_prekeys.iter();
                prop_assert!(pooled.clone().all(|key| !claimed.contains(&(device.device_id, key.key_id))));
            }
        }
    }

    // State built by the commands equals a replay of their events, and a
    // snapshot at any point plus the rest equals the full replay.
    #[test]
    fn device_state_replays_and_snapshots_the_same(ops in ops(), k in any::<usize>()) {
        let steps = run_device_ops(&ops, 3, 8);
        let emitted = steps.iter().flat_map(|step| step.events.clone());
        let log: Vec<UserEvent> = std::iter::once(registered()).chain(emitted).collect();
        let last = steps.last().map(|step| step.after.clone()).unwrap();
        prop_assert_eq!(&replay(log.clone()), &last);
        let k = k % (log.len() + 1);
        let snapshot = serde_json::to_value(replay(log[..k].to_vec())).unwrap();
        let mut restored: User = serde_json::from_value(snapshot).unwrap();
        for event in &log[k..] {
            restored.apply(event.clone());
        }
        prop_assert_eq!(restored, last);
    }
}

// ---- Upcast of data written before devices ----

/// Today's key directory, as the code before devices kept it per user.
#[derive(Debug, Default)]
struct KeysBefore {
    identity_key: Option<String>,
    signed_prekey: Option<Value>,
    pool: VecDeque<(u32, String)>,
}

#[derive(Debug, Clone)]
enum OldOp {
    Publish(usize),
    TopUp(usize),
    Claim,
    Contact,
}

fn old_op() -> impl Strategy<Value = OldOp> {
    prop_oneof![
        1 => (0_usize..4).prop_map(OldOp::Publish),
        1 => (0_usize..4).prop_map(OldOp::TopUp),
        2 => Just(OldOp::Claim),
        1 => Just(OldOp::Contact),
    ]
}

fn key_json(id: u32) -> Value {
    json!({"key_id": id, "public_key": key(id).public_key.as_str()})
}

/// A stream as the code before devices wrote it (the shapes of the frozen
/// version 1 fixtures), and the keys that code held afterwards.
fn old_stream(user: UserId, ops: &[OldOp]) -> (Vec<(String, Value)>, KeysBefore) {
    let at = |step: usize| serde_json::to_value(at(step as i64)).unwrap();
    let mut stream = vec![(
        "UserRegistered".to_owned(),
        json!({"UserRegistered": {
            "user_id": user, "email": "u@example.org", "phone": null, "display_name": "U", "at": at(0),
        }}),
    )];
    let mut keys = KeysBefore::default();
    let mut next_key = 0_u32;
    for (step, op) in ops.iter().enumerate() {
        let mut fresh = |n: usize| -> Vec<u32> {
            (0..n)
                .map(|_| {
                    next_key += 1;
                    next_key
                })
                .collect()
        };
        let event = match op {
            OldOp::Publish(n) => {
                let ids = fresh(*n);
                let identity = b64(&[step as u8 + 1; 32]).into_inner();
                let signed = json!({
                    "key_id": step, "public_key": b64(&[2; 32]).as_str(), "signature": b64(&[3; 64]).as_str(),
                });
                keys = KeysBefore {
                    identity_key: Some(identity.clone()),
                    signed_prekey: Some(signed.clone()),
                    pool: ids.iter().map(|id| (*id, key(*id).public_key.into_inner())).collect(),
                };
                let pool: Vec<Value> = ids.into_iter().map(key_json).collect();
                json!({"KeysPublished": {
                    "identity_key": identity, "signed_prekey": signed, "one_time_prekeys": pool, "at": at(step),
                }})
            }
            OldOp::TopUp(n) if keys.identity_key.is_some() => {
                let ids = fresh(*n);
                keys.pool.extend(ids.iter().map(|id| (*id, key(*id).public_key.into_inner())));
                let added: Vec<Value> = ids.into_iter().map(key_json).collect();
                json!({"OneTimePrekeysAdded": {"keys": added, "at": at(step)}})
            }
            OldOp::Claim if keys.identity_key.is_some() && !keys.pool.is_empty() => {
                let (id, public_key) = keys.pool.pop_front().unwrap();
                json!({"OneTimePrekeyClaimed": {
                    "key_id": id, "public_key": public_key, "claimed_by": BOB, "at": at(step),
                }})
            }
            _ => json!({"ContactAdded": {"contact": CAROL, "at": at(step)}}),
        };
        let event_type = event.as_object().unwrap().keys().next().unwrap().clone();
        stream.push((event_type, event));
    }
    (stream, keys)
}

/// Loads an old stream the way the write side does: upcast, then decode.
fn load(user: UserId, stream: Vec<(String, Value)>) -> (User, usize) {
    let chain = upcasters();
    let mut loaded = User::default();
    let mut count = 0;
    for (sequence, (event_type, payload)) in stream.into_iter().enumerate() {
        let stored = SerializedEvent::new(
            user.to_string(),
            sequence + 1,
            "user".to_owned(),
            event_type,
            "1".to_owned(),
            payload,
            Value::Null,
        );
        let event: UserEvent = serde_json::from_value(upcast(stored, &chain).payload).unwrap();
        loaded.apply(event);
        count += 1;
    }
    (loaded, count)
}

#[test]
fn the_generated_old_streams_have_the_frozen_shapes() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/user");
    let fields = |value: &Value| -> BTreeSet<String> {
        value.as_object().unwrap().values().next().unwrap().as_object().unwrap().keys().cloned().collect()
    };
    let (stream, _) = old_stream(ALICE, &[OldOp::Publish(2), OldOp::TopUp(1), OldOp::Claim, OldOp::Contact]);
    for (event_type, payload) in stream {
        let file = dir.join(format!("{event_type}.v1.json"));
        let frozen: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert_eq!(fields(&payload), fields(&frozen), "{event_type} as the code before devices wrote it");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // Upcast: any stream written before devices loads, every event of it,
    // onto exactly one device, the user's first (whose id the gateway derives
    // from the user id), holding exactly the keys that code held.
    #[test]
    fn upcast_of_any_old_stream_yields_one_first_device_holding_its_keys(
        user in (1_u128..u128::MAX).prop_map(uid),
        ops in prop::collection::vec(old_op(), 0..40),
    ) {
        let (stream, before) = old_stream(user, &ops);
        let written = stream.len();
        let (loaded, read) = load(user, stream);
        prop_assert_eq!(read, written, "no event lost");
        let ids: Vec<DeviceId> = loaded.devices().iter().map(|device| device.device_id).collect();
        prop_assert_eq!(ids, vec![DeviceId::first_of(user)]);
        let keys = loaded.keys_of(DeviceId::first_of(user));
        prop_assert_eq!(keys.identity_key.as_ref().map(|key| key.as_str().to_owned()), before.identity_key);
        let signed = keys.signed_prekey.as_ref().map(|key| serde_json::to_value(key).unwrap());
        prop_assert_eq!(signed, before.signed_prekey);
        let pool: Vec<(u32, String)> =
            keys.one_time_prekeys.iter().map(|key| (key.key_id, key.public_key.as_str().to_owned())).collect();
        prop_assert_eq!(pool, Vec::from(before.pool));
    }
}

// ---- Per-device delivery cursors ----

const PHONE: DeviceId = FIRST;

#[derive(Debug, Clone)]
enum QueueOp {
    RoomEvent,
    ToDevice(bool),
    Connect(bool),
    Pull(bool, usize),
    Ack(bool),
    Disconnect(bool),
    AddLaptop,
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        3 => Just(QueueOp::RoomEvent),
        1 => any::<bool>().prop_map(QueueOp::ToDevice),
        2 => any::<bool>().prop_map(QueueOp::Connect),
        3 => (any::<bool>(), 1_usize..4).prop_map(|(laptop, n)| QueueOp::Pull(laptop, n)),
        2 => any::<bool>().prop_map(QueueOp::Ack),
        1 => any::<bool>().prop_map(QueueOp::Disconnect),
        1 => Just(QueueOp::AddLaptop),
    ]
}

/// A device as a client: its connection, the last position it applied
/// (kept across connections, so a redelivered entry is recognised), and what
/// it applied, in order.
#[derive(Debug, Default)]
struct Client {
    joined_after: Option<Position>,
    session: Option<Session>,
    cursor_at_connect: Position,
    last_applied: Position,
    applied: Vec<Position>,
}

impl Client {
    fn pull(&mut self, queue: &DeliveryQueue<&str>, n: usize) -> Result<(), TestCaseError> {
        let Some(session) = self.session.as_mut() else { return Ok(()) };
        for _ in 0..n {
            let Some(entry) = queue.next(session) else { break };
            if entry.position > self.last_applied {
                self.last_applied = entry.position;
                self.applied.push(entry.position);
            } else {
                // Only what was delivered and not acknowledged comes again.
                prop_assert!(entry.position > self.cursor_at_connect);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // Delivery: per-device cursors. Under any interleaving of appends,
    // connects, pulls, acks and disconnects on two devices (the second
    // added at any moment), each device applies every entry for it after the
    // point it joined exactly once and in order (so both see the same
    // sequence of room events from the later one's start, and only their own
    // to-device messages); an ack moves only its device's cursor, forward.
    #[test]
    fn every_device_sees_the_same_room_events_exactly_once(ops in prop::collection::vec(queue_op(), 1..80)) {
        let mut queue: DeliveryQueue<&str> = DeliveryQueue::default();
        queue.add_device(PHONE);
        let mut clients = [Client { joined_after: Some(0), ..Client::default() }, Client::default()];
        let device = |laptop: bool| if laptop { LAPTOP } else { PHONE };
        for op in ops {
            match op {
                QueueOp::RoomEvent => {
                    queue.append(Audience::EveryDevice, "room event");
                }
                QueueOp::ToDevice(laptop) => {
                    queue.append(Audience::Device(device(laptop)), "to-device message");
                }
                QueueOp::AddLaptop => {
                    if clients[1].joined_after.is_none() {
                        queue.add_device(LAPTOP);
                        let end = Some(queue.end());
                        prop_assert_eq!(queue.cursor(LAPTOP), end, "a new device starts at the end");
                        clients[1].joined_after = Some(queue.end());
                        clients[1].last_applied = queue.end();
                    }
                }
                QueueOp::Connect(laptop) => {
                    let client = &mut clients[usize::from(laptop)];
                    if client.session.is_none() && let Some(session) = queue.connect(device(laptop), None) {
                        client.cursor_at_connect = session.position();
                        client.session = Some(session);
                    }
                }
                QueueOp::Pull(laptop, n) => clients[usize::from(laptop)].pull(&queue, n)?,
                QueueOp::Ack(laptop) => {
                    if let Some(session) = clients[usize::from(laptop)].session {
                        let other = device(!laptop);
                        let (mine, theirs) = (queue.cursor(device(laptop)), queue.cursor(other));
                        let stored = queue.ack(device(laptop), session.position()).unwrap();
                        prop_assert!(Some(stored) >= mine, "a cursor never moves back");
                        prop_assert_eq!(queue.cursor(other), theirs, "an ack moves only its own device");
                    }
                }
                QueueOp::Disconnect(laptop) => clients[usize::from(laptop)].session = None,
            }
        }
        // Both reconnect and catch up.
        for (laptop, client) in clients.iter_mut().enumerate() {
            if client.joined_after.is_some() {
                client.session = queue.connect(device(laptop == 1), None);
                client.cursor_at_connect = client.session.map_or(0, |session| session.position());
                client.pull(&queue, usize::MAX)?;
            }
        }
        for (laptop, client) in clients.iter().enumerate() {
            let Some(joined_after) = client.joined_after else { continue };
            let me = device(laptop == 1);
            let expected: Vec<Position> = queue
                .entries()
                .iter()
                .filter(|entry| entry.position > joined_after && entry.audience.includes(me))
                .map(|entry| entry.position)
                .collect();
            prop_assert_eq!(&client.applied, &expected, "{} applies each of its entries once, in order", me);
        }
        let room_events = |client: &Client| -> Vec<Position> {
            let for_everyone = |position: &Position| {
                queue.entries()[*position as usize - 1].audience == Audience::EveryDevice
            };
            client.applied.iter().copied().filter(for_everyone).collect()
        };
        if let Some(laptop_joined) = clients[1].joined_after {
            let phone_since: Vec<Position> =
                room_events(&clients[0]).into_iter().filter(|p| *p > laptop_joined).collect();
            prop_assert_eq!(phone_since, room_events(&clients[1]), "the same room events on both devices");
        }
    }
}
