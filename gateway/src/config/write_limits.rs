//! `[write_limits]`: token buckets on writes and WebSocket frames, kept in
//! each gateway's memory (see `throttle`), and the proxies trusted to name the client.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::load::ConfigError;

/// Per minute, the burst being the same number; 0 = no limit. Switched off
/// with the other limits (`rate_limits.mode`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteLimitsConfig {
    pub send_per_user: u32,
    pub send_per_ip: u32,
    pub edit_per_user: u32,
    pub edit_per_ip: u32,
    pub room_create_per_user: u32,
    pub room_create_per_ip: u32,
    pub membership_per_user: u32,
    pub membership_per_ip: u32,
    pub receipt_per_user: u32,
    pub receipt_per_ip: u32,
    pub write_per_user: u32,
    pub write_per_ip: u32,
    pub typing_per_user: u32,
    pub typing_per_ip: u32,
    pub presence_per_user: u32,
    pub presence_per_ip: u32,
    pub signal_per_user: u32,
    pub signal_per_ip: u32,
    /// Co-watch playback frames (each fans out to the room).
    pub playback_per_user: u32,
    pub playback_per_ip: u32,
    pub frame_per_user: u32,
    pub frame_per_ip: u32,
    pub ws_connect_per_user: u32,
    pub ws_connect_per_ip: u32,
    pub ws_ticket_per_user: u32,
    pub ws_ticket_per_ip: u32,
    pub prekey_claim_per_user: u32,
    pub prekey_claim_per_ip: u32,
    /// Prekey bundles claimed from one user per minute, whoever asks.
    pub prekey_claim_per_target: u32,
    pub to_device_per_user: u32,
    pub to_device_per_ip: u32,
    /// Comma-separated addresses or CIDRs of proxies whose `X-Forwarded-For`
    /// names the client (for these limits and the authentication ones).
    pub trusted_proxies: String,
}

impl Default for WriteLimitsConfig {
    fn default() -> Self {
        Self {
            send_per_user: 600,
            send_per_ip: 6000,
            edit_per_user: 120,
            edit_per_ip: 1200,
            room_create_per_user: 30,
            room_create_per_ip: 300,
            membership_per_user: 120,
            membership_per_ip: 1200,
            receipt_per_user: 600,
            receipt_per_ip: 6000,
            write_per_user: 120,
            write_per_ip: 1200,
            typing_per_user: 120,
            typing_per_ip: 1200,
            presence_per_user: 300,
            presence_per_ip: 3000,
            signal_per_user: 600,
            signal_per_ip: 6000,
            playback_per_user: 120,
            playback_per_ip: 1200,
            frame_per_user: 3000,
            frame_per_ip: 30000,
            ws_connect_per_user: 60,
            ws_connect_per_ip: 600,
            ws_ticket_per_user: 60,
            ws_ticket_per_ip: 600,
            prekey_claim_per_user: 120,
            prekey_claim_per_ip: 1200,
            prekey_claim_per_target: 300,
            to_device_per_user: 120,
            to_device_per_ip: 1200,
            trusted_proxies: String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("write_limits.trusted_proxies: {0:?} is not an address or CIDR")]
pub struct BadProxy(String);

impl WriteLimitsConfig {
    /// The proxies trusted to name the client: a comma-separated list of
    /// addresses and CIDR blocks.
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, BadProxy> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| BadProxy(entry.to_owned()))
            })
            .collect()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.trusted_proxies()
            .map(drop)
            .map_err(|err| ConfigError::invalid("write_limits.trusted_proxies", &err.to_string()))
    }
}
