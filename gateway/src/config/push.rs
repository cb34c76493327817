//! `[push]`: push notifications to devices that are not connected (Web Push,
//! FCM, webhooks): which providers run, retries, grouping, timeouts, limits.

use std::path::PathBuf;
use std::time::Duration;

use ciphertalk_domain::user::MAX_PUSH_TARGET_CHARS;
use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

/// The providers the pusher knows.
pub const PROVIDERS: [&str; 3] = ["webpush", "fcm", "webhook"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Whether this process runs a pusher (one consumer shared by every process).
    pub run: bool,
    /// Comma-separated providers devices may register for and that are pushed to.
    pub providers: String,
    /// Attempts at one push before it is dead-lettered.
    pub attempts: u32,
    /// Wait before the second attempt; doubled after each failure.
    pub backoff_ms: u64,
    /// Longest wait between attempts.
    pub max_backoff_ms: u64,
    /// A room's messages within this window after the first become one push with a count.
    pub coalesce_ms: u64,
    /// A job older than this when its turn comes is dropped (`stale`).
    pub max_age_secs: u64,
    /// Timeout of each request to a push service, token endpoint or webhook.
    pub request_timeout_ms: u64,
    /// Pushes in flight at once.
    pub concurrency: usize,
    /// Longest endpoint, webhook URL or FCM token a device may register.
    pub max_target_chars: usize,
    /// Whether `http://` and loopback or private-address endpoints and
    /// webhooks are accepted (local bridges, tests); else public https only.
    pub allow_http: bool,
    /// The VAPID `sub` claim: how a push service reaches the operator.
    pub vapid_subject: String,
    /// Google service-account JSON file of the FCM project; unset = no FCM.
    pub fcm_service_account: Option<PathBuf>,
    /// FCM HTTP v1 base URL (tests point it at a local server).
    pub fcm_base_url: String,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            run: true,
            providers: PROVIDERS.join(","),
            attempts: 5,
            backoff_ms: 1000,
            max_backoff_ms: 60_000,
            coalesce_ms: 2000,
            max_age_secs: 3600,
            request_timeout_ms: 10_000,
            concurrency: 16,
            max_target_chars: 1024,
            allow_http: false,
            vapid_subject: "mailto:admin@localhost".to_owned(),
            fcm_service_account: None,
            fcm_base_url: "https://fcm.googleapis.com".to_owned(),
        }
    }
}

impl PushConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for provider in self.provider_list() {
            ensure(PROVIDERS.contains(&provider), "push.providers", "must list only webpush, fcm, webhook")?;
        }
        ensure(self.attempts > 0, "push.attempts", "must be positive")?;
        ensure(self.backoff_ms > 0, "push.backoff_ms", "must be positive")?;
        ensure(
            self.max_backoff_ms >= self.backoff_ms,
            "push.max_backoff_ms",
            "must be at least push.backoff_ms",
        )?;
        ensure(
            (1..=30 * 24 * 3600).contains(&self.max_age_secs),
            "push.max_age_secs",
            "must be between 1 and 2592000 (30 days)",
        )?;
        ensure(self.request_timeout_ms > 0, "push.request_timeout_ms", "must be positive")?;
        ensure(self.concurrency > 0, "push.concurrency", "must be positive")?;
        ensure(
            (16..=MAX_PUSH_TARGET_CHARS).contains(&self.max_target_chars),
            "push.max_target_chars",
            "must be between 16 and 4096",
        )?;
        ensure(
            !self.vapid_subject.trim().is_empty(),
            "push.vapid_subject",
            "must be a mailto: or https: URL",
        )?;
        ensure(
            self.fcm_base_url.starts_with("https://") || self.fcm_base_url.starts_with("http://"),
            "push.fcm_base_url",
            "must be an http(s) URL",
        )
    }

    fn provider_list(&self) -> impl Iterator<Item = &str> {
        self.providers.split(',').map(str::trim).filter(|p| !p.is_empty())
    }

    /// Whether devices may register for `platform` and get pushes through it.
    pub fn enabled(&self, platform: &str) -> bool {
        self.provider_list().any(|provider| provider == platform)
            && (platform != "fcm" || self.fcm_service_account.is_some())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}
