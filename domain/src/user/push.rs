//! Where a device is woken while it is offline: a Web Push subscription (a
//! browser), an FCM registration token (Android) or a webhook (a bridge).
//! Values are checked for shape and size here; which URL schemes and hosts
//! the gateway will call is its own policy.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::values::{check, string_value};

/// The longest URL or token any push target may hold (the gateway may allow less).
pub const MAX_PUSH_TARGET_CHARS: usize = 4096;

string_value!(
    /// An `http(s)://` URL: a Web Push endpoint or a webhook. No spaces or
    /// control characters, at most [`MAX_PUSH_TARGET_CHARS`].
    #[derive(Debug)]
    PushUrl,
    validate_push_url
);

fn validate_push_url(raw: &str) -> Result<String, ValidationError> {
    check::char_len("endpoint", raw, 1, MAX_PUSH_TARGET_CHARS)?;
    let rest = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://"));
    let host_start = rest.ok_or_else(|| ValidationError::new("endpoint", "must be an http(s) URL"))?;
    if host_start.is_empty() || host_start.starts_with('/') {
        return Err(ValidationError::new("endpoint", "must name a host"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new("endpoint", "must not contain spaces or control characters"));
    }
    Ok(raw.to_owned())
}

string_value!(
    /// An FCM registration token: 1 to [`MAX_PUSH_TARGET_CHARS`] characters
    /// of `[A-Za-z0-9:_-]` (what Firebase hands out).
    #[derive(Debug)]
    FcmToken,
    validate_fcm_token
);

fn validate_fcm_token(raw: &str) -> Result<String, ValidationError> {
    check::char_len("token", raw, 1, MAX_PUSH_TARGET_CHARS)?;
    if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-')) {
        return Err(ValidationError::new("token", "must be an FCM registration token"));
    }
    Ok(raw.to_owned())
}

string_value!(
    /// The subscription's P-256 public key (`keys.p256dh`): an uncompressed
    /// point, 65 bytes, base64url (kept unpadded).
    #[derive(Debug)]
    P256dhKey,
    validate_p256dh
);

fn validate_p256dh(raw: &str) -> Result<String, ValidationError> {
    let bytes = base64url("keys.p256dh", raw)?;
    if bytes.len() != 65 || bytes[0] != 4 {
        return Err(ValidationError::new("keys.p256dh", "must be an uncompressed P-256 point (65 bytes)"));
    }
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

string_value!(
    /// The subscription's authentication secret (`keys.auth`): 16 bytes,
    /// base64url (kept unpadded).
    #[derive(Debug)]
    PushAuthSecret,
    validate_auth_secret
);

fn validate_auth_secret(raw: &str) -> Result<String, ValidationError> {
    let bytes = base64url("keys.auth", raw)?;
    if bytes.len() != 16 {
        return Err(ValidationError::new("keys.auth", "must be 16 bytes"));
    }
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Browsers hand out unpadded base64url; padded is accepted too.
fn base64url(field: &'static str, raw: &str) -> Result<Vec<u8>, ValidationError> {
    if raw.len() > 200 {
        return Err(ValidationError::new(field, "is too long"));
    }
    URL_SAFE_NO_PAD
        .decode(raw)
        .or_else(|_| URL_SAFE.decode(raw))
        .map_err(|_| ValidationError::new(field, "must be base64url"))
}

/// Where one device is woken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum PushTarget {
    /// A Web Push subscription (RFC 8030), its payloads encrypted to the
    /// subscription's keys (RFC 8291).
    #[serde(rename = "webpush")]
    WebPush { endpoint: PushUrl, p256dh: P256dhKey, auth: PushAuthSecret },
    /// An FCM registration token.
    Fcm { token: FcmToken },
    /// A URL that receives the notification as JSON.
    Webhook { url: PushUrl },
}

impl PushTarget {
    /// The platform's name as the API spells it (`webpush`, `fcm`, `webhook`).
    #[must_use]
    pub fn platform(&self) -> &'static str {
        match self {
            Self::WebPush { .. } => "webpush",
            Self::Fcm { .. } => "fcm",
            Self::Webhook { .. } => "webhook",
        }
    }
}

/// Why a device's push registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushRemoval {
    /// The user removed it.
    ByUser,
    /// The push service said the subscription or token is gone (404/410, UNREGISTERED).
    Gone,
}
