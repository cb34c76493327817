//! The REST calls the load generator makes: register, log in another
//! device, create a room, send.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::BoxError;

/// One session of a registered user: its device's access token.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub token: String,
    /// The device the token is bound to; `None` from a server without devices.
    pub device_id: Option<String>,
}

/// Every load user's password.
const PASSWORD: &str = "load-test-password";

#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// The answer of register and login.
#[derive(Deserialize)]
struct Tokens {
    user: IdOnly,
    access_token: String,
    #[serde(default)]
    device_id: Option<String>,
}

impl From<Tokens> for Account {
    fn from(tokens: Tokens) -> Self {
        Self { id: tokens.user.id, token: tokens.access_token, device_id: tokens.device_id }
    }
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl Api {
    pub fn new(base: &str) -> Result<Self, BoxError> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).tcp_nodelay(true).build()?;
        Ok(Self { http, base: base.to_owned() })
    }

    pub async fn register(&self, email: &str) -> Result<Account, BoxError> {
        let response = self
            .http
            .post(format!("{}/v1/auth/register", self.base))
            .json(&json!({"email": email, "password": PASSWORD, "display_name": "Load Test"}))
            .send()
            .await?;
        let tokens: Tokens = expect(response, StatusCode::CREATED, "register").await?.json().await?;
        Ok(tokens.into())
    }

    /// A session on a new device of the user registered with `email`.
    pub async fn login_new_device(&self, email: &str, device_name: &str) -> Result<Account, BoxError> {
        let response = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": PASSWORD, "device": {"name": device_name}}))
            .send()
            .await?;
        let tokens: Tokens = expect(response, StatusCode::OK, "login").await?.json().await?;
        Ok(tokens.into())
    }

    /// A new user's sessions on `devices` devices: the one registering made, then one login per device.
    pub async fn sessions(&self, email: &str, devices: usize) -> Result<Vec<Account>, BoxError> {
        let mut sessions = vec![self.register(email).await?];
        for device in 1..devices {
            let session = self.login_new_device(email, &format!("load device {device}")).await?;
            let known = sessions.iter().any(|other| other.device_id == session.device_id);
            if session.device_id.is_none() || known {
                return Err(format!(
                    "login with a new device: the server answered device {:?} (again, or none); \
                     it does not keep devices apart",
                    session.device_id
                )
                .into());
            }
            sessions.push(session);
        }
        Ok(sessions)
    }

    /// A group room owned by `owner` with `members` (ids, the owner excluded).
    pub async fn create_room(&self, owner: &Account, members: &[&str]) -> Result<String, BoxError> {
        let response = self
            .http
            .post(format!("{}/v1/rooms", self.base))
            .bearer_auth(&owner.token)
            .json(&json!({"kind": "group", "name": "load", "members": members}))
            .send()
            .await?;
        let room: IdOnly = expect(response, StatusCode::CREATED, "create room").await?.json().await?;
        Ok(room.id)
    }

    /// Sends one message; `Ok` once the server has accepted it (201).
    pub async fn send(
        &self,
        sender: &Account,
        room: &str,
        client_msg_id: &str,
        ciphertext: &str,
    ) -> Result<(), BoxError> {
        let response = self
            .http
            .post(format!("{}/v1/rooms/{room}/messages", self.base))
            .bearer_auth(&sender.token)
            .json(&json!({"client_msg_id": client_msg_id, "ciphertext": ciphertext}))
            .send()
            .await?;
        // Read the body: the request is done when the answer is.
        expect(response, StatusCode::CREATED, "send").await?.bytes().await?;
        Ok(())
    }
}

async fn expect(
    response: reqwest::Response,
    status: StatusCode,
    what: &str,
) -> Result<reqwest::Response, BoxError> {
    if response.status() == status {
        return Ok(response);
    }
    let got = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(format!("{what}: expected {status}, got {got}: {body}").into())
}
