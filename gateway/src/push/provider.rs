//! What every push provider (Web Push, FCM, webhook) is to the pusher: send
//! one notification to one device's target, and say how it went.

use std::time::Duration;

use ciphertalk_domain::RoomId;
use ciphertalk_domain::user::PushTarget;
use serde::Serialize;

/// What a push carries: that something arrived in a room, how much, from
/// which sequence on. No ciphertext, no names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub room_id: RoomId,
    pub count: u32,
    pub first_seq: u64,
}

/// Why a push did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The push service says the subscription or token is no more: the
    /// registration is removed.
    Gone,
    /// Worth another attempt (a timeout, a 5xx, a 429), after at least
    /// `retry_after` when the service named a wait. `reason` labels the metric.
    Retry { reason: &'static str, retry_after: Option<Duration> },
    /// Will fail again whatever we do (a 4xx, a target we refuse to call).
    Rejected { reason: &'static str },
}

impl Failure {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Retry { reason, .. } | Self::Rejected { reason } => reason,
        }
    }

    /// The failure a push service's (or webhook's) HTTP status means.
    pub fn from_status(status: reqwest::StatusCode, retry_after: Option<Duration>) -> Self {
        match status.as_u16() {
            404 | 410 => Self::Gone,
            429 => Self::Retry { reason: "rate_limited", retry_after },
            500..=599 => Self::Retry { reason: "server_error", retry_after },
            401 | 403 => Self::Rejected { reason: "unauthorized" },
            413 => Self::Rejected { reason: "too_large" },
            _ => Self::Rejected { reason: "refused" },
        }
    }

    /// The failure a request error means (no answer at all).
    pub fn from_request(err: &reqwest::Error) -> Self {
        let reason = if err.is_timeout() { "timeout" } else { "unreachable" };
        Self::Retry { reason, retry_after: None }
    }
}

/// One way of waking devices.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// The platform it serves, as the API spells it.
    fn platform(&self) -> &'static str;

    /// Sends `notification` to `target` (always of this provider's
    /// platform). `key` is the same for every attempt at the same push and
    /// opaque: providers hand it on for de-duplication where they can.
    async fn send(&self, target: &PushTarget, notification: &Notification, key: &str) -> Result<(), Failure>;
}

/// Sends `request`: `None` when the service answered 2xx, else its answer;
/// no answer at all is the failure that means.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Option<reqwest::Response>, Failure> {
    let response = request.send().await.map_err(|err| Failure::from_request(&err))?;
    Ok((!response.status().is_success()).then_some(response))
}

/// The failure a non-2xx answer means, by its status and `Retry-After`.
pub fn refusal(response: &reqwest::Response) -> Failure {
    Failure::from_status(response.status(), retry_after(response.headers()))
}

/// The `Retry-After` of an answer, in seconds (the date form is ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// Whether `url` may be called: https, a host, no credentials; and, unless
/// `allow_local` (local bridges, tests), no http and no loopback, private or
/// link-local address written into the URL. (A name that resolves to such an
/// address is not caught here: keep the gateway's egress filtered too.)
pub fn callable(url: &str, allow_local: bool) -> Result<reqwest::Url, Failure> {
    let refused = Failure::Rejected { reason: "target_refused" };
    let parsed = reqwest::Url::parse(url).map_err(|_| refused.clone())?;
    let scheme_ok = parsed.scheme() == "https" || (allow_local && parsed.scheme() == "http");
    let local = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.is_unspecified() || ip.is_unique_local() || ip.is_unicast_link_local()
        }
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => true,
    };
    if !scheme_ok || (local && !allow_local) || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused);
    }
    Ok(parsed)
}

/// The HTTP client every provider uses: bounded time, no redirects (a
/// target could otherwise bounce the server somewhere it was not allowed).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_targets_are_called_unless_local_ones_are_allowed() {
        assert!(callable("https://push.example.org/send/1", false).is_ok());
        for refused in [
            "http://push.example.org/send/1",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.7:8443/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://localhost/hook",
            "https://user:pw@push.example.org/x",
            "ftp://push.example.org/x",
        ] {
            assert!(callable(refused, false).is_err(), "{refused}");
        }
        assert!(callable("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(callable("https://user:pw@push.example.org/x", true).is_err(), "never credentials");
    }
}
