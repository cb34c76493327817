//! Web Push (RFC 8030): the notification encrypted to the subscription's
//! keys (RFC 8291, `aes128gcm`, by `web-push-native`), signed with our VAPID
//! key (RFC 8292) for the endpoint's origin, POSTed to the endpoint.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciphertalk_domain::user::PushTarget;
use web_push_native::Auth;
use web_push_native::p256::PublicKey;

use super::provider::{Failure, Notification, Provider, callable, refusal, send};
use super::vapid::VapidKey;

pub struct WebPush {
    pub http: reqwest::Client,
    pub vapid: Arc<VapidKey>,
    pub allow_http: bool,
    /// How long the push service keeps a push for an offline browser.
    pub ttl: Duration,
}

#[async_trait::async_trait]
impl Provider for WebPush {
    fn platform(&self) -> &'static str {
        "webpush"
    }

    async fn send(&self, target: &PushTarget, notification: &Notification, key: &str) -> Result<(), Failure> {
        let PushTarget::WebPush { endpoint, p256dh, auth } = target else {
            return Err(Failure::Rejected { reason: "wrong_platform" });
        };
        let url = callable(endpoint.as_str(), self.allow_http)?;
        let bad_keys = Failure::Rejected { reason: "bad_subscription" };
        let public = URL_SAFE_NO_PAD.decode(p256dh.as_str()).map_err(|_| bad_keys.clone())?;
        let public = PublicKey::from_sec1_bytes(&public).map_err(|_| bad_keys.clone())?;
        let auth = URL_SAFE_NO_PAD.decode(auth.as_str()).map_err(|_| bad_keys.clone())?;
        if auth.len() != 16 {
            return Err(bad_keys);
        }
        let body = serde_json::to_vec(notification).map_err(|_| Failure::Rejected { reason: "encoding" })?;
        let encrypted = web_push_native::encrypt(body, &public, Auth::from_slice(&auth))
            .map_err(|_| Failure::Rejected { reason: "encryption" })?;
        let origin = url.origin().ascii_serialization();
        let authorization =
            self.vapid.authorization(&origin).map_err(|_| Failure::Rejected { reason: "vapid" })?;
        let request = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::CONTENT_ENCODING, "aes128gcm")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header("TTL", self.ttl.as_secs().to_string())
            .header("Urgency", "high")
            // Replaces an undelivered push of the same key (a retry) at the service.
            .header("Topic", key)
            .body(encrypted);
        match send(request).await? {
            None => Ok(()),
            Some(response) => Err(refusal(&response)),
        }
    }
}
