//! What every push provider (Web Push, FCM, webhook) is to the pusher: send
//! one notification to one device's target, and say how it went.

use std::net::{IpAddr, SocketAddr};
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
/// link-local address written into the URL. A name that resolves to such
/// addresses only is refused when it is looked up ([`client`]).
pub fn callable(url: &str, allow_local: bool) -> Result<reqwest::Url, Failure> {
    let refused = Failure::Rejected { reason: "target_refused" };
    let parsed = reqwest::Url::parse(url).map_err(|_| refused.clone())?;
    let scheme_ok = parsed.scheme() == "https" || (allow_local && parsed.scheme() == "http");
    let local = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => is_local(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_local(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => true,
    };
    if !scheme_ok || (local && !allow_local) || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused);
    }
    Ok(parsed)
}

/// Loopback, private, link-local or unspecified: no target of a push.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified(),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_local(IpAddr::V4(v4)),
            None => {
                ip.is_loopback() || ip.is_unspecified() || ip.is_unique_local() || ip.is_unicast_link_local()
            }
        },
    }
}

/// Looks names up as the system does and keeps only the public addresses:
/// a target whose name resolves to local ones only cannot be reached (a
/// registered "push service" must not make the server call its own network).
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|addr| !is_local(addr.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} resolves to local addresses only", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client every provider uses: bounded time, no redirects (a
/// target could otherwise bounce the server somewhere it was not allowed)
/// and, unless `allow_local`, public addresses only.
pub fn client(timeout: Duration, allow_local: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none());
    let builder = if allow_local { builder } else { builder.dns_resolver(PublicAddressesOnly) };
    builder.build().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_to_local_addresses_only_is_not_looked_up_for_a_push() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap_or_else(|_| unreachable!());
        let refused = PublicAddressesOnly.resolve(name).await;
        assert!(refused.is_err_and(|err| err.to_string().contains("local addresses only")));
        assert!(is_local("::ffff:10.0.0.1".parse().unwrap_or_else(|_| unreachable!())));
        assert!(!is_local("93.184.216.34".parse().unwrap_or_else(|_| unreachable!())));
    }

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
