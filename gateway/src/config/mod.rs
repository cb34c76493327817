//! Configuration: an optional TOML file, overridden by environment variables
//! (`CIPHERTALK_*`, plus `DATABASE_URL` and `NATS_URL`), overridden by flags.
//! One module per section holds its struct, defaults, checks and conversions;
//! every setting and its variable is listed in [`SETTINGS`] and docs/configuration.md.

mod auth;
mod cors;
mod embedded;
mod events;
mod files;
mod http;
mod keys;
mod load;
mod messages;
mod projections;
mod push;
mod rate_limits;
mod realtime;
mod relay;
mod rooms;
mod s3;
mod secret;
mod settings;
mod sms;
mod streams;
mod web;
mod webrtc;
mod write;
mod write_limits;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use auth::AuthConfig;
pub use cors::CorsConfig;
pub use embedded::EmbeddedConfig;
pub use events::EventsConfig;
pub use files::{FilesConfig, StorageBackend};
pub use http::HttpConfig;
pub use keys::KeysConfig;
pub use load::ConfigError;
pub use messages::MessagesConfig;
pub use projections::ProjectionsConfig;
pub use push::PushConfig;
pub use rate_limits::{RateLimitsConfig, Toggle};
pub use realtime::RealtimeConfig;
pub use relay::RelayConfig;
pub use rooms::RoomsConfig;
pub use s3::{S3Settings, S3Timeouts};
pub use secret::Secret;
pub use settings::{SETTINGS, example_toml};
pub use sms::{SmsConfig, SmsMode};
pub use streams::StreamsConfig;
pub use web::WebConfig;
pub use webrtc::WebrtcConfig;
pub use write::WriteConfig;
pub use write_limits::{BadProxy, WriteLimitsConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Use this Postgres instead of starting one.
    pub database_url: Option<Secret>,
    /// Use this NATS instead of starting one.
    pub nats_url: Option<Secret>,
    pub log_format: LogFormat,
    /// tracing filter directives, e.g. `info,ciphertalk_commands=debug`.
    pub log_filter: String,
    pub database_max_connections: u32,
    /// How long a query waits for a pooled connection (with Postgres down: the 503's delay).
    pub database_acquire_timeout_ms: u64,
    pub streams: StreamsConfig,
    pub embedded: EmbeddedConfig,
    pub write: WriteConfig,
    pub relay: RelayConfig,
    pub projections: ProjectionsConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub sms: SmsConfig,
    pub keys: KeysConfig,
    pub rate_limits: RateLimitsConfig,
    pub write_limits: WriteLimitsConfig,
    pub messages: MessagesConfig,
    pub realtime: RealtimeConfig,
    pub events: EventsConfig,
    pub rooms: RoomsConfig,
    pub cors: CorsConfig,
    pub files: FilesConfig,
    pub push: PushConfig,
    pub webrtc: WebrtcConfig,
    pub web: WebConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            nats_url: None,
            log_format: LogFormat::Text,
            log_filter: "info".to_owned(),
            database_max_connections: 32,
            database_acquire_timeout_ms: crate::db::ACQUIRE_TIMEOUT.as_millis() as u64,
            streams: StreamsConfig::default(),
            embedded: EmbeddedConfig::default(),
            write: WriteConfig::default(),
            relay: RelayConfig::default(),
            projections: ProjectionsConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            sms: SmsConfig::default(),
            keys: KeysConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            write_limits: WriteLimitsConfig::default(),
            messages: MessagesConfig::default(),
            realtime: RealtimeConfig::default(),
            events: EventsConfig::default(),
            rooms: RoomsConfig::default(),
            cors: CorsConfig::default(),
            files: FilesConfig::default(),
            push: PushConfig::default(),
            webrtc: WebrtcConfig::default(),
            web: WebConfig::default(),
        }
    }
}

impl Config {
    /// Both NATS and Postgres are started by this process (the dev setup).
    pub fn is_embedded(&self) -> bool {
        self.database_url.is_none() && self.nats_url.is_none()
    }

    pub fn sms_mode(&self) -> SmsMode {
        self.sms.mode(self.is_embedded())
    }

    /// Each section's checks; the first that fails is the error.
    fn validate(&self) -> Result<(), ConfigError> {
        self.streams.validate()?;
        self.write.validate()?;
        self.projections.validate()?;
        self.relay.validate()?;
        self.auth.validate()?;
        self.messages.validate()?;
        self.realtime.validate()?;
        self.events.validate()?;
        self.rooms.validate()?;
        self.http.validate()?;
        self.write_limits.validate()?;
        self.rate_limits.validate()?;
        self.cors.validate()?;
        self.files.validate()?;
        self.push.validate()?;
        self.webrtc.validate()?;
        self.sms.validate(self.is_embedded())
    }
}
