//! Taking files down: by resolving a report of the file or directly as an
//! instance admin, the blobs leave the store at once, every member is told
//! (`file.deleted`, reason `taken_down`), and the audit log says who did it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{app_with_admin, audit_of};
use crate::files::{blobs_of, bytes, put_chunk, registered};
use crate::realtime::Client;
use crate::support::app::assert_error;

/// The next `file.deleted` event frame for `file`.
async fn file_deleted(socket: &mut Client, file: &str) -> Value {
    loop {
        let frame = socket.next_within(Duration::from_secs(20)).await.expect("a file.deleted frame");
        if frame["event"]["type"] == "file.deleted" && frame["event"]["file_id"] == file {
            return frame["event"].clone();
        }
    }
}

#[tokio::test]
async fn a_reported_file_taken_down_loses_its_blobs_and_every_member_is_told() {
    let (app, admin) = app_with_admin().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.group(&alice, &[&bob, &carol]).await;
    let (file, urls) = registered(&app, &alice, &room, 150, 100).await;
    assert_eq!(put_chunk(&app, &urls[0], bytes(1, 100)).await.0, StatusCode::OK);
    assert_eq!(put_chunk(&app, &urls[1], bytes(2, 50)).await.0, StatusCode::OK);
    assert_eq!(blobs_of(&app, &file).await.len(), 2);
    let mut sockets = Vec::new();
    for member in [&alice, &bob, &carol] {
        sockets.push(Client::connect(&app.base(0), member, "").await);
    }

    // Outsiders cannot report it; a member can, and the report names the file's room.
    let outsider = app.person("Eve").await;
    let report = json!({"target": {"kind": "file", "id": file}, "reason": "malware"});
    let (status, body) = app.post(&outsider, "/v1/reports", report.clone()).await;
    assert_error(status, &body, 404, "file_not_found");
    let elsewhere = app.group(&bob, &[]).await;
    let (status, body) = app
        .post(
            &bob,
            "/v1/reports",
            json!({"target": {"kind": "file", "id": file, "room_id": elsewhere}, "reason": "r"}),
        )
        .await;
    assert_error(status, &body, 404, "file_not_found");
    let (status, body) = app
        .post(&bob, "/v1/reports", json!({"target": {"kind": "file", "id": file}, "reason": "r", "franking": {"plaintext": "", "franking_key": ""}}))
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, filed) = app.post(&bob, "/v1/reports", report).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["target"]["room_id"], room, "{filed}");

    // The room's owner resolves it: their room's content.
    let resolve = format!("/v1/admin/reports/{}/resolve", filed["id"].as_str().unwrap());
    let (status, resolved) = app.post(&alice, &resolve, json!({"action": "takedown"})).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["status"], "actioned");
    let left = blobs_of(&app, &file).await;
    assert!(left.is_empty(), "the blobs stayed: {left:?}");
    for socket in &mut sockets {
        let event = file_deleted(socket, &file).await;
        assert_eq!(event["reason"], "taken_down", "{event}");
        assert_eq!(event["room_id"], room, "{event}");
    }
    let (status, body) = app.get(&carol, &format!("/v1/files/{file}")).await;
    assert_error(status, &body, 410, "gone");

    let entries = audit_of(&app, &admin, &format!("subject={file}"), 3).await;
    let actions: Vec<&Value> = entries.iter().map(|entry| &entry["action"]).collect();
    assert_eq!(actions, ["report.resolved", "file.taken_down", "report.filed"], "{entries:?}");
    assert_eq!(entries[1]["actor_id"], alice.id.to_string());
    assert_eq!(entries[1]["details"]["report_id"], filed["id"]);
    assert_eq!(entries[1]["room_id"], room);
    let of_report = audit_of(&app, &admin, &format!("subject={}", filed["id"].as_str().unwrap()), 3).await;
    assert_eq!(of_report, entries, "a report's entries are found by its id too");
}

#[tokio::test]
async fn an_admin_takes_a_file_down_without_a_report() {
    let (app, admin) = app_with_admin().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let (file, urls) = registered(&app, &alice, &room, 100, 100).await;
    put_chunk(&app, &urls[0], bytes(3, 100)).await;
    let mut socket = Client::connect(&app.base(0), &bob, "").await;
    let (status, body) = app.delete(&bob, &format!("/v1/admin/files/{file}")).await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(blobs_of(&app, &file).await.len(), 1);
    let (status, body) = app.delete(&admin, &format!("/v1/admin/files/{file}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(blobs_of(&app, &file).await.is_empty());
    assert_eq!(file_deleted(&mut socket, &file).await["reason"], "taken_down");
    let (status, body) = app.delete(&admin, &format!("/v1/admin/files/{file}")).await;
    assert_error(status, &body, 410, "gone");
    let (status, body) = app.delete(&admin, &format!("/v1/admin/files/{}", uuid::Uuid::now_v7())).await;
    assert_error(status, &body, 404, "file_not_found");
    let entries = audit_of(&app, &admin, &format!("subject={file}&actor={}", admin.id), 1).await;
    assert_eq!(entries[0]["action"], "file.taken_down");
    assert!(entries[0]["details"]["report_id"].is_null());
}
