//! Suspensions end the user's sessions at once and refuse their commands
//! until lifted; instance roles follow the configuration and admins.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{ADMIN_EMAIL, app_with_admin, login};
use crate::realtime::Client;
use crate::support::app::{Anonymous, PASSWORD, assert_error};

#[tokio::test]
async fn a_suspension_closes_the_websocket_within_a_second_and_refuses_commands_until_lifted() {
    let (app, admin) = app_with_admin().await;
    let email = format!("sam-{}@example.com", uuid::Uuid::new_v4());
    let session = app.register(&email, "Sam").await;
    let sam = crate::support::app::Person::from_session(&session);
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[&sam]).await;
    let mut socket = Client::connect(&app.base(0), &sam, "").await;
    let started = Instant::now();
    let (status, body) =
        app.post(&admin, &format!("/v1/admin/users/{}/suspend", sam.id), json!({"reason": "spam"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    socket.until_closed().await;
    assert!(started.elapsed() < Duration::from_secs(1), "closed after {:?}", started.elapsed());
    let send = json!({"client_msg_id": "x", "ciphertext": "eA=="});
    let (status, body) = app.post(&sam, &format!("/v1/rooms/{room}/messages"), send.clone()).await;
    assert_error(status, &body, 403, "suspended");
    let (status, body) = app.put(&sam, &format!("/v1/contacts/{}", alice.id), None).await;
    assert_error(status, &body, 403, "suspended");
    let refresh = json!({"refresh_token": session["refresh_token"]});
    let (status, _) = app.post(Anonymous, "/v1/auth/refresh", refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session's refresh family is revoked");
    let (status, body) =
        app.post(Anonymous, "/v1/auth/login", json!({"email": email, "password": PASSWORD})).await;
    assert_error(status, &body, 403, "suspended");
    let (status, _) = app.delete(&admin, &format!("/v1/admin/users/{}/suspend", sam.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let sam = login(&app, &email).await;
    let (status, body) = app.post(&sam, &format!("/v1/rooms/{room}/messages"), send).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_suspension_with_an_end_must_end_in_the_future() {
    let (app, admin) = app_with_admin().await;
    let sam = app.person("Sam").await;
    let (status, body) = app
        .post(
            &admin,
            &format!("/v1/admin/users/{}/suspend", sam.id),
            json!({"reason": "r", "until": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = app
        .post(&admin, &format!("/v1/admin/users/{}/suspend", uuid::Uuid::now_v7()), json!({"reason": "r"}))
        .await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn promoted_admins_act_at_once_and_a_configured_admin_stays_one() {
    let (app, admin) = app_with_admin().await;
    let (carol, dave) = (app.person("Carol").await, app.person("Dave").await);
    let (status, _) = app.get(&carol, "/v1/admin/reports").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        app.put(&admin, &format!("/v1/admin/users/{}/role", carol.id), Some(json!({"role": "admin"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same access token: the role is read per request, not from the token.
    let (status, _) = app.get(&carol, "/v1/admin/reports").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        app.put(&carol, &format!("/v1/admin/users/{}/role", admin.id), Some(json!({"role": "user"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "admin", "named by configuration: {body}");
    let (status, _) = app.get(&admin, "/v1/admin/reports").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        app.put(&admin, &format!("/v1/admin/users/{}/role", carol.id), Some(json!({"role": "user"}))).await;
    assert_eq!(body["role"], "user", "{body}");
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(&carol, "/v1/admin/reports").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&dave, "/v1/admin/reports").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let _ = ADMIN_EMAIL;
}
