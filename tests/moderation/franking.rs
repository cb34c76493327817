//! Verified reports: the server recomputes the commitment and the reporting
//! tag of the stored message (real HMACs) and says `verified: true` only
//! when both match and the reporter could have received the message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciphertalk_gateway::config::Secret;
use reqwest::StatusCode;
use serde_json::json;

use super::{app_with_admin, proof, report_message, send_franked};

const KEY: &[u8] = b"a client's random franking key, 32B";

#[tokio::test]
async fn the_true_plaintext_and_key_verify() {
    let (app, _admin) = app_with_admin().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let message = send_franked(&app, &alice, &room, "you are fired", KEY).await;
    let (status, report) =
        report_message(&app, &bob, &room, &message, Some(proof("you are fired", KEY))).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["verified"], true, "{report}");
}

#[tokio::test]
async fn a_forged_plaintext_a_forged_key_or_another_message_s_tag_do_not_verify() {
    let (app, _admin) = app_with_admin().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.group(&alice, &[&bob, &carol]).await;
    let first = send_franked(&app, &alice, &room, "hello", KEY).await;
    let second =
        send_franked(&app, &alice, &room, "something else", b"another key of at least 32 bytes!").await;
    let (_, forged_text) = report_message(&app, &bob, &room, &first, Some(proof("I quit", KEY))).await;
    assert_eq!(forged_text["verified"], false, "{forged_text}");
    let (_, forged_key) =
        report_message(&app, &carol, &room, &second, Some(proof("something else", KEY))).await;
    assert_eq!(forged_key["verified"], false, "{forged_key}");
    // The first message's plaintext and key, claimed for the second (whose tag binds another commitment).
    let (_, other_tag) = report_message(&app, &bob, &room, &second, Some(proof("hello", KEY))).await;
    assert_eq!(other_tag["verified"], false, "{other_tag}");
    // Without a commitment there is nothing to verify.
    let plain = app.send(&alice, &room, "unfranked").await;
    let (_, unfranked) = report_message(&app, &carol, &room, &plain, Some(proof("unfranked", KEY))).await;
    assert_eq!(unfranked["verified"], false, "{unfranked}");
}

#[tokio::test]
async fn a_reporter_who_joined_after_the_message_was_sent_cannot_verify_it() {
    let (app, _admin) = app_with_admin().await;
    let (alice, dave) = (app.person("Alice").await, app.person("Dave").await);
    let room = app.group(&alice, &[]).await;
    let message = send_franked(&app, &alice, &room, "before dave", KEY).await;
    let (status, body) = app
        .put(&alice, &format!("/v1/rooms/{room}/members/{}", dave.id), Some(json!({"role": "member"})))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, report) =
        report_message(&app, &dave, &room, &message, Some(proof("before dave", KEY))).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["verified"], false, "{report}");
}

#[tokio::test]
async fn tags_made_under_a_rotated_key_keep_verifying() {
    let (mut app, _admin) = app_with_admin().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let message = send_franked(&app, &alice, &room, "old key", KEY).await;
    let old_key_id = message["franking_key_id"].as_str().unwrap().to_owned();
    // A second gateway with a new franking key, the old one kept as previous.
    let old = crate::support::app::FRANKING_KEY;
    app.add_gateway(move |config| {
        config.messages.franking_key = Some(Secret::new("a brand new franking key, 32 bytes+"));
        config.messages.previous_franking_keys = Some(Secret::new(old));
    })
    .await;
    let commitment = STANDARD.encode(super::hmac(KEY, b"new key"));
    let body = json!({"client_msg_id": "after-rotation", "ciphertext": "c2VhbGVk", "commitment": commitment});
    let (status, fresh) =
        app.call_at(1, &alice, "POST", &format!("/v1/rooms/{room}/messages"), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{fresh}");
    assert_ne!(fresh["franking_key_id"], old_key_id.as_str(), "the new gateway franks under its new key");
    let body = json!({"target": {"kind": "message", "id": message["id"], "room_id": room}, "reason": "r",
        "franking": proof("old key", KEY)});
    let (status, report) = app.call_at(1, &bob, "POST", "/v1/reports", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["verified"], true, "{report}");
}
