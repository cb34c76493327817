//! `GET /v1/admin/status`: projection lag, the relay's position and the
//! streams' state, for instance admins only.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::{ADMIN_EMAIL, app_with_admin, login};
use crate::support::app::{Anonymous, Person, TestApp, assert_error, spawn_app};

/// The status once `settled` holds of it (or the last one after 30 s, which fails).
async fn status_when(app: &TestApp, admin: &Person, settled: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = app.get(admin, "/v1/admin/status").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if settled(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "never settled: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stream<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["streams"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()
}

fn projections(status: &Value) -> &Vec<Value> {
    status["projections"].as_array().unwrap()
}

#[tokio::test]
async fn admins_see_every_projection_caught_up_with_the_stream() {
    let (app, admin) = app_with_admin().await;
    let (alice, _bob, room) = app.alice_and_bob_in_a_group().await;
    app.send(&alice, &room.to_string(), "counted").await;
    let status = status_when(&app, &admin, |status| {
        projections(status).iter().all(|p| p["lag_events"] == 0 && p["error"].is_null())
            && status["relay"]["pending_events"] == 0
    })
    .await;
    assert_eq!(status["status"], "ok", "{status:#}");
    let names: Vec<&str> = projections(&status).iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["rooms", "timeline", "contacts", "delivery", "files", "notifications", "moderation", "audit"]
    );
    let events = stream(&status, "CHAT_EVENTS");
    let last = events["last_seq"].as_u64().unwrap();
    assert!(last >= app.committed_events().await, "{status:#}");
    assert!(events["last_at"].is_string() && events["consumers"].as_u64().unwrap() >= 8, "{status:#}");
    assert!(projections(&status).iter().all(|p| p["stream_seq"].as_u64().unwrap() <= last), "{status:#}");
    assert!(stream(&status, "CHAT_DELIVERY")["messages"].as_u64().unwrap() > 0, "{status:#}");
    assert!(stream(&status, "CHAT_NOTIFY")["error"].is_null(), "{status:#}");
    assert!(status["relay"]["cursor"].is_string(), "{status:#}");
    let dependencies: Vec<(&str, bool)> = status["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["up"].as_bool().unwrap()))
        .collect();
    assert_eq!(dependencies, [("nats", true), ("postgres", true), ("storage", true)]);
    app.stop().await;
}

#[tokio::test]
async fn a_projection_that_does_not_run_shows_its_lag() {
    let app =
        spawn_app().without_projectors().config(|config| config.auth.admins = ADMIN_EMAIL.to_owned()).await;
    app.register(ADMIN_EMAIL, "Root").await;
    let admin = login(&app, ADMIN_EMAIL).await;
    let status = status_when(&app, &admin, |status| {
        stream(status, "CHAT_EVENTS")["last_seq"].as_u64().unwrap_or(0) > 0
    })
    .await;
    let last = stream(&status, "CHAT_EVENTS")["last_seq"].as_u64().unwrap();
    for projection in projections(&status) {
        assert_eq!(projection["stream_seq"], 0, "{status:#}");
        assert_eq!(projection["behind_stream"], last, "{status:#}");
        assert!(projection["lag_events"].as_u64().unwrap() > 0, "{status:#}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_status_is_for_instance_admins_only() {
    let (app, _admin) = app_with_admin().await;
    let user = app.person("Plain").await;
    let (status, body) = app.get(&user, "/v1/admin/status").await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = app.get(Anonymous, "/v1/admin/status").await;
    assert_error(status, &body, 401, "unauthenticated");
    app.stop().await;
}

#[tokio::test]
async fn with_nats_down_the_status_still_answers_and_names_what_it_cannot_read() {
    let (mut app, admin) = app_with_admin().await;
    app.nats.stop();
    let status = status_when(&app, &admin, |status| status["status"] == "degraded").await;
    // Every JetStream request waits out its timeout at once, not one after the other.
    let asked = Instant::now();
    let (code, _) = app.get(&admin, "/v1/admin/status").await;
    assert_eq!(code, StatusCode::OK);
    assert!(asked.elapsed() < Duration::from_secs(5), "took {:?}", asked.elapsed());
    let nats = status["dependencies"].as_array().unwrap().iter().find(|d| d["name"] == "nats").unwrap();
    assert!(nats["up"] == false && nats["error"].is_string(), "{status:#}");
    for name in ["CHAT_EVENTS", "CHAT_DELIVERY", "CHAT_NOTIFY"] {
        let stream = stream(&status, name);
        assert!(stream["error"].is_string() && stream["last_seq"].is_null(), "{status:#}");
    }
    for projection in projections(&status) {
        assert!(projection["error"].is_string() && projection["lag_events"].is_null(), "{status:#}");
    }
    // Postgres still answers: the offsets and the relay are read.
    assert!(status["relay"]["pending_events"].is_u64(), "{status:#}");
    app.nats.restart().await;
    app.stop().await;
}
