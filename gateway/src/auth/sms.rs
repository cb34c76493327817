//! Where phone login codes go: a webhook (an SMS provider or a bridge to
//! one), or, in development only, the server log. The mode is chosen by
//! `CIPHERTALK_SMS`; see `Config::sms_mode`.

use std::time::Duration;

use ciphertalk_domain::values::PhoneNumber;
use futures::future::BoxFuture;
use serde::Serialize;

use crate::config::{Config, SmsMode};

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("phone login is not configured on this server")]
    Disabled,
    #[error("the SMS webhook failed: {0}")]
    Webhook(String),
}

/// Delivers a login code to a phone.
pub trait SmsSender: Send + Sync + std::fmt::Debug {
    fn send<'a>(&'a self, phone: &'a PhoneNumber, code: &'a str) -> BoxFuture<'a, Result<(), SmsError>>;
}

/// Builds the sender the configuration asks for.
pub fn from_config(config: &Config) -> Result<Box<dyn SmsSender>, SmsError> {
    Ok(match config.sms_mode() {
        SmsMode::Dev => {
            tracing::warn!(
                "phone login codes are written to this log (CIPHERTALK_SMS=dev): development only"
            );
            Box::new(DevSms)
        }
        SmsMode::Webhook => {
            let url = config.sms.webhook_url.as_ref().ok_or(SmsError::Disabled)?.expose().to_owned();
            let timeout = Duration::from_secs(config.sms.webhook_timeout_secs);
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|e| SmsError::Webhook(e.to_string()))?;
            Box::new(WebhookSms { client, url })
        }
        SmsMode::Off => Box::new(NoSms),
    })
}

/// Writes the code to the log with a `DEV SMS` marker. Never in production:
/// it is chosen only by explicit configuration or in fully embedded mode.
#[derive(Debug)]
pub struct DevSms;

impl SmsSender for DevSms {
    fn send<'a>(&'a self, phone: &'a PhoneNumber, code: &'a str) -> BoxFuture<'a, Result<(), SmsError>> {
        Box::pin(async move {
            tracing::warn!(target: "ciphertalk::dev_sms", "DEV SMS to {phone}: your CipherTalk code is {code}");
            Ok(())
        })
    }
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    phone: &'a str,
    code: &'a str,
    message: String,
}

/// POSTs `{phone, code, message}` as JSON; any non-2xx answer is a failure.
pub struct WebhookSms {
    client: reqwest::Client,
    url: String,
}

impl std::fmt::Debug for WebhookSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSms { url: [redacted] }")
    }
}

impl SmsSender for WebhookSms {
    fn send<'a>(&'a self, phone: &'a PhoneNumber, code: &'a str) -> BoxFuture<'a, Result<(), SmsError>> {
        Box::pin(async move {
            let body = WebhookBody {
                phone: phone.as_str(),
                code,
                message: format!("Your CipherTalk code is {code}"),
            };
            // Errors are reduced to their kind and status: reqwest's Display
            // carries the URL, which may hold credentials.
            let response = self.client.post(&self.url).json(&body).send().await.map_err(|e| {
                SmsError::Webhook(if e.is_timeout() { "timed out".into() } else { "unreachable".into() })
            })?;
            if !response.status().is_success() {
                return Err(SmsError::Webhook(format!("answered {}", response.status())));
            }
            Ok(())
        })
    }
}

/// Phone login switched off.
#[derive(Debug)]
pub struct NoSms;

impl SmsSender for NoSms {
    fn send<'a>(&'a self, _: &'a PhoneNumber, _: &'a str) -> BoxFuture<'a, Result<(), SmsError>> {
        Box::pin(async { Err(SmsError::Disabled) })
    }
}
