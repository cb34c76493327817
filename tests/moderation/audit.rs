//! The audit log (filters, pages, what it records, that nothing edits it)
//! and a room's state as of a time, against a hand-computed timeline.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{app_with_admin, audit_of};
use crate::support::app::{Person, TestApp, assert_error};

/// Now, between two steps: after the last one committed, before the next.
async fn instant() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let at = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    at
}

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// The room's members at `at` as `(user, role)`, sorted, and its name.
async fn state_at(
    app: &TestApp,
    admin: &Person,
    room: &str,
    at: DateTime<Utc>,
) -> (Vec<(String, String)>, Value) {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let state = ok(app.get(admin, &format!("/v1/admin/rooms/{room}/state?at={at}")).await);
    let mut members: Vec<(String, String)> = state["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect();
    members.sort();
    (members, state["room"]["name"].clone())
}

fn roles(entries: &[(&Person, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        entries.iter().map(|(who, role)| (who.id.to_string(), (*role).to_owned())).collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_rooms_state_as_of_a_time_follows_the_log() {
    let (app, admin) = app_with_admin().await;
    let (olga, ann, ben) = (app.person("Olga").await, app.person("Ann").await, app.person("Ben").await);
    let before = instant().await;
    let room = ok(app
        .post(&olga, "/v1/rooms", json!({"kind": "group", "name": "first", "members": [ann.id]}))
        .await)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t1 = instant().await;
    ok(app.put(&olga, &format!("/v1/rooms/{room}/members/{}", ben.id), Some(json!({}))).await);
    let t2 = instant().await;
    ok(app.put(&olga, &format!("/v1/rooms/{room}/members/{}", ann.id), Some(json!({"role": "admin"}))).await);
    ok(app.patch(&olga, &format!("/v1/rooms/{room}"), json!({"name": "second"})).await);
    app.send(&ben, &room, "messages change no state").await;
    let t3 = instant().await;
    app.delete(&ann, &format!("/v1/rooms/{room}/members/{}", ben.id)).await;
    let t4 = instant().await;
    ok(app.post(&olga, &format!("/v1/rooms/{room}/leave"), json!({})).await);
    let t5 = instant().await;

    // By hand: Olga creates with Ann; Ben added; Ann made admin and the room
    // renamed; Ben removed by Ann; Olga leaves and Ann, the admin, owns it.
    let timeline = [
        (t1, roles(&[(&olga, "owner"), (&ann, "member")]), "first"),
        (t2, roles(&[(&olga, "owner"), (&ann, "member"), (&ben, "member")]), "first"),
        (t3, roles(&[(&olga, "owner"), (&ann, "admin"), (&ben, "member")]), "second"),
        (t4, roles(&[(&olga, "owner"), (&ann, "admin")]), "second"),
        (t5, roles(&[(&ann, "owner")]), "second"),
    ];
    for (n, (at, members, name)) in timeline.into_iter().enumerate() {
        let (shown, shown_name) = state_at(&app, &admin, &room, at).await;
        assert_eq!(shown, members, "t{}", n + 1);
        assert_eq!(shown_name, name, "t{}", n + 1);
    }
    let at = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (status, body) = app.get(&admin, &format!("/v1/admin/rooms/{room}/state?at={at}")).await;
    assert_error(status, &body, 404, "not_found");
    let (now, _) = state_at(&app, &admin, &room, Utc::now()).await;
    assert_eq!(now, roles(&[(&ann, "owner")]));
    let (status, body) = app.get(&admin, &format!("/v1/admin/rooms/{room}/state?at=yesterday")).await;
    assert!(status.is_client_error(), "{status}: {body}");
    let (status, body) = app.get(&ann, &format!("/v1/admin/rooms/{room}/state")).await;
    assert_error(status, &body, 403, "forbidden");

    // The same story in the audit log, newest first, about the room.
    let entries = audit_of(&app, &admin, &format!("subject={room}"), 7).await;
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "member.left",
            "member.role_changed",
            "member.removed",
            "room.updated",
            "member.role_changed",
            "member.joined",
            "room.created"
        ],
        "{entries:?}"
    );
    assert_eq!(entries[0]["subject"], olga.id.to_string());
    assert_eq!(entries[1]["subject"], ann.id.to_string());
    assert_eq!(entries[1]["details"]["role"], "owner");
    assert_eq!(entries[2]["actor_id"], ann.id.to_string());
    assert_eq!(entries[2]["subject"], ben.id.to_string());
}

#[tokio::test]
async fn the_audit_log_is_filtered_paged_and_never_edited() {
    let (app, admin) = app_with_admin().await;
    let (sam, tom) = (app.person("Sam").await, app.person("Tom").await);
    let start = instant().await;
    let suspend = format!("/v1/admin/users/{}/suspend", sam.id);
    assert_eq!(app.post(&admin, &suspend, json!({"reason": "spam"})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&admin, &suspend).await.0, StatusCode::NO_CONTENT);
    let middle = instant().await;
    ok(app.put(&admin, &format!("/v1/admin/users/{}/role", tom.id), Some(json!({"role": "admin"}))).await);
    ok(app.put(&tom, &format!("/v1/admin/users/{}/role", tom.id), Some(json!({"role": "user"}))).await);

    let about_sam = audit_of(&app, &admin, &format!("subject={}", sam.id), 2).await;
    let actions: Vec<&Value> = about_sam.iter().map(|e| &e["action"]).collect();
    assert_eq!(actions, ["user.suspension_lifted", "user.suspended"]);
    assert_eq!(about_sam[1]["details"]["reason"], "spam");
    assert_eq!(about_sam[1]["actor_id"], admin.id.to_string());
    let by_tom = audit_of(&app, &admin, &format!("actor={}", tom.id), 1).await;
    assert_eq!(by_tom.len(), 1);
    assert_eq!(by_tom[0]["action"], "user.admin_revoked");
    let configured = audit_of(&app, &admin, "actor=system:configuration", 1).await;
    assert_eq!(configured[0]["action"], "user.admin_granted");
    assert_eq!(configured[0]["subject"], admin.id.to_string());

    let since = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let window = audit_of(&app, &admin, &format!("since={}&until={}", since(start), since(middle)), 2).await;
    assert_eq!(window.len(), 2, "{window:?}");
    let later = audit_of(&app, &admin, &format!("since={}", since(middle)), 2).await;
    assert_eq!(later.len(), 2, "{later:?}");

    // Pages: newest first, each `next` continuing after the last.
    let all = audit_of(&app, &admin, &format!("since={}", since(start)), 4).await;
    let (_, first) = app.get(&admin, &format!("/v1/admin/audit?since={}&limit=3", since(start))).await;
    assert_eq!(first["items"].as_array().unwrap()[..], all[..3]);
    let next = first["next"].as_str().unwrap();
    let (_, rest) =
        app.get(&admin, &format!("/v1/admin/audit?since={}&limit=3&cursor={next}", since(start))).await;
    assert_eq!(rest["items"].as_array().unwrap()[..], all[3..]);
    assert!(rest["next"].is_null(), "{rest}");

    // Bad filters are 4xx; nothing but GET is served.
    for query in ["limit=0", "limit=201", "cursor=x", "since=soon", "nonsense=1"] {
        let (status, body) = app.get(&admin, &format!("/v1/admin/audit?{query}")).await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
    }
    let (status, body) = app.get(&admin, &format!("/v1/admin/audit?subject={}", "x".repeat(129))).await;
    assert_error(status, &body, 422, "invalid_value");
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let (status, _) = app.call(&admin, method, "/v1/admin/audit", Some(json!({}))).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    let (status, body) = app.get(&sam, "/v1/admin/audit").await;
    assert_error(status, &body, 403, "forbidden");
}
