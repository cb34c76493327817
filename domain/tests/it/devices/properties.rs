//! Named properties of devices and their keys.

use super::*;

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
