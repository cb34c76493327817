//! `[files.s3]`: the S3-compatible bucket (Garage, AWS S3, any other) that
//! holds file chunks when `files.backend = "s3"`, and how fast a call to it
//! gives up (object_store's defaults retry a dead store for minutes).

use serde::{Deserialize, Serialize};

use super::Secret;
use super::load::{ConfigError, ensure};

/// Where and how to reach the bucket that holds file blobs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// The store's base URL as the gateway reaches it (`http://garage:3900`);
    /// unset for AWS S3 itself, found by the region.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The base URL clients reach the store at, when it differs from
    /// `endpoint` (compose: `garage:3900` inside, a public name outside).
    /// Presigned URLs are signed for this host.
    #[serde(default)]
    pub public_endpoint: Option<String>,
    pub bucket: String,
    /// Garage's is `garage` (its `s3_region`); AWS's is the bucket's.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// `endpoint/bucket/key` URLs rather than `bucket.endpoint/key`: what
    /// Garage and most self-hosted stores serve without wildcard DNS.
    #[serde(default = "path_style_default")]
    pub path_style: bool,
    #[serde(default)]
    pub timeouts: S3Timeouts,
}

fn path_style_default() -> bool {
    true
}

/// How long one call may take before the store counts as down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Timeouts {
    /// TCP (and TLS) connect.
    pub connect_ms: u64,
    /// Silence while waiting for an answer or its next bytes: a frozen store
    /// is noticed this soon, while a long body still streams.
    pub read_ms: u64,
    /// One whole request, body included.
    pub request_secs: u64,
    /// Retries of a failed request (connect errors, 5xx, timeouts) ...
    pub max_retries: usize,
    /// ... none begun after this long since the first attempt.
    pub retry_window_ms: u64,
}

impl Default for S3Timeouts {
    fn default() -> Self {
        Self { connect_ms: 1_000, read_ms: 2_000, request_secs: 30, max_retries: 2, retry_window_ms: 2_000 }
    }
}

impl S3Settings {
    /// The URL clients reach the store at.
    pub fn public_endpoint(&self) -> Option<&str> {
        self.public_endpoint.as_deref().or(self.endpoint.as_deref())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, url) in
            [("files.s3.endpoint", &self.endpoint), ("files.s3.public_endpoint", &self.public_endpoint)]
        {
            ensure(
                url.as_deref().is_none_or(|url| {
                    reqwest::Url::parse(url)
                        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
                }),
                name,
                "must be an http:// or https:// URL",
            )?;
        }
        for (name, value) in [
            ("files.s3.bucket", &self.bucket),
            ("files.s3.region", &self.region),
            ("files.s3.access_key_id", &self.access_key_id),
        ] {
            ensure(!value.trim().is_empty(), name, "must not be empty")?;
        }
        ensure(
            !self.secret_access_key.expose().is_empty(),
            "files.s3.secret_access_key",
            "must not be empty",
        )?;
        let t = self.timeouts;
        ensure(t.connect_ms > 0, "files.s3.timeouts.connect_ms", "must be positive")?;
        ensure(t.read_ms > 0, "files.s3.timeouts.read_ms", "must be positive")?;
        ensure(t.request_secs > 0, "files.s3.timeouts.request_secs", "must be positive")
    }
}
