//! Rate limits on writes: a write over its limit answers 429 `rate_limited`
//! with `Retry-After`, per user and per client IP; `X-Forwarded-For` names the
//! client only behind a trusted proxy; a prekey requester over its limit gets
//! no bundle (and takes no one-time key); `CIPHERTALK_RATE_LIMITS=off` lifts them.

use ciphertalk_gateway::config::{Config, Toggle};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Person, TestApp, assert_error, b64, spawn_app};

fn limits(
    change: impl Fn(&mut Config) + Send + Sync + 'static,
) -> impl Fn(&mut Config) + Send + Sync + 'static {
    move |config: &mut Config| {
        config.rate_limits.mode = Toggle::On;
        change(config);
    }
}

/// A send from `who`, optionally through a proxy claiming `forwarded_for`: status, Retry-After, body.
async fn send(
    chat: &TestApp,
    who: &Person,
    room: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, Option<u64>, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/rooms/{room}/messages", chat.base(0)))
        .bearer_auth(&who.token)
        .json(&json!({"client_msg_id": uuid::Uuid::new_v4().to_string(), "ciphertext": b64("hi")}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sends_over_the_limit_answer_429_with_retry_after_per_user_and_per_ip() {
    let chat = spawn_app()
        .config(limits(|config| {
            config.write_limits.send_per_user = 3;
            config.write_limits.send_per_ip = 5;
        }))
        .await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    for _ in 0..3 {
        assert_eq!(send(&chat, &alice, &room, None).await.0, StatusCode::CREATED);
    }
    let (status, retry_after, body) = send(&chat, &alice, &room, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert_eq!(body["error"]["details"]["action"], "send", "{body}");
    assert!(retry_after.is_some_and(|secs| (1..=20).contains(&secs)), "Retry-After: {retry_after:?}");
    // Bob has a bucket of his own, but the address they share has two sends left.
    assert_eq!(send(&chat, &bob, &room, None).await.0, StatusCode::CREATED);
    assert_eq!(send(&chat, &bob, &room, None).await.0, StatusCode::CREATED);
    assert_eq!(send(&chat, &bob, &room, None).await.0, StatusCode::TOO_MANY_REQUESTS);
    // Other writes have limits of their own: creating a room still works.
    chat.group(&bob, &[&alice]).await;
    chat.stop().await;
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    for (trusted, second_from_another_address) in
        [("127.0.0.1/32", StatusCode::CREATED), ("", StatusCode::TOO_MANY_REQUESTS)]
    {
        let chat = spawn_app()
            .config(limits(|config| {
                config.write_limits.send_per_ip = 1;
                config.write_limits.trusted_proxies = trusted.to_owned();
            }))
            .await;
        let alice = chat.person("Alice").await;
        let room = chat.group(&alice, &[]).await;
        assert_eq!(send(&chat, &alice, &room, Some("203.0.113.1")).await.0, StatusCode::CREATED);
        assert_eq!(
            send(&chat, &alice, &room, Some("203.0.113.2")).await.0,
            second_from_another_address,
            "trusted proxies: {trusted:?}"
        );
        assert_eq!(send(&chat, &alice, &room, Some("203.0.113.1")).await.0, StatusCode::TOO_MANY_REQUESTS);
        chat.stop().await;
    }
}

#[tokio::test]
async fn a_prekey_requester_over_its_limit_gets_no_bundle_and_takes_no_key() {
    let chat = spawn_app()
        .config(limits(|config| {
            config.write_limits.prekey_claim_per_user = 2;
            config.write_limits.prekey_claim_per_target = 3;
        }))
        .await;
    let (bob, mallory, alice) =
        (chat.person("Bob").await, chat.person("Mallory").await, chat.person("Alice").await);
    let keys: Vec<Value> =
        (0..10).map(|id| json!({"key_id": id, "public_key": b64(&format!("otk {id}"))})).collect();
    let signed = json!({"key_id": 7, "public_key": b64("signed prekey"), "signature": b64("signature")});
    let (status, body) = chat
        .put(
            &bob,
            "/v1/keys",
            Some(json!({"identity_key": b64("identity"), "signed_prekey": signed, "one_time_prekeys": keys})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let bundle = format!("/v1/users/{}/prekey-bundle", bob.id);
    for _ in 0..2 {
        let (status, body) = chat.get(&mallory, &bundle).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["devices"][0]["one_time_prekey"].is_object(), "{body}");
    }
    let (status, body) = chat.get(&mallory, &bundle).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.get("devices").is_none(), "a refused claim carries no bundle: {body}");
    let (_, count) = chat.get(&bob, "/v1/keys/count").await;
    assert_eq!(count["one_time_prekeys"], 8, "the refused claim took a key");
    // Bob's bundles are limited whoever asks: one more for Alice, then none.
    assert_eq!(chat.get(&alice, &bundle).await.0, StatusCode::OK);
    assert_eq!(chat.get(&alice, &bundle).await.0, StatusCode::TOO_MANY_REQUESTS);
    chat.stop().await;
}

/// Read from Bob's aggregate: someone he blocked gets no bundle (the same
/// answer as for a user who published none) and takes no one-time key.
#[tokio::test]
async fn a_requester_the_target_blocked_gets_no_bundle_and_takes_no_key() {
    let chat = spawn_app().await;
    let (bob, mallory) = (chat.person("Bob").await, chat.person("Mallory").await);
    let keys: Vec<Value> =
        (0..3).map(|id| json!({"key_id": id, "public_key": b64(&format!("otk {id}"))})).collect();
    let signed = json!({"key_id": 7, "public_key": b64("signed prekey"), "signature": b64("signature")});
    let body = json!({"identity_key": b64("identity"), "signed_prekey": signed, "one_time_prekeys": keys});
    assert_eq!(chat.put(&bob, "/v1/keys", Some(body)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(chat.put(&bob, &format!("/v1/blocks/{}", mallory.id), None).await.0, StatusCode::NO_CONTENT);
    let (status, body) = chat.get(&mallory, &format!("/v1/users/{}/prekey-bundle", bob.id)).await;
    assert_error(status, &body, 404, "keys_not_published");
    let (_, count) = chat.get(&bob, "/v1/keys/count").await;
    assert_eq!(count["one_time_prekeys"], 3, "the blocked requester took a key");
    chat.stop().await;
}

#[tokio::test]
async fn switched_off_nothing_is_limited() {
    let chat = spawn_app()
        .config(|config| {
            config.rate_limits.mode = Toggle::Off;
            config.write_limits.send_per_user = 1;
            config.write_limits.send_per_ip = 1;
        })
        .await;
    let alice = chat.person("Alice").await;
    let room = chat.group(&alice, &[]).await;
    for _ in 0..5 {
        assert_eq!(send(&chat, &alice, &room, None).await.0, StatusCode::CREATED);
    }
    chat.stop().await;
}
