//! Keys per device: each device publishes and counts its own; a bundle
//! fetch hands out one bundle per device, each one-time key at most once;
//! who may see a user's devices.

use std::collections::HashSet;

use super::*;
use crate::support::app::{Person, TestApp, b64};

fn keys_of(device: &str, ids: std::ops::Range<u32>) -> Value {
    let one_time: Vec<Value> =
        ids.map(|id| json!({"key_id": id, "public_key": b64(&format!("{device} otk {id}"))})).collect();
    json!({
        "identity_key": b64(&format!("{device} identity")),
        "signed_prekey": {"key_id": 1, "public_key": b64(&format!("{device} signed")), "signature": b64("sig")},
        "one_time_prekeys": one_time,
    })
}

/// Bob with two devices (the registration's and a laptop), each with `pool` one-time keys.
async fn bob_with_two_devices(app: &TestApp, pool: u32) -> (Person, Person, [String; 2]) {
    let registered = app.register("bob@example.org", "Bob").await;
    let laptop = login_on_new_device(app, "bob@example.org", "Laptop").await;
    let (phone, laptop_session) = (Person::from_session(&registered), Person::from_session(&laptop));
    for (who, name) in [(&phone, "phone"), (&laptop_session, "laptop")] {
        let (status, body) = app.put(who, "/v1/keys", Some(keys_of(name, 0..pool))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    (phone, laptop_session, [device_of(&registered), device_of(&laptop)])
}

#[tokio::test]
async fn each_device_publishes_and_counts_its_own_keys() {
    let app = spawn_app().await;
    let (phone, laptop, [phone_id, laptop_id]) = bob_with_two_devices(&app, 3).await;
    let more = json!({"one_time_prekeys": [{"key_id": 10, "public_key": b64("more")}]});
    assert_eq!(app.post(&laptop, "/v1/keys/one-time", more).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&phone, "/v1/keys/count").await.1, json!({"one_time_prekeys": 3}));
    assert_eq!(app.get(&laptop, "/v1/keys/count").await.1, json!({"one_time_prekeys": 4}));

    let alice = app.person("Alice").await;
    let (status, bundles) = app.get(&alice, &format!("/v1/users/{}/prekey-bundle", phone.id)).await;
    assert_eq!(status, StatusCode::OK, "{bundles}");
    let devices = bundles["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{bundles}");
    for (bundle, (id, name)) in devices.iter().zip([(&phone_id, "phone"), (&laptop_id, "laptop")]) {
        assert_eq!(bundle["device_id"], id.as_str());
        assert_eq!(bundle["identity_key"], b64(&format!("{name} identity")));
        assert_eq!(bundle["one_time_prekey"]["public_key"], b64(&format!("{name} otk 0")));
    }
    assert_eq!(app.get(&phone, "/v1/keys/count").await.1, json!({"one_time_prekeys": 2}));
    assert_eq!(app.get(&laptop, "/v1/keys/count").await.1, json!({"one_time_prekeys": 3}));
}

#[tokio::test]
async fn fifty_concurrent_fetches_hand_out_each_devices_one_time_keys_once() {
    let app = spawn_app().await;
    let (phone, _laptop, ids) = bob_with_two_devices(&app, 20).await;
    let alice = app.person("Alice").await;
    let path = format!("/v1/users/{}/prekey-bundle", phone.id);
    let fetches = futures::future::join_all((0..50).map(|_| app.get(&alice, &path))).await;
    let mut handed_out: [HashSet<u64>; 2] = Default::default();
    let mut without = [0; 2];
    for (status, bundles) in &fetches {
        assert_eq!(*status, StatusCode::OK, "{bundles}");
        let devices = bundles["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 2, "{bundles}");
        for (i, bundle) in devices.iter().enumerate() {
            assert_eq!(bundle["device_id"], ids[i].as_str());
            match bundle.get("one_time_prekey") {
                Some(key) => {
                    assert!(handed_out[i].insert(key["key_id"].as_u64().unwrap()), "handed out twice: {key}")
                }
                None => without[i] += 1,
            }
        }
    }
    assert_eq!(handed_out.map(|keys| keys.len()), [20, 20]);
    assert_eq!(without, [30, 30]);
}

#[tokio::test]
async fn one_devices_bundle_comes_from_its_own_route() {
    let app = spawn_app().await;
    let (phone, laptop, [phone_id, laptop_id]) = bob_with_two_devices(&app, 2).await;
    let alice = app.person("Alice").await;
    let path = |device: &str| format!("/v1/users/{}/devices/{device}/prekey-bundle", phone.id);
    let (status, bundle) = app.get(&alice, &path(&laptop_id)).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(bundle["device_id"], laptop_id.as_str());
    assert_eq!(bundle["identity_key"], b64("laptop identity"));
    assert_eq!(bundle["one_time_prekey"]["public_key"], b64("laptop otk 0"));
    assert_eq!(app.get(&laptop, "/v1/keys/count").await.1, json!({"one_time_prekeys": 1}));
    assert_eq!(app.get(&phone, "/v1/keys/count").await.1, json!({"one_time_prekeys": 2}), "{phone_id}");

    // Alice's own device is not one of Bob's; an unknown or malformed one is not found either.
    let alices = DeviceId::first_of(alice.id).to_string();
    for device in [alices.as_str(), &uuid::Uuid::now_v7().to_string(), "nope"] {
        let (status, body) = app.get(&alice, &path(device)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{device}: {body}");
    }
}

#[tokio::test]
async fn a_users_devices_are_seen_by_co_members_and_contacts_only() {
    let app = spawn_app().await;
    let (bob, _laptop, [phone_id, laptop_id]) = bob_with_two_devices(&app, 1).await;
    let (carol, dave, stranger) =
        (app.person("Carol").await, app.person("Dave").await, app.person("Eve").await);
    let path = format!("/v1/users/{}/devices", bob.id);
    for who in [&carol, &dave, &stranger] {
        let (status, body) = app.get(who, &path).await;
        assert_error(status, &body, 404, "not_found");
    }
    app.group(&carol, &[&bob]).await;
    assert_eq!(app.put(&dave, &format!("/v1/contacts/{}", bob.id), None).await.0, StatusCode::NO_CONTENT);
    for who in [&carol, &dave, &bob] {
        let (status, list) = app.get(who, &path).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let items = list["items"].as_array().unwrap();
        let ids: Vec<&Value> = items.iter().map(|d| &d["device_id"]).collect();
        assert_eq!(ids, [&json!(phone_id), &json!(laptop_id)], "{list}");
        assert_eq!(items[1]["identity_key"], b64("laptop identity"));
        assert!(items[0]["created_at"].is_string(), "{list}");
    }
    let (status, _) = app.get(&stranger, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&carol, &format!("/v1/users/{}/devices", uuid::Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
