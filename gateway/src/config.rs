//! Configuration: an optional TOML file, overridden by environment variables
//! (`CIPHERTALK_*`, plus `DATABASE_URL` and `NATS_URL`), overridden by flags.
//! Every setting and its variable is listed in [`SETTINGS`] and the README.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::embedded::NatsOptions;

/// A value that must never be printed: connection strings with passwords,
/// signing keys. Debug and Display show only that it is set.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
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
}

/// What every committed event must fit in, and when a component that keeps
/// failing on one event is reported stalled.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Most bytes one event may take on the wire; at most the NATS server's
    /// `max_payload` (checked at start-up). Larger commands are refused (413).
    pub max_event_bytes: usize,
    /// Failed rounds at the same position after which the relay or a
    /// projector is reported on `/health` and `ciphertalk_stalled`.
    pub stall_rounds: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { max_event_bytes: ciphertalk_commands::store::DEFAULT_MAX_EVENT_BYTES, stall_rounds: 10 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomsConfig {
    /// Most members a room may have, the creator included.
    pub max_members: usize,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self { max_members: ciphertalk_domain::room::DEFAULT_MAX_MEMBERS }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagesConfig {
    /// Largest message ciphertext, in decoded bytes.
    pub max_ciphertext_bytes: usize,
    /// HMAC key for franking reporting tags; unset = generated into `<data_dir>/franking-key`.
    pub franking_key: Option<Secret>,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self { max_ciphertext_bytes: 64 * 1024, franking_key: None }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamsConfig {
    pub replicas: usize,
    pub events_max_age_secs: u64,
    pub duplicate_window_secs: u64,
    pub delivery_max_age_secs: u64,
    pub notify_max_age_secs: u64,
    pub presence_max_age_secs: u64,
    pub max_consumers: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    pub nats_server: Option<PathBuf>,
    pub postgres_bin_dir: Option<PathBuf>,
    /// 0 = a free port at each start.
    pub nats_port: u16,
    pub postgres_port: u16,
    /// `GOGC` of the embedded nats-server; 0 = nats-server's own.
    pub nats_gogc: u32,
    /// `max_payload` of the embedded nats-server.
    pub nats_max_payload: usize,
    /// The embedded Postgres ends a session idle inside a transaction for
    /// this long (it holds the relay back); 0 = never.
    pub postgres_idle_in_transaction_timeout_secs: u64,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            nats_server: None,
            postgres_bin_dir: None,
            nats_port: 0,
            postgres_port: 0,
            nats_gogc: NatsOptions::DEFAULT_GOGC,
            nats_max_payload: NatsOptions::DEFAULT_MAX_PAYLOAD,
            postgres_idle_in_transaction_timeout_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriteConfig {
    pub snapshot_every: usize,
    pub command_attempts: u32,
    pub aggregate_cache: usize,
    pub max_batch: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    pub batch_size: i64,
    pub idle_poll_ms: u64,
    /// Held back by an older transaction this long, the relay logs the
    /// backend holding it and reports itself on `/health`.
    pub held_back_alarm_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectionsConfig {
    /// Run the projectors in this process (several processes may; one applies at a time).
    pub run: bool,
    pub batch_size: usize,
    /// How long a projector batch waits for more events after its first.
    pub linger_ms: u64,
    /// How long a read waits for the read models to hold what it must reflect.
    pub read_your_writes_ms: u64,
    /// Sends wait (bounded by `read_your_writes_ms`) while a projection trails
    /// the stream by more events than this; 0 = never.
    pub max_backlog_events: u64,
    /// Rooms (and senders' blockers) the delivery projection keeps in memory.
    pub delivery_memory: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    /// A longer client `X-Request-Id` (or one that is not visible ASCII) is replaced.
    pub max_request_id_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 key for access tokens; unset = generated once into `<data_dir>/jwt-secret`.
    pub jwt_secret: Option<Secret>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Comma-separated emails that are instance admins.
    pub admins: String,
    pub phone_code_ttl_secs: u64,
    pub phone_code_attempts: u32,
    pub ws_ticket_ttl_secs: u64,
    /// Password hashes computed at once (each takes ~19 MiB and a core for tens of ms).
    pub max_concurrent_hashes: usize,
}

/// Where phone login codes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsMode {
    /// Print the code to the server log (development only).
    Dev,
    /// POST `{phone, code, message}` as JSON to `sms.webhook_url`.
    Webhook,
    /// Phone login is disabled (503).
    Off,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// Unset = `dev` when both NATS and Postgres are embedded, else `off`.
    pub mode: Option<SmsMode>,
    /// May carry credentials in its query string, hence a secret.
    pub webhook_url: Option<Secret>,
    pub webhook_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub one_time_pool_limit: usize,
}

/// WebSocket connections: queue, timeouts, presence.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Frames queued for one connection before it counts as slow.
    pub queue_frames: usize,
    /// How long a connection's queue may stay full before it is disconnected.
    pub slow_client_ms: u64,
    /// Close a connection from which nothing arrives for this long (the
    /// server pings at a third of it, so a live client never hits it).
    pub idle_timeout_secs: u64,
    /// An online marker outlives its connection's last heartbeat by this much.
    pub presence_ttl_secs: u64,
    /// Largest client frame accepted.
    pub max_frame_bytes: usize,
    /// Bytes of frames queued for one connection before it counts as slow.
    pub queue_bytes: usize,
    /// Open WebSockets of one user on one gateway.
    pub max_connections_per_user: usize,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            queue_frames: 1024,
            slow_client_ms: 5000,
            idle_timeout_secs: 60,
            presence_ttl_secs: 30,
            max_frame_bytes: 64 * 1024,
            queue_bytes: 4 << 20,
            max_connections_per_user: 32,
        }
    }
}

impl RealtimeConfig {
    pub fn settings(&self) -> crate::realtime::RealtimeSettings {
        crate::realtime::RealtimeSettings {
            queue_frames: self.queue_frames,
            slow_client: Duration::from_millis(self.slow_client_ms),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            presence_ttl: Duration::from_secs(self.presence_ttl_secs),
            max_frame_bytes: self.max_frame_bytes,
            queue_bytes: self.queue_bytes,
            max_connections_per_user: self.max_connections_per_user,
        }
    }
}

/// Browser clients served from other origins. None are allowed by default:
/// a browser then refuses to let another site's page read the API's answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Comma-separated origins (`https://chat.example.com`), exactly as browsers send them.
    pub allowed_origins: String,
    /// How long a browser may reuse a preflight's answer.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self { allowed_origins: String::new(), max_age_secs: 600 }
    }
}

impl CorsConfig {
    /// The allowed origins, normalized (lowercase, no trailing `/`); an entry
    /// that is not `http(s)://host[:port]` is an error naming it.
    pub fn origins(&self) -> Result<Vec<axum::http::HeaderValue>, String> {
        self.allowed_origins
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_lowercase())
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
                let valid = host
                    .is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', '*', '@', ' ']));
                match axum::http::HeaderValue::from_str(&origin) {
                    Ok(value) if valid => Ok(value),
                    _ => Err(format!("{origin:?} is not an origin like https://chat.example.com")),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    On,
    Off,
}

/// Fixed-window limits, in requests per `window_secs`, shared by all gateway
/// processes through Postgres. "Account" is the email, phone or token family.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    pub mode: Toggle,
    pub window_secs: u64,
    pub register_per_ip: u32,
    pub register_per_account: u32,
    pub login_per_ip: u32,
    pub login_per_account: u32,
    pub refresh_per_ip: u32,
    pub refresh_per_account: u32,
    pub phone_start_per_ip: u32,
    pub phone_start_per_account: u32,
    pub phone_verify_per_ip: u32,
    pub phone_verify_per_account: u32,
}

/// Token buckets on writes and WebSocket frames, kept in each gateway's
/// memory (see `throttle`): per minute, the burst being the same number;
/// 0 = no limit. Switched off with the other limits (`rate_limits.mode`).
#[derive(Debug, Clone, Deserialize)]
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
            frame_per_user: 3000,
            frame_per_ip: 30000,
            ws_connect_per_user: 60,
            ws_connect_per_ip: 600,
            ws_ticket_per_user: 60,
            ws_ticket_per_ip: 600,
            prekey_claim_per_user: 120,
            prekey_claim_per_ip: 1200,
            prekey_claim_per_target: 300,
            trusted_proxies: String::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            admins: String::new(),
            phone_code_ttl_secs: 5 * 60,
            phone_code_attempts: 3,
            ws_ticket_ttl_secs: 30,
            max_concurrent_hashes: 4,
        }
    }
}

impl AuthConfig {
    /// The admin emails, normalized like `Email::parse` does.
    pub fn admin_emails(&self) -> Vec<String> {
        self.admins.split(',').map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()).collect()
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { one_time_pool_limit: ciphertalk_domain::user::DEFAULT_PREKEY_POOL_LIMIT }
    }
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            mode: Toggle::On,
            window_secs: 60,
            register_per_ip: 10,
            register_per_account: 5,
            login_per_ip: 30,
            login_per_account: 10,
            refresh_per_ip: 120,
            refresh_per_account: 30,
            phone_start_per_ip: 10,
            phone_start_per_account: 3,
            phone_verify_per_ip: 30,
            phone_verify_per_account: 10,
        }
    }
}

impl Config {
    /// Both NATS and Postgres are started by this process (the dev setup).
    pub fn is_embedded(&self) -> bool {
        self.database_url.is_none() && self.nats_url.is_none()
    }

    pub fn sms_mode(&self) -> SmsMode {
        self.sms.mode.unwrap_or(if self.is_embedded() { SmsMode::Dev } else { SmsMode::Off })
    }
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
        }
    }
}

impl Default for StreamsConfig {
    fn default() -> Self {
        let d = ciphertalk_streams::TopologySettings::default();
        Self {
            replicas: d.replicas,
            events_max_age_secs: d.events_max_age.as_secs(),
            duplicate_window_secs: d.duplicate_window.as_secs(),
            delivery_max_age_secs: d.delivery_max_age.as_secs(),
            notify_max_age_secs: d.notify_max_age.as_secs(),
            presence_max_age_secs: d.presence_max_age.as_secs(),
            max_consumers: d.max_consumers,
        }
    }
}

impl Default for WriteConfig {
    fn default() -> Self {
        Self { snapshot_every: 1000, command_attempts: 10, aggregate_cache: 10_000, max_batch: 64 }
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self { batch_size: 1000, idle_poll_ms: 200, held_back_alarm_secs: 10 }
    }
}

impl Default for ProjectionsConfig {
    fn default() -> Self {
        Self {
            run: true,
            batch_size: 500,
            linger_ms: 2,
            read_your_writes_ms: 2000,
            max_backlog_events: 2000,
            delivery_memory: ciphertalk_projections::delivery::DEFAULT_REMEMBERED,
        }
    }
}

impl ProjectionsConfig {
    pub fn projector(&self) -> ciphertalk_projections::ProjectorOptions {
        ciphertalk_projections::ProjectorOptions {
            batch_size: self.batch_size,
            linger: Duration::from_millis(self.linger_ms),
            delivery_memory: self.delivery_memory,
            ..ciphertalk_projections::ProjectorOptions::default()
        }
    }

    pub fn read_your_writes(&self) -> Duration {
        Duration::from_millis(self.read_your_writes_ms)
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { max_body_bytes: 1 << 20, request_timeout_secs: 30, max_request_id_bytes: 64 }
    }
}

impl StreamsConfig {
    pub fn topology(&self) -> ciphertalk_streams::TopologySettings {
        ciphertalk_streams::TopologySettings {
            replicas: self.replicas,
            events_max_age: Duration::from_secs(self.events_max_age_secs),
            duplicate_window: Duration::from_secs(self.duplicate_window_secs),
            delivery_max_age: Duration::from_secs(self.delivery_max_age_secs),
            notify_max_age: Duration::from_secs(self.notify_max_age_secs),
            presence_max_age: Duration::from_secs(self.presence_max_age_secs),
            max_consumers: self.max_consumers,
        }
    }
}

/// Every setting: environment variable, path in the TOML file, meaning.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("CIPHERTALK_LISTEN", "listen", "HTTP listen address (default 127.0.0.1:8080)"),
    ("CIPHERTALK_DATA_DIR", "data_dir", "folder for embedded NATS/Postgres data and blobs (default ./data)"),
    ("DATABASE_URL", "database_url", "Postgres URL; unset = start an embedded Postgres"),
    ("NATS_URL", "nats_url", "NATS URL; unset = start an embedded nats-server"),
    ("CIPHERTALK_LOG_FORMAT", "log_format", "text or json (default text)"),
    ("CIPHERTALK_LOG", "log_filter", "tracing filter (default info)"),
    ("CIPHERTALK_DATABASE_MAX_CONNECTIONS", "database_max_connections", "Postgres pool size (default 32)"),
    (
        "CIPHERTALK_DATABASE_ACQUIRE_TIMEOUT_MS",
        "database_acquire_timeout_ms",
        "longest wait for a pooled connection; with Postgres down requests answer 503 within it (default 800)",
    ),
    ("CIPHERTALK_STREAMS_REPLICAS", "streams.replicas", "JetStream replicas (1 local, 3 in a cluster)"),
    (
        "CIPHERTALK_STREAMS_EVENTS_MAX_AGE_SECS",
        "streams.events_max_age_secs",
        "CHAT_EVENTS retention, 0 = forever",
    ),
    (
        "CIPHERTALK_STREAMS_DUPLICATE_WINDOW_SECS",
        "streams.duplicate_window_secs",
        "Nats-Msg-Id dedupe window (>= 120)",
    ),
    (
        "CIPHERTALK_STREAMS_DELIVERY_MAX_AGE_SECS",
        "streams.delivery_max_age_secs",
        "CHAT_DELIVERY retention (default 30 days)",
    ),
    (
        "CIPHERTALK_STREAMS_NOTIFY_MAX_AGE_SECS",
        "streams.notify_max_age_secs",
        "CHAT_NOTIFY retention (default 1 day)",
    ),
    (
        "CIPHERTALK_STREAMS_PRESENCE_MAX_AGE_SECS",
        "streams.presence_max_age_secs",
        "presence bucket max age (default 30 days)",
    ),
    (
        "CIPHERTALK_STREAMS_MAX_CONSUMERS",
        "streams.max_consumers",
        "consumers per stream; one per WebSocket on CHAT_DELIVERY (default 100000)",
    ),
    ("CIPHERTALK_NATS_SERVER", "embedded.nats_server", "nats-server binary for embedded mode"),
    (
        "CIPHERTALK_POSTGRES_BIN_DIR",
        "embedded.postgres_bin_dir",
        "folder with postgres and initdb for embedded mode",
    ),
    ("CIPHERTALK_EMBEDDED_NATS_PORT", "embedded.nats_port", "embedded nats-server port (0 = free port)"),
    ("CIPHERTALK_EMBEDDED_POSTGRES_PORT", "embedded.postgres_port", "embedded Postgres port (0 = free port)"),
    (
        "CIPHERTALK_EMBEDDED_NATS_GOGC",
        "embedded.nats_gogc",
        "GOGC of the embedded nats-server (default 400; 0 = its own, 100)",
    ),
    (
        "CIPHERTALK_SNAPSHOT_EVERY",
        "write.snapshot_every",
        "events between aggregate snapshots (default 1000)",
    ),
    (
        "CIPHERTALK_COMMAND_ATTEMPTS",
        "write.command_attempts",
        "tries of a conflicting command before 409 (default 10)",
    ),
    (
        "CIPHERTALK_AGGREGATE_CACHE",
        "write.aggregate_cache",
        "aggregates kept loaded in memory (default 10000)",
    ),
    (
        "CIPHERTALK_COMMAND_MAX_BATCH",
        "write.max_batch",
        "most commands on one aggregate per group commit (default 64)",
    ),
    ("CIPHERTALK_RELAY_BATCH_SIZE", "relay.batch_size", "events per relay round (default 1000)"),
    ("CIPHERTALK_RELAY_IDLE_POLL_MS", "relay.idle_poll_ms", "relay poll when idle (default 200)"),
    ("CIPHERTALK_PROJECTIONS_RUN", "projections.run", "run the projectors in this process (default true)"),
    (
        "CIPHERTALK_PROJECTIONS_BATCH_SIZE",
        "projections.batch_size",
        "events applied per projection transaction (default 500)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_LINGER_MS",
        "projections.linger_ms",
        "how long a projection batch waits for more events after its first (default 2)",
    ),
    (
        "CIPHERTALK_READ_YOUR_WRITES_MS",
        "projections.read_your_writes_ms",
        "longest wait for the read models: of a room read, of a write (other than a send), of a send held back by the backlog (default 2000)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_MAX_BACKLOG_EVENTS",
        "projections.max_backlog_events",
        "sends wait while a projection trails the stream by more events than this (default 2000, 0 = never)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_DELIVERY_MEMORY",
        "projections.delivery_memory",
        "rooms (and senders' blockers) the delivery projection keeps in memory; a batch's own are never dropped (default 100000)",
    ),
    (
        "CIPHERTALK_HTTP_MAX_BODY_BYTES",
        "http.max_body_bytes",
        "largest accepted request body (default 1 MiB)",
    ),
    (
        "CIPHERTALK_HTTP_REQUEST_TIMEOUT_SECS",
        "http.request_timeout_secs",
        "per-request timeout (default 30): 408 while the body is still arriving, else 503",
    ),
    (
        "CIPHERTALK_JWT_SECRET",
        "auth.jwt_secret",
        "HS256 access-token key (>= 32 bytes); unset = generated into <data_dir>/jwt-secret",
    ),
    ("CIPHERTALK_ACCESS_TOKEN_TTL_SECS", "auth.access_token_ttl_secs", "access token lifetime (default 900)"),
    (
        "CIPHERTALK_REFRESH_TOKEN_TTL_SECS",
        "auth.refresh_token_ttl_secs",
        "refresh token lifetime, renewed on each use (default 30 days)",
    ),
    ("CIPHERTALK_ADMINS", "auth.admins", "comma-separated emails of instance admins"),
    ("CIPHERTALK_PHONE_CODE_TTL_SECS", "auth.phone_code_ttl_secs", "phone login code lifetime (default 300)"),
    ("CIPHERTALK_PHONE_CODE_ATTEMPTS", "auth.phone_code_attempts", "tries per phone login code (default 3)"),
    ("CIPHERTALK_WS_TICKET_TTL_SECS", "auth.ws_ticket_ttl_secs", "WebSocket ticket lifetime (default 30)"),
    (
        "CIPHERTALK_MAX_CONCURRENT_HASHES",
        "auth.max_concurrent_hashes",
        "password hashes computed at once (default 4)",
    ),
    (
        "CIPHERTALK_SMS",
        "sms.mode",
        "dev (code in the server log, marked DEV SMS), webhook or off; unset = dev when embedded, else off",
    ),
    ("CIPHERTALK_SMS_WEBHOOK_URL", "sms.webhook_url", "URL that receives POST {phone, code, message}"),
    ("CIPHERTALK_SMS_WEBHOOK_TIMEOUT_SECS", "sms.webhook_timeout_secs", "SMS webhook timeout (default 10)"),
    (
        "CIPHERTALK_PREKEY_POOL_LIMIT",
        "keys.one_time_pool_limit",
        "one-time prekeys a user may keep uploaded (default 1000)",
    ),
    ("CIPHERTALK_RATE_LIMITS", "rate_limits.mode", "on or off (default on)"),
    ("CIPHERTALK_RATE_LIMIT_WINDOW_SECS", "rate_limits.window_secs", "rate-limit window (default 60)"),
    ("CIPHERTALK_RATE_LIMIT_REGISTER_PER_IP", "rate_limits.register_per_ip", "per window (default 10)"),
    (
        "CIPHERTALK_RATE_LIMIT_REGISTER_PER_ACCOUNT",
        "rate_limits.register_per_account",
        "per email per window (default 5)",
    ),
    ("CIPHERTALK_RATE_LIMIT_LOGIN_PER_IP", "rate_limits.login_per_ip", "per window (default 30)"),
    (
        "CIPHERTALK_RATE_LIMIT_LOGIN_PER_ACCOUNT",
        "rate_limits.login_per_account",
        "per email per window (default 10)",
    ),
    ("CIPHERTALK_RATE_LIMIT_REFRESH_PER_IP", "rate_limits.refresh_per_ip", "per window (default 120)"),
    (
        "CIPHERTALK_RATE_LIMIT_REFRESH_PER_ACCOUNT",
        "rate_limits.refresh_per_account",
        "per token family per window (default 30)",
    ),
    ("CIPHERTALK_RATE_LIMIT_PHONE_START_PER_IP", "rate_limits.phone_start_per_ip", "per window (default 10)"),
    (
        "CIPHERTALK_RATE_LIMIT_PHONE_START_PER_ACCOUNT",
        "rate_limits.phone_start_per_account",
        "per phone number per window (default 3)",
    ),
    (
        "CIPHERTALK_RATE_LIMIT_PHONE_VERIFY_PER_IP",
        "rate_limits.phone_verify_per_ip",
        "per window (default 30)",
    ),
    (
        "CIPHERTALK_RATE_LIMIT_PHONE_VERIFY_PER_ACCOUNT",
        "rate_limits.phone_verify_per_account",
        "per phone number per window (default 10)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SEND_PER_USER",
        "write_limits.send_per_user",
        "message sends per user per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SEND_PER_IP",
        "write_limits.send_per_ip",
        "message sends per client IP per minute (default 6000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_EDIT_PER_USER",
        "write_limits.edit_per_user",
        "message edits and deletions per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_EDIT_PER_IP",
        "write_limits.edit_per_ip",
        "message edits and deletions per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_ROOM_CREATE_PER_USER",
        "write_limits.room_create_per_user",
        "rooms created per user per minute (default 30, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_ROOM_CREATE_PER_IP",
        "write_limits.room_create_per_ip",
        "rooms created per client IP per minute (default 300, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_MEMBERSHIP_PER_USER",
        "write_limits.membership_per_user",
        "joins, leaves, member and room changes per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_MEMBERSHIP_PER_IP",
        "write_limits.membership_per_ip",
        "joins, leaves, member and room changes per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_RECEIPT_PER_USER",
        "write_limits.receipt_per_user",
        "read receipts per user per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_RECEIPT_PER_IP",
        "write_limits.receipt_per_ip",
        "read receipts per client IP per minute (default 6000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WRITE_PER_USER",
        "write_limits.write_per_user",
        "other writes (profile, settings, contacts, blocks, keys, inbox acks, logout) per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WRITE_PER_IP",
        "write_limits.write_per_ip",
        "other writes (profile, settings, contacts, blocks, keys, inbox acks, logout) per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_TYPING_PER_USER",
        "write_limits.typing_per_user",
        "typing frames per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_TYPING_PER_IP",
        "write_limits.typing_per_ip",
        "typing frames per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PRESENCE_PER_USER",
        "write_limits.presence_per_user",
        "presence frames per user per minute (default 300, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PRESENCE_PER_IP",
        "write_limits.presence_per_ip",
        "presence frames per client IP per minute (default 3000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SIGNAL_PER_USER",
        "write_limits.signal_per_user",
        "signal frames per user per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SIGNAL_PER_IP",
        "write_limits.signal_per_ip",
        "signal frames per client IP per minute (default 6000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_FRAME_PER_USER",
        "write_limits.frame_per_user",
        "other WebSocket frames (acks, pings) per user per minute (default 3000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_FRAME_PER_IP",
        "write_limits.frame_per_ip",
        "other WebSocket frames (acks, pings) per client IP per minute (default 30000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_CONNECT_PER_USER",
        "write_limits.ws_connect_per_user",
        "WebSocket connections opened per user per minute (default 60, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_CONNECT_PER_IP",
        "write_limits.ws_connect_per_ip",
        "WebSocket connections opened per client IP per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_TICKET_PER_USER",
        "write_limits.ws_ticket_per_user",
        "WebSocket tickets issued per user per minute (default 60, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_TICKET_PER_IP",
        "write_limits.ws_ticket_per_ip",
        "WebSocket tickets issued per client IP per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PREKEY_CLAIM_PER_USER",
        "write_limits.prekey_claim_per_user",
        "prekey bundles claimed per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PREKEY_CLAIM_PER_IP",
        "write_limits.prekey_claim_per_ip",
        "prekey bundles claimed per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PREKEY_CLAIM_PER_TARGET",
        "write_limits.prekey_claim_per_target",
        "prekey bundles claimed from one user per minute (default 300, 0 = no limit)",
    ),
    (
        "CIPHERTALK_TRUSTED_PROXIES",
        "write_limits.trusted_proxies",
        "comma-separated proxy addresses/CIDRs whose X-Forwarded-For names the client (default none)",
    ),
    (
        "CIPHERTALK_MAX_CIPHERTEXT_BYTES",
        "messages.max_ciphertext_bytes",
        "largest message ciphertext in decoded bytes (default 65536)",
    ),
    (
        "CIPHERTALK_FRANKING_KEY",
        "messages.franking_key",
        "HMAC key for message reporting tags (>= 32 bytes); unset = generated into <data_dir>/franking-key",
    ),
    ("CIPHERTALK_WS_QUEUE_FRAMES", "realtime.queue_frames", "frames queued per WebSocket (default 1024)"),
    (
        "CIPHERTALK_WS_SLOW_CLIENT_MS",
        "realtime.slow_client_ms",
        "a WebSocket whose queue stays full this long is disconnected (default 5000)",
    ),
    (
        "CIPHERTALK_WS_IDLE_TIMEOUT_SECS",
        "realtime.idle_timeout_secs",
        "close a silent WebSocket after this long (default 60)",
    ),
    (
        "CIPHERTALK_PRESENCE_TTL_SECS",
        "realtime.presence_ttl_secs",
        "online marker lifetime after the last heartbeat (default 30)",
    ),
    ("CIPHERTALK_WS_MAX_FRAME_BYTES", "realtime.max_frame_bytes", "largest client frame (default 65536)"),
    (
        "CIPHERTALK_HTTP_MAX_REQUEST_ID_BYTES",
        "http.max_request_id_bytes",
        "a client X-Request-Id longer than this or not visible ASCII is replaced by a fresh one (default 64)",
    ),
    (
        "CIPHERTALK_MAX_EVENT_BYTES",
        "events.max_event_bytes",
        "most bytes one event takes on the wire, at most NATS's max_payload; larger commands get 413 (default 983040)",
    ),
    (
        "CIPHERTALK_STALL_ROUNDS",
        "events.stall_rounds",
        "failed rounds at one position before the relay or a projector is reported stalled (default 10)",
    ),
    (
        "CIPHERTALK_ROOM_MAX_MEMBERS",
        "rooms.max_members",
        "most members of a room, creator included (default 10000)",
    ),
    (
        "CIPHERTALK_RELAY_HELD_BACK_ALARM_SECS",
        "relay.held_back_alarm_secs",
        "held back this long by an older transaction, the relay logs its holder and shows on /health (default 10)",
    ),
    (
        "CIPHERTALK_EMBEDDED_NATS_MAX_PAYLOAD",
        "embedded.nats_max_payload",
        "max_payload of the embedded nats-server (default 1048576)",
    ),
    (
        "CIPHERTALK_EMBEDDED_POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_SECS",
        "embedded.postgres_idle_in_transaction_timeout_secs",
        "idle_in_transaction_session_timeout of the embedded Postgres (default 60, 0 = off)",
    ),
    (
        "CIPHERTALK_WS_QUEUE_BYTES",
        "realtime.queue_bytes",
        "bytes of frames queued per WebSocket before it counts as slow (default 4 MiB)",
    ),
    (
        "CIPHERTALK_WS_MAX_CONNECTIONS_PER_USER",
        "realtime.max_connections_per_user",
        "open WebSockets of one user on one gateway; more are refused 429 (default 32)",
    ),
    (
        "CIPHERTALK_CORS_ALLOWED_ORIGINS",
        "cors.allowed_origins",
        "comma-separated origins whose browser pages may call the API (default none)",
    ),
    (
        "CIPHERTALK_CORS_MAX_AGE_SECS",
        "cors.max_age_secs",
        "how long a browser caches a preflight (default 600)",
    ),
];

/// Variables that are not settings but are read elsewhere (scripts, tools).
const OTHER_VARIABLES: &[&str] = &["CIPHERTALK_CONFIG", "CIPHERTALK_TOOLS_DIR"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{0}: unknown setting (see `ciphertalk serve --help` and the README for the list)")]
    Unknown(String),
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

impl Config {
    /// File (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Parse { path: path.to_owned(), source: Box::new(e) })?
            }
        };
        for (name, value) in env {
            if !(name.starts_with("CIPHERTALK_") || name == "DATABASE_URL" || name == "NATS_URL") {
                continue;
            }
            match SETTINGS.iter().find(|(var, _, _)| *var == name) {
                Some((_, path, _)) => set_path(&mut table, path, &value),
                None if OTHER_VARIABLES.contains(&name.as_str()) => {}
                None => return Err(ConfigError::Unknown(name)),
            }
        }
        let config: Config = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            ConfigError::Invalid { name: "configuration".into(), message: e.message().to_owned() }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |name: &str, message: &str| ConfigError::Invalid { name: name.into(), message: message.into() };
        if self.streams.duplicate_window_secs < 120 {
            return Err(invalid("streams.duplicate_window_secs", "must be at least 120"));
        }
        if self.streams.max_consumers <= 0 {
            return Err(invalid("streams.max_consumers", "must be positive"));
        }
        if self.streams.replicas == 0 || self.streams.replicas > 5 {
            return Err(invalid("streams.replicas", "must be 1 to 5"));
        }
        if self.write.snapshot_every == 0 || self.write.command_attempts == 0 || self.write.max_batch == 0 {
            return Err(invalid("write", "snapshot_every and command_attempts must be positive"));
        }
        if self.projections.batch_size == 0 {
            return Err(invalid("projections.batch_size", "must be positive"));
        }
        if self.relay.batch_size <= 0 {
            return Err(invalid("relay.batch_size", "must be positive"));
        }
        if self.auth.jwt_secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
            return Err(invalid("auth.jwt_secret", "must be at least 32 bytes"));
        }
        if self.auth.access_token_ttl_secs == 0
            || self.auth.refresh_token_ttl_secs == 0
            || self.auth.phone_code_ttl_secs == 0
            || self.auth.phone_code_attempts == 0
            || self.auth.ws_ticket_ttl_secs == 0
            || self.auth.max_concurrent_hashes == 0
        {
            return Err(invalid("auth", "lifetimes, attempts and max_concurrent_hashes must be positive"));
        }
        if self.messages.franking_key.as_ref().is_some_and(|s| s.expose().len() < 32) {
            return Err(invalid("messages.franking_key", "must be at least 32 bytes"));
        }
        if self.messages.max_ciphertext_bytes == 0 {
            return Err(invalid("messages.max_ciphertext_bytes", "must be positive"));
        }
        let realtime = &self.realtime;
        if realtime.queue_frames == 0
            || realtime.idle_timeout_secs == 0
            || realtime.presence_ttl_secs < 3
            || realtime.max_frame_bytes == 0
            || realtime.queue_bytes == 0
            || realtime.max_connections_per_user == 0
        {
            return Err(invalid(
                "realtime",
                "queue_frames, queue_bytes, max_connections_per_user, idle_timeout_secs and max_frame_bytes must be positive, presence_ttl_secs at least 3",
            ));
        }
        if self.events.max_event_bytes < 4096 || self.events.stall_rounds == 0 {
            return Err(invalid("events", "max_event_bytes must be at least 4096, stall_rounds positive"));
        }
        if self.rooms.max_members < 2 {
            return Err(invalid("rooms.max_members", "must be at least 2"));
        }
        if self.http.max_request_id_bytes == 0 {
            return Err(invalid("http.max_request_id_bytes", "must be positive"));
        }
        if self.relay.held_back_alarm_secs == 0 {
            return Err(invalid("relay.held_back_alarm_secs", "must be positive"));
        }
        if let Err(err) = crate::throttle::parse_proxies(&self.write_limits.trusted_proxies) {
            return Err(invalid("write_limits.trusted_proxies", &err.to_string()));
        }
        if self.rate_limits.window_secs == 0 {
            return Err(invalid("rate_limits.window_secs", "must be positive"));
        }
        if let Err(message) = self.cors.origins() {
            return Err(invalid("cors.allowed_origins", &message));
        }
        if self.sms_mode() == SmsMode::Webhook && self.sms.webhook_url.is_none() {
            return Err(invalid("sms.webhook_url", "is required when sms.mode is webhook"));
        }
        Ok(())
    }
}

/// Sets `a.b.c` in the table; the value is read as a TOML scalar when it is
/// one (numbers, booleans) and as a string otherwise.
fn set_path(table: &mut toml::Table, path: &str, raw: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        let entry = current.entry(part.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else { return };
        current = next;
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    current.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_embedded_on_loopback() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.database_url.is_none() && config.nats_url.is_none());
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ciphertalk.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\n[streams]\nreplicas = 3\n").unwrap();
        let config = Config::load_from(
            Some(&path),
            env(&[("CIPHERTALK_STREAMS_REPLICAS", "1"), ("DATABASE_URL", "postgres://u:pw@db/x")]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.streams.replicas, 1);
        assert_eq!(config.database_url.unwrap().expose(), "postgres://u:pw@db/x");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::load_from(None, env(&[("DATABASE_URL", "postgres://u:hunter2@db/x")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        assert!(matches!(
            Config::load_from(None, env(&[("CIPHERTALK_LISTN", "x")])),
            Err(ConfigError::Unknown(_))
        ));
        assert!(Config::load_from(None, env(&[("CIPHERTALK_STREAMS_REPLICAS", "many")])).is_err());
        assert!(Config::load_from(None, env(&[("CIPHERTALK_STREAMS_DUPLICATE_WINDOW_SECS", "10")])).is_err());
    }

    #[test]
    fn cors_origins_are_normalized_and_anything_else_is_refused() {
        let config = Config::load_from(
            None,
            env(&[("CIPHERTALK_CORS_ALLOWED_ORIGINS", " https://Chat.example.com/, http://localhost:5173")]),
        )
        .unwrap();
        assert_eq!(config.cors.origins().unwrap(), ["https://chat.example.com", "http://localhost:5173"]);
        assert!(Config::load_from(None, env(&[])).unwrap().cors.origins().unwrap().is_empty());
        for bad in ["*", "chat.example.com", "https://chat.example.com/app", "https://"] {
            assert!(
                Config::load_from(None, env(&[("CIPHERTALK_CORS_ALLOWED_ORIGINS", bad)])).is_err(),
                "{bad} was accepted"
            );
        }
    }
}

#[cfg(test)]
mod documented {
    /// The README's configuration table must list every setting the code reads.
    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
        for (var, key, _) in super::SETTINGS {
            assert!(
                readme.contains(&format!("| `{var}` | `{key}` |")),
                "README.md does not document {var} ({key})"
            );
        }
    }
}
