//! An S3-compatible store (Garage, AWS S3, any other) as `object_store` client
//! (its settings: `config::S3Settings`), tuned so that a dead store fails within seconds
//! instead of retrying for minutes (object_store's defaults: 10 retries, 3 min);
//! and the [`Inspector`] that reads an object's stored checksum.

use std::time::Duration;

use crate::config::S3Settings;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer as _};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

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

/// What a HEAD of an object tells: its size, and the SHA-256 the store
/// keeps for it (base64), when it keeps one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    pub size: u64,
    pub sha256: Option<String>,
}

/// HEADs objects asking for their stored checksum (`x-amz-checksum-mode:
/// ENABLED`), which object_store's `head` does not return: a signed URL of
/// the store's own client, sent with reqwest under the store's timeouts.
pub struct Inspector {
    signer: AmazonS3,
    http: reqwest::Client,
}

const CHECKSUM_MODE: &str = "x-amz-checksum-mode";

impl Inspector {
    pub fn new(cfg: &S3Settings) -> Result<Self, object_store::Error> {
        let t = cfg.timeouts;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(t.connect_ms))
            .read_timeout(Duration::from_millis(t.read_ms))
            .timeout(Duration::from_secs(t.request_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(generic)?;
        Ok(Self { signer: s3_store(cfg)?, http })
    }

    /// The object at `path`; `None` when there is none.
    pub async fn head(&self, path: &Path) -> Result<Option<ObjectFacts>, object_store::Error> {
        let mode = HeaderName::from_static(CHECKSUM_MODE);
        let options =
            SignedUrlOptions::new().with_signed_header(mode.clone(), HeaderValue::from_static("ENABLED"));
        let url = self.signer.signed_url_opts(Method::HEAD, path, Duration::from_secs(60), &options).await?;
        let response = self.http.head(url).header(mode, "ENABLED").send().await.map_err(generic)?;
        match response.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            status if !status.is_success() => {
                return Err(generic(format!("HEAD {path} answered {status}")));
            }
            _ => {}
        }
        let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok());
        let size = header("content-length")
            .and_then(|length| length.parse().ok())
            .ok_or_else(|| generic(format!("HEAD {path} answered no Content-Length")))?;
        Ok(Some(ObjectFacts { size, sha256: header("x-amz-checksum-sha256").map(str::to_owned) }))
    }
}

fn generic(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> object_store::Error {
    object_store::Error::Generic { store: "S3", source: source.into() }
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
    use crate::config::{S3Timeouts, Secret};

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
