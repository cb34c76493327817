//! Rate limits on writes and WebSocket frames: a token bucket per user and
//! per client IP for each kind of action, in this gateway's memory (a limit
//! per gateway is enough here; the authentication limits, which must hold
//! cluster-wide, are counted in Postgres by `auth::rate_limit`).
//!
//! Checking is a hash lookup and an atomic update, cheap enough for the send
//! path. Buckets that have refilled are forgotten every [`CLEANUP_EVERY`], so
//! memory follows the users and addresses active in the last minute or so.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use ciphertalk_domain::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use tokio_util::sync::CancellationToken;

use crate::config::{BadProxy, Toggle, WriteLimitsConfig};

/// How often buckets back at full are dropped.
const CLEANUP_EVERY: Duration = Duration::from_secs(30);

/// What is limited; each has a bucket per user and one per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Send,
    /// Editing or deleting a message.
    Edit,
    RoomCreate,
    /// Joins, leaves, member and room changes.
    Membership,
    Receipt,
    /// Any other write (profile, settings, contacts, keys, ...).
    Write,
    Typing,
    Presence,
    /// Call signals (WebSocket frames and `/v1/webrtc/{offer,answer,candidate}`).
    Signal,
    /// Co-watch playback frames, which fan out to the room.
    Playback,
    /// Any other WebSocket frame (acks, pings).
    Frame,
    WsConnect,
    WsTicket,
    PrekeyClaim,
    /// To-device batches.
    ToDevice,
}

const ACTIONS: usize = 15;

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Edit => "edit",
            Self::RoomCreate => "room_create",
            Self::Membership => "membership",
            Self::Receipt => "receipt",
            Self::Write => "write",
            Self::Typing => "typing",
            Self::Presence => "presence",
            Self::Signal => "signal",
            Self::Playback => "playback",
            Self::Frame => "frame",
            Self::WsConnect => "ws_connect",
            Self::WsTicket => "ws_ticket",
            Self::PrekeyClaim => "prekey_claim",
            Self::ToDevice => "to_device",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The limited action of an HTTP route (its method and matched path), if any.
    /// Authentication routes have their own limits; the WebSocket is checked
    /// by its handler, once it knows the user.
    pub fn of_route(method: &axum::http::Method, path: &str) -> Option<Self> {
        use axum::http::Method;
        if method == Method::GET {
            let claims = matches!(
                path,
                "/v1/users/{id}/prekey-bundle" | "/v1/users/{id}/devices/{device_id}/prekey-bundle"
            );
            return claims.then_some(Self::PrekeyClaim);
        }
        if method == Method::HEAD || method == Method::OPTIONS {
            return None;
        }
        Some(match path {
            "/v1/rooms/{id}/messages" => Self::Send,
            "/v1/rooms/{id}/messages/{message_id}" => Self::Edit,
            "/v1/rooms/{id}/receipts" => Self::Receipt,
            "/v1/rooms" => Self::RoomCreate,
            "/v1/rooms/{id}"
            | "/v1/rooms/{id}/join"
            | "/v1/rooms/{id}/leave"
            | "/v1/rooms/{id}/members/{user_id}" => Self::Membership,
            "/v1/ws/ticket" => Self::WsTicket,
            "/v1/to-device" => Self::ToDevice,
            "/v1/webrtc/offer" | "/v1/webrtc/answer" | "/v1/webrtc/candidate" => Self::Signal,
            "/v1/webrtc/playback" => Self::Playback,
            "/v1/auth/register"
            | "/v1/auth/login"
            | "/v1/auth/refresh"
            | "/v1/auth/phone/start"
            | "/v1/auth/phone/verify" => return None,
            _ => Self::Write,
        })
    }
}

/// A refused action, and when it would be allowed.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    pub action: Action,
    pub retry_after: Duration,
}

impl Limited {
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

type Bucket<K> = DefaultKeyedRateLimiter<K>;

/// One action's buckets; `None` where the limit is 0 (unlimited).
struct Buckets {
    per_user: Option<Bucket<UserId>>,
    per_ip: Option<Bucket<IpAddr>>,
}

fn bucket<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<Bucket<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

/// The write and frame limits of one gateway process.
pub struct Throttle {
    enabled: bool,
    buckets: [Buckets; ACTIONS],
    /// Bundles claimed from one user, whoever asks.
    prekey_target: Option<Bucket<UserId>>,
    trusted_proxies: Vec<IpNet>,
    clock: DefaultClock,
}

impl Throttle {
    pub fn new(mode: Toggle, config: &WriteLimitsConfig) -> Result<Self, BadProxy> {
        let pair = |(user, ip): (u32, u32)| Buckets { per_user: bucket(user), per_ip: bucket(ip) };
        let c = config;
        let buckets = [
            pair((c.send_per_user, c.send_per_ip)),
            pair((c.edit_per_user, c.edit_per_ip)),
            pair((c.room_create_per_user, c.room_create_per_ip)),
            pair((c.membership_per_user, c.membership_per_ip)),
            pair((c.receipt_per_user, c.receipt_per_ip)),
            pair((c.write_per_user, c.write_per_ip)),
            pair((c.typing_per_user, c.typing_per_ip)),
            pair((c.presence_per_user, c.presence_per_ip)),
            pair((c.signal_per_user, c.signal_per_ip)),
            pair((c.playback_per_user, c.playback_per_ip)),
            pair((c.frame_per_user, c.frame_per_ip)),
            pair((c.ws_connect_per_user, c.ws_connect_per_ip)),
            pair((c.ws_ticket_per_user, c.ws_ticket_per_ip)),
            pair((c.prekey_claim_per_user, c.prekey_claim_per_ip)),
            pair((c.to_device_per_user, c.to_device_per_ip)),
        ];
        let trusted_proxies = config.trusted_proxies()?;
        Ok(Self {
            enabled: mode == Toggle::On,
            buckets,
            prekey_target: bucket(c.prekey_claim_per_target),
            trusted_proxies,
            clock: DefaultClock::default(),
        })
    }

    /// Off (`CIPHERTALK_RATE_LIMITS=off`): every check passes.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Takes one token from the user's and the address's bucket for `action`.
    pub fn check(&self, action: Action, user: Option<UserId>, ip: Option<IpAddr>) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        let buckets = &self.buckets[action.index()];
        if let (Some(bucket), Some(user)) = (&buckets.per_user, user) {
            self.take(bucket, &user, action, "user")?;
        }
        if let (Some(bucket), Some(ip)) = (&buckets.per_ip, ip) {
            self.take(bucket, &bucket_address(ip), action, "ip")?;
        }
        Ok(())
    }

    /// Takes one token from the bucket of prekey bundles claimed from `target`.
    pub fn check_prekey_target(&self, target: UserId) -> Result<(), Limited> {
        match (&self.prekey_target, self.enabled) {
            (Some(bucket), true) => self.take(bucket, &target, Action::PrekeyClaim, "target"),
            _ => Ok(()),
        }
    }

    fn take<K: std::hash::Hash + Eq + Clone>(
        &self,
        bucket: &Bucket<K>,
        key: &K,
        action: Action,
        scope: &'static str,
    ) -> Result<(), Limited> {
        bucket.check_key(key).map_err(|not_until| {
            metrics::counter!("ciphertalk_rate_limit_refusals_total", "action" => action.name(), "scope" => scope)
                .increment(1);
            Limited { action, retry_after: not_until.wait_time_from(self.clock.now()) }
        })
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the rightmost `X-Forwarded-For` entry that is not one (the
    /// entries left of it were written by the client and prove nothing).
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        let mut client = peer;
        for address in forwarded.into_iter().rev() {
            client = address;
            if !self.is_trusted(address) {
                break;
            }
        }
        Some(client)
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&address))
    }

    /// Buckets tracked now, all actions together (for the gauge).
    fn tracked(&self) -> usize {
        let per_action: usize = self
            .buckets
            .iter()
            .map(|b| b.per_user.as_ref().map_or(0, |l| l.len()) + b.per_ip.as_ref().map_or(0, |l| l.len()))
            .sum();
        per_action + self.prekey_target.as_ref().map_or(0, |l| l.len())
    }

    /// Forgets the buckets that are full again (indistinguishable from new ones).
    pub fn forget_idle(&self) {
        for buckets in &self.buckets {
            if let Some(bucket) = &buckets.per_user {
                bucket.retain_recent();
                bucket.shrink_to_fit();
            }
            if let Some(bucket) = &buckets.per_ip {
                bucket.retain_recent();
                bucket.shrink_to_fit();
            }
        }
        if let Some(bucket) = &self.prekey_target {
            bucket.retain_recent();
            bucket.shrink_to_fit();
        }
        metrics::gauge!("ciphertalk_rate_limit_buckets").set(self.tracked() as f64);
    }

    /// Runs [`Self::forget_idle`] every [`CLEANUP_EVERY`] until `shutdown`.
    pub fn spawn_cleanup(self: &Arc<Self>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let throttle = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CLEANUP_EVERY);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = every.tick() => throttle.forget_idle(),
                }
            }
        })
    }
}

/// IPv6 clients are limited per /64: one host usually holds a whole one.
fn bucket_address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn throttle(change: impl FnOnce(&mut WriteLimitsConfig)) -> Throttle {
        let mut config = WriteLimitsConfig::default();
        change(&mut config);
        Throttle::new(Toggle::On, &config).unwrap()
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_says_when_to_retry() {
        let throttle = throttle(|c| c.send_per_user = 2);
        let user = UserId::new_v7();
        assert!(throttle.check(Action::Send, Some(user), None).is_ok());
        assert!(throttle.check(Action::Send, Some(user), None).is_ok());
        let limited = throttle.check(Action::Send, Some(user), None).unwrap_err();
        assert!(limited.retry_after_secs() >= 1 && limited.retry_after_secs() <= 30);
        // Another user, and another action, have buckets of their own.
        assert!(throttle.check(Action::Send, Some(UserId::new_v7()), None).is_ok());
        assert!(throttle.check(Action::Edit, Some(user), None).is_ok());
    }

    #[test]
    fn off_means_no_limit() {
        let mut config = WriteLimitsConfig { send_per_user: 1, ..WriteLimitsConfig::default() };
        config.send_per_ip = 1;
        let throttle = Throttle::new(Toggle::Off, &config).unwrap();
        for _ in 0..10 {
            assert!(throttle.check(Action::Send, Some(UserId::new_v7()), "10.0.0.1".parse().ok()).is_ok());
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let throttle = throttle(|c| c.trusted_proxies = "10.0.0.0/8, 192.0.2.7".into());
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.4, 10.1.2.3".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(throttle.client_ip(ip("10.0.0.1"), &headers), ip("198.51.100.4"));
        assert_eq!(throttle.client_ip(ip("192.0.2.7"), &headers), ip("198.51.100.4"));
        assert_eq!(throttle.client_ip(ip("198.51.100.1"), &headers), ip("198.51.100.1"));
        assert_eq!(throttle.client_ip(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        assert!(
            Throttle::new(
                Toggle::On,
                &WriteLimitsConfig { trusted_proxies: "nope".into(), ..Default::default() }
            )
            .is_err()
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a = bucket_address("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = bucket_address("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, bucket_address("2001:db8:1:3::1".parse().unwrap()));
    }

    #[test]
    fn forgetting_keeps_only_buckets_in_use() {
        let throttle = throttle(|c| c.send_per_user = 600);
        throttle.check(Action::Send, Some(UserId::new_v7()), None).unwrap();
        assert_eq!(throttle.tracked(), 1);
        // A bucket one token short of full is still tracked.
        throttle.forget_idle();
        assert_eq!(throttle.tracked(), 1);
    }

    #[test]
    fn routes_map_to_their_action() {
        use axum::http::Method;
        assert_eq!(Action::of_route(&Method::POST, "/v1/rooms/{id}/messages"), Some(Action::Send));
        assert_eq!(Action::of_route(&Method::GET, "/v1/rooms/{id}/messages"), None);
        assert_eq!(
            Action::of_route(&Method::DELETE, "/v1/rooms/{id}/messages/{message_id}"),
            Some(Action::Edit)
        );
        assert_eq!(Action::of_route(&Method::GET, "/v1/users/{id}/prekey-bundle"), Some(Action::PrekeyClaim));
        assert_eq!(Action::of_route(&Method::POST, "/v1/auth/login"), None);
        assert_eq!(Action::of_route(&Method::PATCH, "/v1/users/me"), Some(Action::Write));
        assert_eq!(Action::of_route(&Method::POST, "/v1/to-device"), Some(Action::ToDevice));
        assert_eq!(Action::of_route(&Method::POST, "/v1/webrtc/candidate"), Some(Action::Signal));
        assert_eq!(Action::of_route(&Method::POST, "/v1/webrtc/playback"), Some(Action::Playback));
        assert_eq!(Action::of_route(&Method::GET, "/v1/webrtc/turn"), None);
    }
}
