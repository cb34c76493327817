//! Moderation over HTTP: reports (with franking proofs), report resolution
//! and takedowns of messages and files, `report.created` pushes, instance
//! roles and suspensions, the audit log and room states as of a time, the
//! replays of both projections, and who may do what.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::app::{PASSWORD, Person, TestApp, b64, spawn_app};

mod access;
mod audit;
mod franking;
mod notify;
mod replay;
mod reports;
mod status;
mod suspension;
mod takedown;

/// The address the test configuration names as an instance admin.
const ADMIN_EMAIL: &str = "root@moderation.example";

/// An app whose configuration names [`ADMIN_EMAIL`] an admin, and that admin
/// (registered, then logged in: the login grants the role).
async fn app_with_admin() -> (TestApp, Person) {
    let app = spawn_app().config(|config| config.auth.admins = ADMIN_EMAIL.to_owned()).await;
    app.register(ADMIN_EMAIL, "Root").await;
    let admin = login(&app, ADMIN_EMAIL).await;
    (app, admin)
}

async fn login(app: &TestApp, email: &str) -> Person {
    let (status, body) = app
        .post(crate::support::app::Anonymous, "/v1/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Person::from_session(&body)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A message as a franking client sends it: `plaintext` committed under `key`.
async fn send_franked(app: &TestApp, who: &Person, room: &str, plaintext: &str, key: &[u8]) -> Value {
    let commitment = STANDARD.encode(hmac(key, plaintext.as_bytes()));
    let (status, body) = app
        .post(
            who,
            &format!("/v1/rooms/{room}/messages"),
            json!({"client_msg_id": uuid::Uuid::new_v4().to_string(), "ciphertext": b64("sealed"), "commitment": commitment}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["reporting_tag"].is_string(), "{body}");
    body
}

/// `who` reports message `message` of `room`: the status and the report.
async fn report_message(
    app: &TestApp,
    who: &Person,
    room: &str,
    message: &Value,
    proof: Option<Value>,
) -> (StatusCode, Value) {
    let mut body =
        json!({"target": {"kind": "message", "id": message["id"], "room_id": room}, "reason": "abuse"});
    if let Some(proof) = proof {
        body["franking"] = proof;
    }
    app.post(who, "/v1/reports", body).await
}

fn proof(plaintext: &str, key: &[u8]) -> Value {
    json!({"plaintext": b64(plaintext), "franking_key": STANDARD.encode(key)})
}

/// The audit entries `query` selects (newest first), once the `audit`
/// projection shows at least `count` of them.
async fn audit_of(app: &TestApp, admin: &Person, query: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, body) = app.get(admin, &format!("/v1/admin/audit?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().unwrap().clone();
        if items.len() >= count || std::time::Instant::now() > deadline {
            assert!(items.len() >= count, "audit {query}: {items:?}");
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
