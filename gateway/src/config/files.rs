//! `[files]`: where encrypted file chunks are stored, the limits of an
//! upload, and how long the URLs handed out for chunks live.

use std::time::Duration;

use ciphertalk_domain::file::{FileLimits, MAX_CHUNK_COUNT};
use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::{ConfigError, ensure};

/// Where chunks are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Files under `<data_dir>/files`, served through HMAC-signed gateway URLs.
    Local,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    pub backend: StorageBackend,
    /// Largest file, in bytes.
    pub max_file_bytes: u64,
    /// Largest chunk, in bytes (a chunk PUT is streamed, never held whole).
    pub max_chunk_bytes: u64,
    /// Most chunks of one file.
    pub max_chunk_count: u32,
    /// Most bytes one user's live files may declare together.
    pub max_user_bytes: u64,
    /// Longest life a file may ask for; 0 = files may live forever.
    pub max_expiry_secs: u64,
    /// How long an upload or download URL stays valid.
    pub url_lifetime_secs: u64,
    /// How often the sweeper looks for expired files.
    pub sweep_every_secs: u64,
    /// HMAC key of gateway chunk URLs; unset = generated into `<data_dir>/files-url-key`.
    pub url_key: Option<Secret>,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            max_file_bytes: 2048 << 20,
            max_chunk_bytes: 16 << 20,
            max_chunk_count: MAX_CHUNK_COUNT,
            max_user_bytes: 10_240 << 20,
            max_expiry_secs: 0,
            url_lifetime_secs: 300,
            sweep_every_secs: 60,
            url_key: None,
        }
    }
}

impl FilesConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.max_file_bytes > 0, "files.max_file_bytes", "must be positive")?;
        ensure(self.max_chunk_bytes > 0, "files.max_chunk_bytes", "must be positive")?;
        ensure(
            (1..=MAX_CHUNK_COUNT).contains(&self.max_chunk_count),
            "files.max_chunk_count",
            "must be between 1 and 65536",
        )?;
        ensure(self.url_lifetime_secs > 0, "files.url_lifetime_secs", "must be positive")?;
        ensure(self.sweep_every_secs > 0, "files.sweep_every_secs", "must be positive")?;
        ensure(
            self.url_key.as_ref().is_none_or(|key| key.expose().len() >= 32),
            "files.url_key",
            "must be at least 32 bytes",
        )
    }

    /// The limits a registration is decided under.
    pub fn limits(&self) -> FileLimits {
        FileLimits {
            max_size: self.max_file_bytes,
            max_chunk_size: self.max_chunk_bytes,
            max_user_bytes: self.max_user_bytes,
            max_expiry: (self.max_expiry_secs > 0)
                .then(|| chrono::TimeDelta::seconds(i64::try_from(self.max_expiry_secs).unwrap_or(i64::MAX))),
        }
    }

    pub fn url_lifetime(&self) -> Duration {
        Duration::from_secs(self.url_lifetime_secs)
    }

    pub fn sweep_every(&self) -> Duration {
        Duration::from_secs(self.sweep_every_secs)
    }
}
