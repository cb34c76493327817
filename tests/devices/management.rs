//! Listing, renaming and removing my devices; a removed device's sessions
//! end at once (access token, refresh token, WebSocket).

use std::time::Duration;

use super::*;
use crate::realtime::Client;
use crate::support::app::Person;

#[tokio::test]
async fn my_devices_are_listed_with_the_current_one_and_can_be_renamed() {
    let app = spawn_app().await;
    let registered = app.register("lia@example.org", "Lia").await;
    let laptop = login_on_new_device(&app, "lia@example.org", "Laptop").await;
    let on_laptop = Person::from_session(&laptop);

    let (status, list) = app.get(&on_laptop, "/v1/devices").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["device_id"], registered["device_id"]);
    assert_eq!(items[0]["name"], Value::Null);
    assert_eq!(items[0]["current"], false);
    assert_eq!(items[1]["device_id"], laptop["device_id"]);
    assert_eq!(items[1]["name"], "Laptop");
    assert_eq!(items[1]["current"], true);
    for item in items {
        assert!(item["created_at"].is_string() && item["last_seen_at"].is_string(), "{item}");
    }

    let path = format!("/v1/devices/{}", registered["device_id"].as_str().unwrap());
    let (status, renamed) = app.patch(&on_laptop, &path, json!({"name": "  Phone "})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!((&renamed["name"], &renamed["current"]), (&json!("Phone"), &json!(false)));
    let (_, list) = app.get(&on_laptop, "/v1/devices").await;
    assert_eq!(list["items"][0]["name"], "Phone");
    let (status, body) = app.patch(&on_laptop, &path, json!({"name": ""})).await;
    assert_error(status, &body, 422, "invalid_value");
}

#[tokio::test]
async fn unknown_foreign_and_malformed_device_ids_are_not_found() {
    let app = spawn_app().await;
    let lia = Person::from_session(&app.register("lia@example.org", "Lia").await);
    let eve = app.register("eve@example.org", "Eve").await;
    let foreign = eve["device_id"].as_str().unwrap().to_owned();
    for device in [foreign.as_str(), &uuid::Uuid::now_v7().to_string(), "not-a-uuid"] {
        let path = format!("/v1/devices/{device}");
        let (status, _) = app.patch(&lia, &path, json!({"name": "Mine"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{device}");
        let (status, _) = app.delete(&lia, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{device}");
    }
    // Eve's device is untouched.
    let (status, _) = app.get(eve["access_token"].as_str().unwrap(), "/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_removed_devices_token_refresh_and_websocket_end_at_once() {
    let app = spawn_app().await;
    let registered = app.register("max@example.org", "Max").await;
    let on_phone = Person::from_session(&registered);
    let laptop = login_on_new_device(&app, "max@example.org", "Laptop").await;
    let on_laptop = Person::from_session(&laptop);
    let mut socket = Client::connect(&app.base(0), &on_laptop, "").await;
    socket.backlog().await;
    let (status, ticket) = app.post(&on_laptop, "/v1/ws/ticket", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");

    let path = format!("/v1/devices/{}", laptop["device_id"].as_str().unwrap());
    let (status, body) = app.delete(&on_phone, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let frames = tokio::time::timeout(Duration::from_secs(1), socket.until_closed())
        .await
        .expect("the removed device's WebSocket closes within a second");
    assert!(frames.iter().any(|f| f["code"] == "session_ended"), "{frames:?}");

    // A ticket bought before the removal opens nothing after it.
    let query = format!("?ticket={}", ticket["ticket"].as_str().unwrap());
    let refused = Client::try_connect(&app.base(0), None, &query).await.err();
    assert_eq!(refused, Some(StatusCode::UNAUTHORIZED));
    let (status, body) = app.get(&on_laptop, "/v1/auth/me").await;
    assert_error(status, &body, 401, "unauthenticated");
    assert_eq!(body["error"]["details"]["reason"], "device_removed");
    let (status, body) =
        app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": laptop["refresh_token"]})).await;
    assert_error(status, &body, 401, "invalid_refresh_token");
    let (_, list) = app.get(&on_phone, "/v1/devices").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    // Removed means gone: a second removal is 404.
    let (status, _) = app.delete(&on_phone, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logout_removes_its_device_and_a_token_without_a_device_claim_goes_with_the_first() {
    let app = spawn_app().await;
    let registered = app.register("ola@example.org", "Ola").await;
    let user = user_of(&registered);
    let old_token = token_without_device(user);
    let laptop = login_on_new_device(&app, "ola@example.org", "Laptop").await;

    let (status, body) = app
        .call(
            registered["access_token"].as_str().unwrap(),
            "POST",
            "/v1/auth/logout",
            Some(json!({"refresh_token": registered["refresh_token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get(old_token.as_str(), "/v1/auth/me").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the first device is gone, and tokens without a device with it"
    );
    let (_, list) = app.get(laptop["access_token"].as_str().unwrap(), "/v1/devices").await;
    let ids: Vec<&Value> = list["items"].as_array().unwrap().iter().map(|d| &d["device_id"]).collect();
    assert_eq!(ids, [&laptop["device_id"]], "{list}");
    assert_ne!(laptop["device_id"], DeviceId::first_of(user).to_string());
}

/// `GET /v1/auth/me` with `person`'s token on gateway `n`: the status.
async fn me_on(app: &TestApp, n: usize, person: &Person) -> StatusCode {
    let url = format!("{}/v1/auth/me", app.base(n));
    app.http.get(url).bearer_auth(&person.token).send().await.unwrap().status()
}

/// The other gateway follows user events over NATS: the removal's event ends
/// its trust in the cached user long before the standing cache time would.
#[tokio::test]
async fn another_gateway_refuses_a_removed_devices_token_as_soon_as_the_removal_reaches_it() {
    let app = spawn_app().gateways(2).config(|c| c.auth.standing_cache_ms = 60_000).await;
    let registered = app.register("uma@example.org", "Uma").await;
    let on_phone = Person::from_session(&registered);
    let laptop = login_on_new_device(&app, "uma@example.org", "Laptop").await;
    let on_laptop = Person::from_session(&laptop);
    // Both gateways now hold the user, confirmed just now.
    assert_eq!(me_on(&app, 0, &on_laptop).await, StatusCode::OK);
    assert_eq!(me_on(&app, 1, &on_laptop).await, StatusCode::OK);

    let path = format!("/v1/devices/{}", laptop["device_id"].as_str().unwrap());
    let (status, body) = app.delete(&on_phone, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let removed = std::time::Instant::now();
    // The gateway that committed the removal knows at once.
    assert_eq!(me_on(&app, 0, &on_laptop).await, StatusCode::UNAUTHORIZED);
    // The other one once the event is relayed to it.
    while me_on(&app, 1, &on_laptop).await != StatusCode::UNAUTHORIZED {
        let after = removed.elapsed();
        assert!(after < Duration::from_secs(2), "gateway 1 still accepts the token after {after:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(me_on(&app, 1, &on_phone).await, StatusCode::OK, "the other device is unaffected");
}

#[tokio::test]
async fn with_no_standing_cache_another_gateway_refuses_a_removed_devices_token_at_once() {
    let app = spawn_app().gateways(2).config(|c| c.auth.standing_cache_ms = 0).await;
    let registered = app.register("ivo@example.org", "Ivo").await;
    let on_phone = Person::from_session(&registered);
    let laptop = login_on_new_device(&app, "ivo@example.org", "Laptop").await;
    let on_laptop = Person::from_session(&laptop);
    assert_eq!(me_on(&app, 1, &on_laptop).await, StatusCode::OK);

    let path = format!("/v1/devices/{}", laptop["device_id"].as_str().unwrap());
    let (status, body) = app.delete(&on_phone, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(me_on(&app, 1, &on_laptop).await, StatusCode::UNAUTHORIZED);
}
