//! Webhooks (bridges): the notification POSTed as JSON to the device's URL,
//! with an `Idempotency-Key` that is the same for every attempt at one push.

use ciphertalk_domain::user::PushTarget;

use super::provider::{Failure, Notification, Provider, callable, refusal, send};

pub struct Webhook {
    pub http: reqwest::Client,
    pub allow_http: bool,
}

#[async_trait::async_trait]
impl Provider for Webhook {
    fn platform(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, target: &PushTarget, notification: &Notification, key: &str) -> Result<(), Failure> {
        let PushTarget::Webhook { url } = target else {
            return Err(Failure::Rejected { reason: "wrong_platform" });
        };
        let url = callable(url.as_str(), self.allow_http)?;
        let request = self.http.post(url).header("Idempotency-Key", key).json(notification);
        match send(request).await? {
            None => Ok(()),
            // A 404 may be a bridge restarting; only 410 says the hook is gone.
            Some(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
                Err(Failure::Retry { reason: "server_error", retry_after: None })
            }
            Some(response) => Err(refusal(&response)),
        }
    }
}
