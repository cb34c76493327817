//! Every session belongs to a device: which one, and what happens at the limit.

use super::*;

#[tokio::test]
async fn registration_is_the_first_device_and_logins_reuse_or_add_devices() {
    let app = spawn_app().await;
    let registered = app.register("dora@example.org", "Dora").await;
    let user = user_of(&registered);
    let first = DeviceId::first_of(user).to_string();
    assert_eq!(device_of(&registered), first);
    assert_eq!(claims_of(registered["access_token"].as_str().unwrap())["dev"], first.as_str());

    // No device named: a new one (a v7 id, never the first device's).
    let (status, laptop) = login(&app, "dora@example.org", None).await;
    assert_eq!(status, StatusCode::OK, "{laptop}");
    let laptop_id = device_of(&laptop);
    assert_ne!(laptop_id, first);
    assert_eq!(laptop_id.parse::<uuid::Uuid>().unwrap().get_version_num(), 7);

    // A device of hers named: the session is that device's.
    for device in [&first, &laptop_id] {
        let (status, again) = login(&app, "dora@example.org", Some(json!({"device_id": device}))).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(&device_of(&again), device);
        assert_eq!(claims_of(again["access_token"].as_str().unwrap())["dev"], device.as_str());
    }

    // Someone else's device id is not taken over: a new device of hers instead.
    let eve = app.register("eve@example.org", "Eve").await;
    let (status, named) =
        login(&app, "dora@example.org", Some(json!({"device_id": device_of(&eve), "name": "Tablet"}))).await;
    assert_eq!(status, StatusCode::OK, "{named}");
    assert!(![device_of(&eve), first, laptop_id].contains(&device_of(&named)), "{named}");

    let (status, body) = login(&app, "dora@example.org", Some(json!({"name": " "}))).await;
    assert_error(status, &body, 422, "invalid_value");
}

#[tokio::test]
async fn a_login_past_the_device_limit_is_refused_but_known_devices_still_log_in() {
    let app = spawn_app().config(|config| config.keys.devices_per_user = 2).await;
    let registered = app.register("limit@example.org", "Limit").await;
    let (status, second) = login(&app, "limit@example.org", Some(json!({"name": "Laptop"}))).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, body) = login(&app, "limit@example.org", None).await;
    assert_error(status, &body, 409, "device_limit_reached");
    for device in [device_of(&registered), device_of(&second)] {
        let (status, again) = login(&app, "limit@example.org", Some(json!({"device_id": device}))).await;
        assert_eq!(status, StatusCode::OK, "{again}");
    }
}

#[tokio::test]
async fn a_refresh_keeps_the_sessions_device() {
    let app = spawn_app().await;
    app.register("ria@example.org", "Ria").await;
    let (_, session) = login(&app, "ria@example.org", None).await;
    let device = device_of(&session);
    let (status, refreshed) =
        app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": session["refresh_token"]})).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(device_of(&refreshed), device);
    assert_eq!(claims_of(refreshed["access_token"].as_str().unwrap())["dev"], device.as_str());
}

#[tokio::test]
async fn a_phone_login_registers_the_first_device_then_reuses_or_adds() {
    let app = spawn_app().await;
    let phone = "+4915112340018";
    let verify = |device: Option<Value>| {
        let app = &app;
        async move {
            let (_, started) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
            let mut body = json!({"session_id": started["session_id"], "code": app.last_code(phone)});
            if let Some(device) = device {
                body["device"] = device;
            }
            let (status, session) = app.post(Anonymous, "/v1/auth/phone/verify", body).await;
            assert_eq!(status, StatusCode::OK, "{session}");
            session
        }
    };
    let registered = verify(Some(json!({"name": "Phone"}))).await;
    let first = DeviceId::first_of(user_of(&registered)).to_string();
    assert_eq!(device_of(&registered), first);
    assert_eq!(device_of(&verify(Some(json!({"device_id": first}))).await), first);
    assert_ne!(device_of(&verify(None).await), first);
}

#[tokio::test]
async fn a_token_minted_without_a_device_claim_speaks_for_the_first_device() {
    let app = spawn_app().await;
    let registered = app.register("old@example.org", "Old").await;
    let token = token_without_device(user_of(&registered));
    let (status, me) = app.get(token.as_str(), "/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
}
