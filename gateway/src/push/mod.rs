//! Push notifications: waking devices that are not connected when a message
//! arrives, without telling the push service anything but that something
//! arrived in a room (`{room_id, count, first_seq}`).
//!
//! - [`provider`]: the one trait the providers share, and the notification.
//! - [`webpush`] (with [`vapid`]), [`fcm`], [`webhook`]: the providers.
//! - [`pusher`]: the CHAT_NOTIFY consumer that groups, pushes, retries and dead-letters.
//!
//! The jobs come from the `notifications` projection
//! (`ciphertalk_projections::notifications`).

pub mod fcm;
pub mod provider;
pub mod pusher;
pub mod vapid;
pub mod webhook;
pub mod webpush;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use provider::{Failure, Notification, Provider};
pub use pusher::{Pusher, PusherSettings};
pub use vapid::VapidKey;

use crate::config::Config;

/// The enabled providers by platform.
#[derive(Clone, Default)]
pub struct Providers(HashMap<&'static str, Arc<dyn Provider>>);

impl Providers {
    /// The providers `config.push` enables (FCM only with a service account).
    pub fn from_config(config: &Config, vapid: Arc<VapidKey>) -> Result<Self, fcm::FcmSetupError> {
        let push = &config.push;
        let http = provider::client(push.request_timeout(), push.allow_http);
        let mut providers: HashMap<&'static str, Arc<dyn Provider>> = HashMap::new();
        if push.enabled("webpush") {
            let ttl = Duration::from_secs(push.max_age_secs);
            let webpush = webpush::WebPush { http: http.clone(), vapid, allow_http: push.allow_http, ttl };
            providers.insert("webpush", Arc::new(webpush));
        }
        if push.enabled("webhook") {
            providers.insert(
                "webhook",
                Arc::new(webhook::Webhook { http: http.clone(), allow_http: push.allow_http }),
            );
        }
        if let Some(path) = push.fcm_service_account.as_deref().filter(|_| push.enabled("fcm")) {
            providers.insert("fcm", Arc::new(fcm::Fcm::load(path, &push.fcm_base_url, http)?));
        }
        Ok(Self(providers))
    }

    pub fn get(&self, platform: &str) -> Option<&Arc<dyn Provider>> {
        self.0.get(platform)
    }
}

impl PusherSettings {
    pub fn from_config(config: &Config) -> Self {
        let push = &config.push;
        Self {
            attempts: push.attempts,
            backoff: Duration::from_millis(push.backoff_ms),
            max_backoff: Duration::from_millis(push.max_backoff_ms),
            coalesce: Duration::from_millis(push.coalesce_ms),
            max_age: Duration::from_secs(push.max_age_secs),
            concurrency: push.concurrency,
            // Long enough for a request's timeout; kept alive beyond it while retrying.
            ack_wait: (push.request_timeout() * 2).max(Duration::from_secs(5)),
            outcomes_kept: Duration::from_secs(config.streams.notify_max_age_secs.max(3600) * 2),
        }
    }
}
