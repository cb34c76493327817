//! TURN credentials in coturn's REST scheme (`use-auth-secret`): the
//! username is `<expiry unix time>:<user_id>` and the password
//! base64(HMAC-SHA1(shared secret, username)). coturn recomputes it with the
//! same secret and refuses it after the expiry, so the gateway hands out
//! short-lived credentials without telling coturn anything.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciphertalk_domain::UserId;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::config::WebrtcConfig;

/// What `GET /v1/webrtc/turn` answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TurnCredentials {
    /// The TURN (and STUN) servers, for `RTCIceServer.urls`.
    pub urls: Vec<String>,
    /// `<expiry unix time>:<user_id>`.
    pub username: String,
    /// base64(HMAC-SHA1(shared secret, username)).
    pub credential: String,
    /// Seconds the credentials stay valid.
    pub ttl: u64,
}

/// The TURN server this gateway hands out credentials for.
pub struct Turn {
    secret: Vec<u8>,
    urls: Vec<String>,
    ttl: Duration,
}

impl Turn {
    /// `None` when no TURN secret is configured.
    pub fn from_config(config: &WebrtcConfig) -> Option<Self> {
        let secret = config.turn_secret.as_ref()?;
        Some(Self {
            secret: secret.expose().as_bytes().to_vec(),
            urls: config.turn_urls(),
            ttl: config.turn_ttl(),
        })
    }

    /// Credentials for `user`, valid for the configured TTL from now.
    pub fn issue(&self, user: UserId) -> TurnCredentials {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.issue_at(user, now.as_secs())
    }

    fn issue_at(&self, user: UserId, now_unix: u64) -> TurnCredentials {
        let ttl = self.ttl.as_secs();
        let username = format!("{}:{user}", now_unix.saturating_add(ttl));
        TurnCredentials {
            urls: self.urls.clone(),
            credential: credential(&self.secret, &username),
            username,
            ttl,
        }
    }
}

/// coturn's password for `username` under `secret`.
pub fn credential(secret: &[u8], username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Secret;

    /// The vector was computed with `openssl dgst -sha1 -hmac <secret> -binary | base64`.
    #[test]
    fn credentials_follow_the_coturn_rest_scheme() {
        let config = WebrtcConfig {
            turn_secret: Some(Secret::new("a shared secret of 32 bytes.....")),
            turn_urls: "turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349".into(),
            turn_ttl_secs: 86_400,
            ..WebrtcConfig::default()
        };
        let turn = Turn::from_config(&config).unwrap();
        let user: UserId = "0192a3b4-0000-7000-8000-000000000001".parse().unwrap();
        let issued = turn.issue_at(user, 1_700_000_000);
        assert_eq!(issued.username, "1700086400:0192a3b4-0000-7000-8000-000000000001");
        assert_eq!(issued.credential, "dOTnsi+5HyHBg6mlvelzFAuGA+o=");
        assert_eq!(issued.ttl, 86_400);
        assert_eq!(issued.urls, ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]);
        assert!(Turn::from_config(&WebrtcConfig::default()).is_none());
    }
}
