//! Push notifications end to end: devices register where they are woken,
//! messages become jobs on CHAT_NOTIFY, and the pusher reaches real HTTP
//! servers started here: a Web Push service that checks the VAPID token and
//! decrypts the RFC 8291 payload with the subscription's private key, an FCM
//! server speaking the OAuth token and v1 send shapes, and webhooks that
//! fail before they recover. Mutes, notifications off, connected devices,
//! bursts, gone subscriptions and a restart mid-queue.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciphertalk_gateway::config::Config;
use serde_json::{Value, json};
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

use crate::realtime::Client;
use crate::support::app::{Anonymous, Person, TestApp, assert_error, spawn_app};
use crate::support::{eventually, temp_dir};

mod bad_input;
mod providers;
mod rules;

/// One request a test server received, and how it answered.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

#[derive(Default)]
struct InboxState {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer with before answering `ok` again.
    script: Mutex<VecDeque<u16>>,
    /// What `/token` expects and hands out (FCM tests).
    oauth: Mutex<Option<OAuth>>,
}

#[derive(Clone)]
struct OAuth {
    public_pem: Vec<u8>,
    client_email: String,
    token_uri: String,
    access_token: String,
    /// Tokens FCM answers UNREGISTERED for.
    gone_tokens: Vec<String>,
}

/// An HTTP server on a free loopback port recording every request: a
/// webhook (`/hook/...`), a Web Push service (`/wp/...`), an OAuth token
/// endpoint (`/token`) and FCM (`/v1/projects/{project}/messages:send`).
#[derive(Clone)]
pub(crate) struct Inbox {
    pub(crate) base: String,
    state: Arc<InboxState>,
}

impl Inbox {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(InboxState::default());
        let app = axum::Router::new()
            .route("/hook/{name}", axum::routing::post(record))
            .route("/wp/{name}", axum::routing::post(record))
            .route("/token", axum::routing::post(token))
            .route("/v1/projects/{project}/{send}", axum::routing::post(fcm_send))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { base, state }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next requests with these statuses (then 2xx again).
    fn fail_next(&self, statuses: &[u16]) {
        self.state.script.lock().unwrap().extend(statuses);
    }

    pub(crate) fn received(&self, path: &str) -> Vec<Received> {
        self.state.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// The requests to `path` answered with a 2xx.
    pub(crate) fn delivered(&self, path: &str) -> Vec<Received> {
        self.received(path).into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// Waits until `path` has had `count` requests answered 2xx.
    async fn wait_delivered(&self, path: &str, count: usize) -> Vec<Received> {
        let reached = eventually(60, || async { self.delivered(path).len() >= count }).await;
        assert!(reached, "{path} got {:?}", self.received(path));
        self.delivered(path)
    }
}

impl InboxState {
    fn next_status(&self, ok: u16) -> u16 {
        self.script.lock().unwrap().pop_front().unwrap_or(ok)
    }

    fn push(&self, received: Received) {
        self.received.lock().unwrap().push(received);
    }
}

async fn record(
    State(state): State<Arc<InboxState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_owned();
    let ok = if path.starts_with("/wp/") { 201 } else { 200 };
    let status = state.next_status(ok);
    state.push(Received { path, headers, body, status });
    StatusCode::from_u16(status).unwrap()
}

/// The OAuth 2 JWT-bearer grant (RFC 7523) as Google's token endpoint takes it.
async fn token(State(state): State<Arc<InboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.push(Received { path: "/token".into(), headers, body: body.clone(), status: 200 });
    let Some(oauth) = state.oauth.lock().unwrap().clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let form = String::from_utf8_lossy(&body).into_owned();
    let field = |name: &str| {
        form.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}="))).unwrap_or_default().to_owned()
    };
    if field("grant_type") != "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "unsupported_grant_type"})))
            .into_response();
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&oauth.token_uri]);
    validation.set_issuer(&[&oauth.client_email]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&oauth.public_pem).unwrap();
    match jsonwebtoken::decode::<Value>(&field("assertion"), &key, &validation) {
        Ok(data) if data.claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging" => {
            axum::Json(
                json!({"access_token": oauth.access_token, "expires_in": 3600, "token_type": "Bearer"}),
            )
            .into_response()
        }
        _ => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response(),
    }
}

/// FCM HTTP v1 `messages:send`.
async fn fcm_send(
    State(state): State<Arc<InboxState>>,
    Path((project, send)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(oauth) = state.oauth.lock().unwrap().clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {}", oauth.access_token).as_str());
    let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = message["message"]["token"].as_str().unwrap_or_default().to_owned();
    let (status, answer) = if send != "messages:send" || project != "ciphertalk-test" {
        (404, json!({}))
    } else if !authorized {
        (401, json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}))
    } else if oauth.gone_tokens.contains(&token) {
        let details = [
            json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}),
        ];
        (404, json!({"error": {"code": 404, "status": "NOT_FOUND", "details": details}}))
    } else {
        (200, json!({"name": format!("projects/{project}/messages/1")}))
    };
    state.push(Received { path: "/fcm".into(), headers, body, status });
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
}

/// Settings every push test runs with: local http targets, short windows.
fn push_config(config: &mut Config) {
    config.push.allow_http = true;
    config.push.coalesce_ms = 300;
    config.push.backoff_ms = 100;
    config.push.max_backoff_ms = 400;
    config.push.attempts = 4;
    config.push.request_timeout_ms = 2000;
}

/// A person and the device their session is on.
struct Member {
    person: Person,
    device: String,
}

async fn member(app: &TestApp, name: &str) -> Member {
    let email = format!("{}-{}@example.com", name.to_lowercase(), uuid::Uuid::new_v4());
    let body = app.register(&email, name).await;
    Member { person: Person::from_session(&body), device: body["device_id"].as_str().unwrap().to_owned() }
}

/// Registers `who`'s device for `registration` (204 expected).
async fn register(app: &TestApp, who: &Member, registration: Value) {
    let (status, body) =
        app.put(&who.person, &format!("/v1/devices/{}/push", who.device), Some(registration)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn register_webhook(app: &TestApp, who: &Member, url: &str) {
    register(app, who, json!({"platform": "webhook", "token": url})).await;
}

/// Sends a message as `who`; returns its seq.
async fn send(app: &TestApp, who: &Member, room: &str) -> u64 {
    app.send(&who.person, room, "hello").await["seq"].as_u64().unwrap()
}

/// The seqs covered by `pushes` (each `{first_seq, count}`), asserting none twice.
fn covered(pushes: &[Value]) -> BTreeSet<u64> {
    let mut seqs = BTreeSet::new();
    for push in pushes {
        let first = push["first_seq"].as_u64().unwrap();
        for seq in first..first + push["count"].as_u64().unwrap() {
            assert!(seqs.insert(seq), "seq {seq} was pushed twice: {pushes:?}");
        }
    }
    seqs
}

/// A push's payload carries exactly the room, a count and the first seq.
#[track_caller]
pub(crate) fn assert_payload(push: &Value, room: &str) {
    let keys: BTreeSet<&str> = push.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["count", "first_seq", "room_id"]), "{push}");
    assert_eq!(push["room_id"], room, "{push}");
}

/// The value of the series of `name` whose labels contain each of `labels` on gateway 0's page.
async fn metric(app: &TestApp, name: &str, labels: &[&str]) -> f64 {
    let page = app.http.get(format!("{}/metrics", app.base(0))).send().await.unwrap().text().await.unwrap();
    page.lines()
        .filter(|line| line.starts_with(name) && labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// A fresh Web Push subscription: the browser's key pair and auth secret.
pub(crate) struct Subscription {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Subscription {
    pub(crate) fn new() -> Self {
        let mut scalar = [0_u8; 32];
        getrandom::fill(&mut scalar).unwrap();
        let mut auth = [0_u8; 16];
        getrandom::fill(&mut auth).unwrap();
        Self { secret: SecretKey::from_slice(&scalar).unwrap(), auth }
    }

    fn json(&self, endpoint: &str) -> Value {
        json!({"platform": "webpush", "subscription": self.browser_json(endpoint)})
    }

    /// What a browser's `PushSubscription.toJSON()` gives: endpoint and keys.
    pub(crate) fn browser_json(&self, endpoint: &str) -> Value {
        let public = self.secret.public_key().to_encoded_point(false);
        json!({"endpoint": endpoint, "keys": {
            "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
            "auth": URL_SAFE_NO_PAD.encode(self.auth),
        }})
    }

    /// The RFC 8291 payload of `push` as JSON, if this subscription's keys open it.
    pub(crate) fn open(&self, push: &Received) -> Option<Value> {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        let plain = web_push_native::decrypt(push.body.to_vec(), &self.secret, &auth).ok()?;
        Some(serde_json::from_slice(&plain).unwrap())
    }
}

/// Checks `push` is an RFC 8030/8291 request signed per RFC 8292 with the
/// instance's VAPID key `public_key` for `origin` (the push service's);
/// returns the JWT.
#[track_caller]
pub(crate) fn assert_web_push(push: &Received, public_key: &str, origin: &str) -> String {
    assert_eq!(push.header("content-encoding").as_deref(), Some("aes128gcm"));
    assert!(push.header("ttl").is_some_and(|ttl| ttl.parse::<u64>().unwrap() > 0));
    // `vapid t=<JWT>, k=<our public key>`, the JWT ES256 for this origin.
    let authorization = push.header("authorization").unwrap();
    let (token, key) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .unwrap_or_else(|| panic!("not a VAPID authorization: {authorization}"));
    assert_eq!(key, public_key);
    let claims = vapid_claims(token, key, origin).unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp <= jsonwebtoken::get_current_timestamp() + 24 * 3600, "RFC 8292: at most 24 h ahead");
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
    token.to_owned()
}

/// The claims of a VAPID `token` signed by `public_key` (an uncompressed
/// P-256 point, base64url) whose audience is `origin`.
fn vapid_claims(token: &str, public_key: &str, origin: &str) -> jsonwebtoken::errors::Result<Value> {
    let point = URL_SAFE_NO_PAD.decode(public_key).unwrap();
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed P-256 point");
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&point[1..33]),
        &URL_SAFE_NO_PAD.encode(&point[33..]),
    )?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[origin]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    Ok(jsonwebtoken::decode::<Value>(token, &decoding, &validation)?.claims)
}
