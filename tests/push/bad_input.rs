//! Registrations are checked for shape, size and owner before anything is recorded.

use super::*;

#[tokio::test]
async fn malformed_oversized_or_foreign_registrations_are_refused() {
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let mine = format!("/v1/devices/{}/push", alice.device);
    let put = |path: String, body: Value| {
        let app = &app;
        let alice = &alice;
        async move { app.put(&alice.person, &path, Some(body)).await }
    };
    let subscription = Subscription::new().json("https://push.example.org/send/1");

    for (body, why) in [
        (json!({"platform": "carrier-pigeon", "token": "x"}), "unknown platform"),
        (json!({"platform": "webpush"}), "webpush without a subscription"),
        (json!({"platform": "fcm"}), "fcm without a token"),
        (json!({"platform": "fcm", "token": "has spaces in it"}), "not an FCM token"),
        (json!({"platform": "webhook", "token": "ftp://bridge.example.org/hook"}), "not an http(s) URL"),
        (
            json!({"platform": "webhook", "token": format!("https://bridge.example.org/{}", "a".repeat(1100))}),
            "over push.max_target_chars",
        ),
    ] {
        let (status, body) = put(mine.clone(), body).await;
        assert!(status.is_client_error(), "{why}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{why}: {body}");
    }
    let mut bad_key = subscription.clone();
    bad_key["subscription"]["keys"]["p256dh"] = json!("AAAA");
    let (status, body) = put(mine.clone(), bad_key).await;
    assert_error(status, &body, 422, "invalid_value");
    let mut bad_auth = subscription.clone();
    bad_auth["subscription"]["keys"]["auth"] = json!(URL_SAFE_NO_PAD.encode([1_u8; 15]));
    let (status, body) = put(mine.clone(), bad_auth).await;
    assert_error(status, &body, 422, "invalid_value");

    // Only my own devices: Bob's device is not one of them.
    let (status, body) = put(format!("/v1/devices/{}/push", bob.device), subscription.clone()).await;
    assert_error(status, &body, 404, "device_not_found");
    let (status, body) = app.delete(&alice.person, &format!("/v1/devices/{}/push", bob.device)).await;
    assert_error(status, &body, 404, "device_not_found");

    // Nothing of the above was recorded; a good one is, and goes again with DELETE.
    let rows = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE event_type IN ('PushRegistered', 'PushUnregistered')",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
    };
    assert_eq!(rows().await, 0);
    let (status, _) = put(mine.clone(), subscription.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = put(mine.clone(), subscription).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the same registration again changes nothing");
    assert_eq!(rows().await, 1);
    let (status, _) = app.delete(&alice.person, &mine).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete(&alice.person, &mine).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "removing what is not there is fine");
    assert_eq!(rows().await, 2);

    // The VAPID key is for signed-in clients; it does not change between calls.
    let (status, _) = app.get(Anonymous, "/v1/push/vapid-public-key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, first) = app.get(&alice.person, "/v1/push/vapid-public-key").await;
    let (_, again) = app.get(&bob.person, "/v1/push/vapid-public-key").await;
    assert_eq!(first, again);
    assert_eq!(URL_SAFE_NO_PAD.decode(first["public_key"].as_str().unwrap()).unwrap().len(), 65);
}

#[tokio::test]
async fn only_https_targets_unless_http_is_allowed() {
    let app = spawn_app().await;
    let alice = member(&app, "Alice").await;
    let path = format!("/v1/devices/{}/push", alice.device);
    let (status, body) = app
        .put(
            &alice.person,
            &path,
            Some(json!({"platform": "webhook", "token": "http://bridge.example.org/hook"})),
        )
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) =
        app.put(&alice.person, &path, Some(Subscription::new().json("http://push.example.org/send/1"))).await;
    assert_error(status, &body, 422, "invalid_value");
    for local in ["https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://[::1]/hook"] {
        let body = json!({"platform": "webhook", "token": local});
        let (status, body) = app.put(&alice.person, &path, Some(body)).await;
        assert_error(status, &body, 422, "invalid_value");
    }
    // FCM needs a service account, which this server has none of.
    let (status, body) =
        app.put(&alice.person, &path, Some(json!({"platform": "fcm", "token": "abc:def"}))).await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, _) = app
        .put(
            &alice.person,
            &path,
            Some(json!({"platform": "webhook", "token": "https://bridge.example.org/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
