//! Named properties of the upcast of data written before devices.

use super::*;

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
