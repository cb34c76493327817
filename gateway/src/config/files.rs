//! `[files]`: where encrypted file chunks are stored, the limits of an
//! upload, and how long the URLs handed out for chunks live.

use std::time::Duration;

use ciphertalk_domain::file::{FileLimits, MAX_CHUNK_COUNT};
use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};
use super::{S3Settings, Secret};

/// Where chunks are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Files under `<data_dir>/files`, served through HMAC-signed gateway URLs.
    Local,
    /// An S3-compatible bucket (`[files.s3]`): chunks arrive as `s3_uploads`
    /// says, and are downloaded with presigned GETs straight from the store.
    S3,
}

/// How chunks reach an S3 bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum S3Uploads {
    /// Through the gateway's signed URLs, streamed on to the bucket while
    /// their size and SHA-256 are checked, recorded when the PUT answers.
    #[default]
    Gateway,
    /// Straight to the bucket with presigned PUTs bound to each chunk's
    /// declared SHA-256 (so `chunk_sha256` is required), recorded when the
    /// client confirms the chunk and the gateway found it in the bucket.
    Presigned,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    pub backend: StorageBackend,
    /// How chunks reach the `s3` backend (the local one always takes gateway uploads).
    pub s3_uploads: S3Uploads,
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
    /// The bucket of the `s3` backend.
    pub s3: Option<S3Settings>,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            s3_uploads: S3Uploads::Gateway,
            max_file_bytes: 2048 << 20,
            max_chunk_bytes: 16 << 20,
            max_chunk_count: MAX_CHUNK_COUNT,
            max_user_bytes: 10_240 << 20,
            max_expiry_secs: 0,
            url_lifetime_secs: 300,
            sweep_every_secs: 60,
            url_key: None,
            s3: None,
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
        )?;
        ensure(
            self.backend == StorageBackend::S3 || self.s3_uploads == S3Uploads::Gateway,
            "files.s3_uploads",
            "presigned uploads need files.backend = \"s3\"",
        )?;
        match (self.backend, &self.s3) {
            (StorageBackend::S3, Some(s3)) => s3.validate(),
            (StorageBackend::S3, None) => Err(ConfigError::invalid(
                "files.s3",
                "the s3 backend needs its bucket: set [files.s3] (or the CIPHERTALK_FILES_S3_* variables)",
            )),
            (StorageBackend::Local, Some(_)) => Err(ConfigError::invalid(
                "files.s3",
                "is set but files.backend is local: set files.backend = \"s3\" or remove it",
            )),
            (StorageBackend::Local, None) => Ok(()),
        }
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

    /// Whether chunks are PUT straight to the bucket (presigned) rather than to the gateway.
    pub fn presigned_uploads(&self) -> bool {
        self.backend == StorageBackend::S3 && self.s3_uploads == S3Uploads::Presigned
    }

    pub fn url_lifetime(&self) -> Duration {
        Duration::from_secs(self.url_lifetime_secs)
    }

    pub fn sweep_every(&self) -> Duration {
        Duration::from_secs(self.sweep_every_secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::StorageBackend;
    use crate::config::load::tests::env;
    use crate::config::{Config, ConfigError};

    const BUCKET: &[(&str, &str)] = &[
        ("CIPHERTALK_FILES_S3_ENDPOINT", "http://127.0.0.1:3900"),
        ("CIPHERTALK_FILES_S3_BUCKET", "ciphertalk-files"),
        ("CIPHERTALK_FILES_S3_REGION", "garage"),
        ("CIPHERTALK_FILES_S3_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("CIPHERTALK_FILES_S3_SECRET_ACCESS_KEY", "0123456789abcdef0123456789abcdef"),
    ];

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_from(None, env(pairs))
    }

    fn refused_setting(pairs: &[(&str, &str)]) -> String {
        match load(pairs) {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("{pairs:?} loaded: {other:?}"),
        }
    }

    #[test]
    fn the_s3_backend_loads_its_bucket_from_the_environment() {
        let pairs =
            [BUCKET, &[("CIPHERTALK_FILES_BACKEND", "s3"), ("CIPHERTALK_FILES_S3_READ_TIMEOUT_MS", "500")]];
        let config = load(&pairs.concat()).unwrap();
        assert_eq!(config.files.backend, StorageBackend::S3);
        let s3 = config.files.s3.unwrap();
        assert_eq!((s3.bucket.as_str(), s3.path_style, s3.timeouts.read_ms), ("ciphertalk-files", true, 500));
        assert_eq!(
            s3.public_endpoint(),
            Some("http://127.0.0.1:3900"),
            "clients reach the endpoint when no other is named"
        );
    }

    #[test]
    fn the_s3_backend_needs_its_section_and_a_local_one_refuses_it() {
        assert_eq!(refused_setting(&[("CIPHERTALK_FILES_BACKEND", "s3")]), "files.s3");
        assert_eq!(refused_setting(BUCKET), "files.s3", "a bucket the local backend would ignore");
        let with = |extra: (&'static str, &'static str)| {
            [BUCKET, &[("CIPHERTALK_FILES_BACKEND", "s3"), extra]].concat()
        };
        assert_eq!(
            refused_setting(&with(("CIPHERTALK_FILES_S3_ENDPOINT", "garage:3900"))),
            "files.s3.endpoint"
        );
        assert_eq!(refused_setting(&with(("CIPHERTALK_FILES_S3_BUCKET", " "))), "files.s3.bucket");
        assert_eq!(
            refused_setting(&with(("CIPHERTALK_FILES_S3_READ_TIMEOUT_MS", "0"))),
            "files.s3.timeouts.read_ms"
        );
        let without_secret: Vec<_> = with(("CIPHERTALK_FILES_S3_PATH_STYLE", "false"))
            .into_iter()
            .filter(|(name, _)| *name != "CIPHERTALK_FILES_S3_SECRET_ACCESS_KEY")
            .collect();
        assert!(load(&without_secret).is_err(), "no secret key");
    }

    #[test]
    fn presigned_uploads_are_an_s3_choice() {
        let presigned = ("CIPHERTALK_FILES_S3_UPLOADS", "presigned");
        assert_eq!(
            refused_setting(&[presigned]),
            "files.s3_uploads",
            "the local store takes no presigned PUT"
        );
        let config = load(&[BUCKET, &[("CIPHERTALK_FILES_BACKEND", "s3"), presigned]].concat()).unwrap();
        assert!(config.files.presigned_uploads());
        let config = load(&[BUCKET, &[("CIPHERTALK_FILES_BACKEND", "s3")]].concat()).unwrap();
        assert!(!config.files.presigned_uploads(), "gateway uploads by default");
    }
}
