//! The key directory: prekey bundles hand out each one-time key once.

use super::*;

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn one_time_keys(ids: std::ops::Range<u32>) -> Vec<Value> {
    ids.map(|id| json!({"key_id": id, "public_key": b64(&[id as u8, 1, 2, 3])})).collect()
}

#[tokio::test]
async fn prekey_bundles_hand_out_each_one_time_key_once_under_concurrency() {
    let app = spawn_app().await;
    let bob = app.register("bob@example.org", "Bob").await;
    let alice = app.register("alice@example.org", "Alice").await;
    let (bob_token, alice_token) = (token(&bob, "access_token"), token(&alice, "access_token"));
    let bob_id = bob["user"]["id"].as_str().unwrap().to_owned();
    let bundle_path = format!("/v1/users/{bob_id}/prekey-bundle");

    let (status, body) = app.get(&alice_token, &bundle_path).await;
    assert_error(status, &body, 404, "keys_not_published");
    let (status, body) = app
        .call(&bob_token, "POST", "/v1/keys/one-time", Some(json!({"one_time_prekeys": one_time_keys(0..2)})))
        .await;
    assert_error(status, &body, 404, "keys_not_published");

    let identity = b64(b"bob identity key");
    let signed = json!({"key_id": 7, "public_key": b64(b"signed prekey"), "signature": b64(b"signature")});
    let publish =
        json!({"identity_key": identity, "signed_prekey": signed, "one_time_prekeys": one_time_keys(0..30)});
    let (status, body) = app.call(&bob_token, "PUT", "/v1/keys", Some(publish)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app
        .call(
            &bob_token,
            "POST",
            "/v1/keys/one-time",
            Some(json!({"one_time_prekeys": one_time_keys(30..40)})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, count) = app.get(&bob_token, "/v1/keys/count").await;
    assert_eq!((status, count), (StatusCode::OK, json!({"one_time_prekeys": 40})));

    // Bad keys: not base64, duplicate ids.
    let (status, body) = app
        .call(
            &bob_token,
            "POST",
            "/v1/keys/one-time",
            Some(json!({"one_time_prekeys": [{"key_id": 99, "public_key": "not base64!"}]})),
        )
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = app
        .call(&bob_token, "POST", "/v1/keys/one-time", Some(json!({"one_time_prekeys": one_time_keys(5..6)})))
        .await;
    assert_error(status, &body, 422, "invalid_value");

    // 50 concurrent fetches for 40 keys.
    let fetches = futures::future::join_all((0..50).map(|_| app.get(&alice_token, &bundle_path))).await;
    let mut handed_out = std::collections::HashSet::new();
    let mut without = 0;
    for (status, bundles) in &fetches {
        assert_eq!(*status, StatusCode::OK, "{bundles}");
        let bundle = &bundles["devices"][0];
        assert_eq!(bundle["device_id"], bob["device_id"]);
        assert_eq!(bundle["identity_key"], identity);
        assert_eq!(bundle["signed_prekey"], signed);
        match bundle.get("one_time_prekey") {
            Some(key) => {
                assert!(handed_out.insert(key["key_id"].as_u64().unwrap()), "handed out twice: {key}")
            }
            None => without += 1,
        }
    }
    assert_eq!((handed_out.len(), without), (40, 10));
    let (_, count) = app.get(&bob_token, "/v1/keys/count").await;
    assert_eq!(count, json!({"one_time_prekeys": 0}));
    let (status, bundles) = app.get(&alice_token, &bundle_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bundles["devices"][0].get("one_time_prekey").is_none(), "{bundles}");

    let (status, body) =
        app.get(&alice_token, &format!("/v1/users/{}/prekey-bundle", uuid::Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get(&alice_token, "/v1/users/not-a-uuid/prekey-bundle").await;
    assert_error(status, &body, 404, "not_found");
    app.stop().await;
}
