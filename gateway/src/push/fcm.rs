//! FCM HTTP v1: an OAuth 2 access token from the service account (a signed
//! JWT exchanged at the account's `token_uri`, RFC 7523), cached until
//! shortly before it expires, then `POST {base}/v1/projects/{project}/messages:send`
//! with the notification as string-valued `data`.

use std::path::Path;
use std::time::{Duration, Instant};

use ciphertalk_domain::user::PushTarget;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;

use super::provider::{Failure, Notification, Provider, refusal, retry_after, send};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// A token this close to its expiry is renewed first.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The fields of a Google service-account JSON file that FCM needs.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FcmSetupError {
    #[error("cannot read the FCM service account {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the FCM service account {path} is not a service-account JSON file: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("the FCM service account's private_key is not an RSA PEM key: {0}")]
    Key(jsonwebtoken::errors::Error),
}

pub struct Fcm {
    http: reqwest::Client,
    send_url: String,
    client_email: String,
    token_uri: String,
    key: EncodingKey,
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl Fcm {
    /// Reads the service account at `path`; pushes go to `base_url`.
    pub fn load(path: &Path, base_url: &str, http: reqwest::Client) -> Result<Self, FcmSetupError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| FcmSetupError::Read { path: shown.clone(), source })?;
        let account: ServiceAccount =
            serde_json::from_str(&text).map_err(|source| FcmSetupError::Parse { path: shown, source })?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes()).map_err(FcmSetupError::Key)?;
        let send_url =
            format!("{}/v1/projects/{}/messages:send", base_url.trim_end_matches('/'), account.project_id);
        Ok(Self {
            http,
            send_url,
            client_email: account.client_email,
            token_uri: account.token_uri,
            key,
            token: Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, or a fresh one from the token URI.
    async fn access_token(&self) -> Result<String, Failure> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + RENEW_BEFORE < *expires
        {
            return Ok(token.clone());
        }
        let iat = jsonwebtoken::get_current_timestamp();
        let claims =
            Assertion { iss: &self.client_email, scope: SCOPE, aud: &self.token_uri, iat, exp: iat + 3600 };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|_| Failure::Rejected { reason: "oauth_assertion" })?;
        // The assertion is base64url and dots: nothing to escape in the form.
        let form =
            format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}");
        let response = self
            .http
            .post(&self.token_uri)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|err| Failure::from_request(&err))?;
        if !response.status().is_success() {
            let status = response.status();
            tracing::warn!(%status, "the FCM token endpoint refused the service account");
            return Err(Failure::Retry { reason: "oauth", retry_after: retry_after(response.headers()) });
        }
        let answer: TokenAnswer =
            response.json().await.map_err(|_| Failure::Retry { reason: "oauth", retry_after: None })?;
        let expires = Instant::now() + Duration::from_secs(answer.expires_in);
        *cached = Some((answer.access_token.clone(), expires));
        Ok(answer.access_token)
    }
}

#[async_trait::async_trait]
impl Provider for Fcm {
    fn platform(&self) -> &'static str {
        "fcm"
    }

    async fn send(&self, target: &PushTarget, notification: &Notification, key: &str) -> Result<(), Failure> {
        let PushTarget::Fcm { token } = target else {
            return Err(Failure::Rejected { reason: "wrong_platform" });
        };
        let access = self.access_token().await?;
        // FCM's data values are strings.
        let message = json!({"message": {
            "token": token.as_str(),
            "data": {
                "room_id": notification.room_id.to_string(),
                "count": notification.count.to_string(),
                "first_seq": notification.first_seq.to_string(),
            },
            "android": {"priority": "high", "collapse_key": key},
        }});
        let request = self.http.post(&self.send_url).bearer_auth(access).json(&message);
        let Some(response) = send(request).await? else { return Ok(()) };
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The cached token was revoked or expired early: fetch another next time.
            *self.token.lock().await = None;
            return Err(Failure::Retry { reason: "unauthorized", retry_after: None });
        }
        let refused = refusal(&response);
        // FCM says a token is gone with 404 NOT_FOUND or an UNREGISTERED error code.
        let body = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND || body.contains("\"UNREGISTERED\"") {
            return Err(Failure::Gone);
        }
        Err(refused)
    }
}
