//! Filing and listing reports, and resolving them with a takedown that
//! every member sees: over the WebSocket, in history, in the report's status
//! and in the audit log.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{app_with_admin, report_message};
use crate::realtime::Client;
use crate::support::app::assert_error;

#[tokio::test]
async fn a_repeated_report_collapses_into_the_first_and_reporters_see_their_own() {
    let (app, _admin) = app_with_admin().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let message = app.send(&alice, &room, "spam").await;
    let (status, first) = report_message(&app, &bob, &room, &message, None).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "open");
    assert_eq!(first["reporter_id"], bob.id.to_string());
    assert!(first.get("verified").is_none(), "{first}");
    let (status, again) = report_message(&app, &bob, &room, &message, None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    let (status, user_report) = app
        .post(
            &bob,
            "/v1/reports",
            json!({"target": {"kind": "user", "id": alice.id}, "reason": "harassment", "evidence": "opaque"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user_report}");
    assert_eq!(user_report["evidence"], "opaque");
    let (status, mine) = app.get(&bob, "/v1/reports").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let ids: Vec<_> = mine["items"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
    assert_eq!(
        ids,
        vec![user_report["id"].clone(), first["id"].clone()],
        "newest first, only one per target"
    );
    let (_, none) = app.get(&alice, "/v1/reports").await;
    assert_eq!(none["items"], json!([]));
    let (_, page) = app.get(&bob, "/v1/reports?limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next"].as_str().unwrap();
    let (_, rest) = app.get(&bob, &format!("/v1/reports?limit=1&cursor={next}")).await;
    assert_eq!(rest["items"][0]["id"], first["id"]);
    assert!(rest["next"].is_null());
}

#[tokio::test]
async fn reports_name_what_the_reporter_can_see() {
    let (app, _admin) = app_with_admin().await;
    let (alice, bob, eve) = (app.person("Alice").await, app.person("Bob").await, app.person("Eve").await);
    let room = app.group(&alice, &[&bob]).await;
    let message = app.send(&alice, &room, "hi").await;
    let (status, body) = report_message(&app, &eve, &room, &message, None).await;
    assert_error(status, &body, 404, "not_found");
    let unknown = json!({"id": uuid::Uuid::now_v7()});
    let (status, body) = report_message(&app, &bob, &room, &unknown, None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = app
        .post(
            &bob,
            "/v1/reports",
            json!({"target": {"kind": "file", "id": uuid::Uuid::now_v7()}, "reason": "r"}),
        )
        .await;
    assert_error(status, &body, 404, "file_not_found");
    let (status, body) = app
        .post(&bob, "/v1/reports", json!({"target": {"kind": "message", "id": message["id"]}, "reason": "r"}))
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = app
        .post(
            &bob,
            "/v1/reports",
            json!({"target": {"kind": "user", "id": uuid::Uuid::now_v7()}, "reason": "r"}),
        )
        .await;
    assert_error(status, &body, 404, "user_not_found");
    let (status, body) =
        app.post(&bob, "/v1/reports", json!({"target": {"kind": "user", "id": bob.id}, "reason": "r"})).await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = app
        .post(&bob, "/v1/reports", json!({"target": {"kind": "user", "id": alice.id}, "reason": "r", "evidence": "e".repeat(10_001)}))
        .await;
    assert_error(status, &body, 422, "invalid_value");
}

#[tokio::test]
async fn a_takedown_is_a_tombstone_for_every_member_over_the_websocket_in_history_and_in_the_audit_log() {
    let (app, admin) = app_with_admin().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.group(&alice, &[&bob, &carol]).await;
    let message = app.send(&alice, &room, "illegal").await;
    let (_, report) = report_message(&app, &bob, &room, &message, None).await;
    let mut sockets = Vec::new();
    for member in [&alice, &bob, &carol] {
        sockets.push(Client::connect(&app.base(0), member, "").await);
    }
    let (status, open) = app.get(&admin, "/v1/admin/reports?status=open").await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["items"][0]["id"], report["id"]);
    let (status, resolved) = app
        .post(
            &admin,
            &format!("/v1/admin/reports/{}/resolve", report["id"].as_str().unwrap()),
            json!({"action": "takedown", "note": "illegal content"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["status"], "actioned");
    assert_eq!(resolved["note"], "illegal content");
    for member in [&alice, &bob, &carol] {
        let (_, history) = app.get(member, &format!("/v1/rooms/{room}/messages")).await;
        let shown =
            history["items"].as_array().unwrap().iter().find(|m| m["id"] == message["id"]).unwrap().clone();
        assert_eq!(shown["deleted"], true, "{shown}");
        assert!(shown["ciphertext"].is_null(), "{shown}");
    }
    for socket in &mut sockets {
        let deleted = loop {
            let frame = socket.next_within(Duration::from_secs(20)).await.expect("a message.deleted frame");
            if frame["event"]["type"] == "message.deleted" {
                break frame;
            }
        };
        assert_eq!(deleted["event"]["id"], message["id"], "{deleted}");
    }
    let (_, actioned) = app.get(&admin, "/v1/admin/reports?status=actioned").await;
    assert_eq!(actioned["items"][0]["id"], report["id"]);
    let (_, open) = app.get(&admin, "/v1/admin/reports?status=open").await;
    assert_eq!(open["items"], json!([]));
    let (status, body) = app
        .post(
            &admin,
            &format!("/v1/admin/reports/{}/resolve", report["id"].as_str().unwrap()),
            json!({"action": "dismiss"}),
        )
        .await;
    assert_error(status, &body, 409, "conflict");
    let (_, mine) = app.get(&bob, "/v1/reports").await;
    assert_eq!(mine["items"][0]["status"], "actioned");
    let message_id = message["id"].as_str().unwrap();
    let entries = super::audit_of(&app, &admin, &format!("subject={message_id}"), 3).await;
    let actions: Vec<&Value> = entries.iter().map(|entry| &entry["action"]).collect();
    assert_eq!(actions, ["report.resolved", "message.taken_down", "report.filed"], "{entries:?}");
    let takedown = &entries[1];
    assert_eq!(takedown["actor_id"], admin.id.to_string());
    assert_eq!(takedown["room_id"], room);
    assert_eq!(takedown["details"]["report_id"], report["id"]);
    assert_eq!(entries[0]["details"]["action"], "takedown");
    assert_eq!(entries[2]["actor_id"], bob.id.to_string());
}

#[tokio::test]
async fn an_admin_takes_a_message_down_without_a_report() {
    let (app, admin) = app_with_admin().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let message = app.send(&alice, &room, "gone soon").await;
    let (status, body) =
        app.delete(&admin, &format!("/v1/admin/messages/{}", message["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, history) = app.get(&bob, &format!("/v1/rooms/{room}/messages")).await;
    assert_eq!(history["items"][0]["deleted"], true, "{history}");
    let (status, body) = app.delete(&admin, &format!("/v1/admin/messages/{}", uuid::Uuid::now_v7())).await;
    assert_error(status, &body, 404, "not_found");
}
