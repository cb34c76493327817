//! `[embedded]`: the nats-server and Postgres this process starts when no
//! URL is configured (`embedded::NatsOptions` and `PostgresOptions` are built from it).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
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

impl EmbeddedConfig {
    /// Measured (team scenario, three pairs of runs): end-to-end p99 77 -> 33
    /// ms, mostly the first second of load, when a small heap made
    /// nats-server collect again and again; its memory 100 -> 200 MB.
    pub const DEFAULT_NATS_GOGC: u32 = 400;

    /// nats-server's own default, 1 MiB, made explicit.
    pub const DEFAULT_NATS_MAX_PAYLOAD: usize = 1024 * 1024;
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            nats_server: None,
            postgres_bin_dir: None,
            nats_port: 0,
            postgres_port: 0,
            nats_gogc: Self::DEFAULT_NATS_GOGC,
            nats_max_payload: Self::DEFAULT_NATS_MAX_PAYLOAD,
            postgres_idle_in_transaction_timeout_secs: 60,
        }
    }
}
