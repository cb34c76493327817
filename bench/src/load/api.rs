//! The REST calls the load generator makes: register, create a room, send.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::BoxError;

/// A registered user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct Registered {
    user: IdOnly,
    access_token: String,
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
            .json(&json!({"email": email, "password": "load-test-password", "display_name": "Load Test"}))
            .send()
            .await?;
        let registered: Registered = expect(response, StatusCode::CREATED, "register").await?.json().await?;
        Ok(Account { id: registered.user.id, token: registered.access_token })
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
