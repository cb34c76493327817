//! An S3-compatible store (Garage, AWS S3, any other) as `object_store` client:
//! its settings, and a client tuned so that a dead store fails within seconds
//! instead of retrying for minutes (object_store's defaults: 10 retries, 3 min).

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

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
    fn public_endpoint(&self) -> Option<&str> {
        self.public_endpoint.as_deref().or(self.endpoint.as_deref())
    }
}

/// The client the gateway reads, writes and deletes blobs with.
pub fn s3_store(cfg: &S3Settings) -> Result<AmazonS3, object_store::Error> {
    builder(cfg, cfg.endpoint.as_deref()).build()
}

/// The client that signs the URLs handed to clients (presigned PUT and GET),
/// for the host they reach the store at (`public_endpoint`, else `endpoint`).
/// It makes no requests itself.
pub fn s3_signer(cfg: &S3Settings) -> Result<AmazonS3, object_store::Error> {
    builder(cfg, cfg.public_endpoint()).build()
}

fn builder(cfg: &S3Settings, endpoint: Option<&str>) -> AmazonS3Builder {
    let t = cfg.timeouts;
    let client = ClientOptions::new()
        .with_connect_timeout(Duration::from_millis(t.connect_ms))
        .with_read_timeout(Duration::from_millis(t.read_ms))
        .with_timeout(Duration::from_secs(t.request_secs))
        // A self-hosted store on plain HTTP inside a private network (compose).
        .with_allow_http(endpoint.is_some_and(|url| url.starts_with("http://")));
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
        },
        max_retries: t.max_retries,
        retry_timeout: Duration::from_millis(t.retry_window_ms),
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&cfg.bucket)
        .with_region(&cfg.region)
        .with_access_key_id(&cfg.access_key_id)
        .with_secret_access_key(cfg.secret_access_key.expose())
        .with_virtual_hosted_style_request(!cfg.path_style)
        .with_client_options(client)
        .with_retry(retry);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    builder
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use object_store::path::Path;
    use object_store::signer::Signer;
    use reqwest::Method;

    use super::*;

    fn settings(endpoint: &str, public: Option<&str>) -> S3Settings {
        S3Settings {
            endpoint: Some(endpoint.into()),
            public_endpoint: public.map(Into::into),
            bucket: "blobs".into(),
            region: "garage".into(),
            access_key_id: "GK0123456789abcdef01234567".into(),
            secret_access_key: Secret::new("0".repeat(64)),
            path_style: true,
            timeouts: S3Timeouts::default(),
        }
    }

    #[tokio::test]
    async fn presigned_urls_name_the_public_endpoint_path_style() {
        let cfg = settings("http://garage:3900", Some("https://s3.example.com"));
        let (signer, key) = (s3_signer(&cfg).unwrap(), Path::from("f/0"));
        let url = signer.signed_url(Method::PUT, &key, Duration::from_secs(300)).await.unwrap();
        assert_eq!((url.host_str(), url.path()), (Some("s3.example.com"), "/blobs/f/0"));
        assert!(url.query().unwrap().contains("X-Amz-Expires=300"), "{url}");
        let inside = s3_signer(&settings("http://garage:3900", None)).unwrap();
        let url = inside.signed_url(Method::GET, &key, Duration::from_secs(60)).await.unwrap();
        assert_eq!(url.host_str(), Some("garage"));
    }

    #[test]
    fn settings_read_from_toml_default_to_path_style_and_fast_failure() {
        let cfg: S3Settings = toml::from_str(
            "endpoint = \"http://127.0.0.1:3900\"\nbucket = \"b\"\nregion = \"garage\"\n\
             access_key_id = \"GKa\"\nsecret_access_key = \"s\"\n",
        )
        .unwrap();
        assert!(cfg.path_style);
        assert_eq!(cfg.timeouts, S3Timeouts::default());
        assert!(!format!("{cfg:?}").contains("secret_access_key: \"s\""), "the secret is redacted");
        assert!(s3_store(&cfg).is_ok());
    }
}
