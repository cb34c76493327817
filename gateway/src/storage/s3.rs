//! An S3-compatible store (Garage, AWS S3, any other) as `object_store` client
//! (its settings: `config::S3Settings`), tuned so that a dead store fails within seconds
//! instead of retrying for minutes (object_store's defaults: 10 retries, 3 min).

use std::time::Duration;

use crate::config::S3Settings;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

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
