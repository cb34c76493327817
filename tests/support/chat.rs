//! A gateway for the room, message and contact tests: its own database and
//! NATS, users registered over HTTP, and a terse way to call the API as one of them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciphertalk_gateway::config::{Config, Secret, Toggle};
use ciphertalk_gateway::serve::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{TestDb, TestNats, temp_dir};

pub const FRANKING_KEY: &str = "test-franking-key-0123456789abcdef-0123456789";

pub struct Chat {
    pub server: Server,
    pub base: String,
    http: reqwest::Client,
    _db: TestDb,
    _nats: TestNats,
    _dir: tempfile::TempDir,
}

/// A registered user and their access token.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub token: String,
}

impl Person {
    pub fn user_id(&self) -> ciphertalk_domain::UserId {
        self.id.parse().unwrap()
    }
}

impl Chat {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(change: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new().await;
        let nats = TestNats::start().await;
        let dir = temp_dir("chat");
        let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
        config.data_dir = dir.path().to_path_buf();
        config.auth.jwt_secret = Some(Secret::new("test-signing-key-0123456789abcdef-0123456789"));
        config.messages.franking_key = Some(Secret::new(FRANKING_KEY));
        config.rate_limits.mode = Toggle::Off;
        change(&mut config);
        let server = Server::start(&config, &db.url, &nats.url()).await.unwrap();
        let base = format!("http://{}", server.addr);
        Self { server, base, http: reqwest::Client::new(), _db: db, _nats: nats, _dir: dir }
    }

    /// Registers `name` (a unique email is made up) and logs them in.
    pub async fn person(&self, name: &str) -> Person {
        let email = format!("{}-{}@example.com", name.to_lowercase().replace(' ', "."), uuid::Uuid::new_v4());
        let (status, body) = self
            .call(
                None,
                "POST",
                "/v1/auth/register",
                Some(json!({"email": email, "password": "correct horse battery", "display_name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Person {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn call(
        &self,
        who: Option<&Person>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(who) = who {
            request = request.bearer_auth(&who.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, who: &Person, path: &str) -> (StatusCode, Value) {
        self.call(Some(who), "GET", path, None).await
    }

    pub async fn post(&self, who: &Person, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Some(who), "POST", path, Some(body)).await
    }

    pub async fn put(&self, who: &Person, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Some(who), "PUT", path, body).await
    }

    pub async fn patch(&self, who: &Person, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Some(who), "PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, who: &Person, path: &str) -> (StatusCode, Value) {
        self.call(Some(who), "DELETE", path, None).await
    }

    /// A group room `owner` creates with `members`; returns its id.
    pub async fn group(&self, owner: &Person, members: &[&Person]) -> String {
        let ids: Vec<&str> = members.iter().map(|p| p.id.as_str()).collect();
        let (status, body) =
            self.post(owner, "/v1/rooms", json!({"kind": "group", "name": "team", "members": ids})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Sends `text` (as base64 "ciphertext") to `room`; returns the message.
    pub async fn send(&self, who: &Person, room: &str, text: &str) -> Value {
        let (status, body) = self
            .post(
                who,
                &format!("/v1/rooms/{room}/messages"),
                json!({"client_msg_id": uuid::Uuid::new_v4().to_string(), "ciphertext": b64(text)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

/// Asserts an error answer's status and code.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: u16, code: &str) {
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}
