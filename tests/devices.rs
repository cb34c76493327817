//! Devices over HTTP: sessions bound to a device (registration's first
//! device, logins that reuse or add one, the per-user limit, refresh keeping
//! the device, tokens minted before devices), managing them, keys per device,
//! delivery cursors per device, to-device messages and device events.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciphertalk_domain::{DeviceId, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Anonymous, JWT_SECRET, PASSWORD, TestApp, assert_error, spawn_app};

mod cursors;
mod events;
mod keys;
mod management;
mod openapi;
mod sessions;
mod to_device;

/// The user id of a session answer.
fn user_of(session: &Value) -> UserId {
    session["user"]["id"].as_str().unwrap().parse().unwrap()
}

/// The device id of a session answer.
pub(crate) fn device_of(session: &Value) -> String {
    session["device_id"].as_str().unwrap_or_else(|| panic!("no device_id in {session}")).to_owned()
}

/// The claims an access token carries (read, not verified).
fn claims_of(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Logs `email` in, naming `device` if given: the status and the session answer.
async fn login(app: &TestApp, email: &str, device: Option<Value>) -> (StatusCode, Value) {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(device) = device {
        body["device"] = device;
    }
    app.post(Anonymous, "/v1/auth/login", body).await
}

/// Logs `email` in on a new device named `name`: the session answer.
pub(crate) async fn login_on_new_device(app: &TestApp, email: &str, name: &str) -> Value {
    let (status, session) = login(app, email, Some(json!({"name": name}))).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    session
}

/// The inbox items (`{cursor, event}`) of `device` from its acknowledged cursor.
async fn inbox_items(app: &TestApp, device: &crate::support::app::Person) -> Vec<Value> {
    let (status, page) = app.get(device, "/v1/inbox?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// An access token for `user` as minted before devices: no `dev` claim.
fn token_without_device(user: UserId) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({"sub": user.to_string(), "iat": now, "exp": now + 600, "jti": uuid::Uuid::new_v4()});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}
