//! Where encrypted file chunks live. One `object_store::ObjectStore` holds
//! the blobs: the local file system under `<data_dir>/files` by default, or
//! an S3-compatible bucket (`files.backend = "s3"`). Uploads go to the
//! gateway's own signed URLs ([`signed_url::GatewayUrls`]), which stream the
//! body on to the store while checking its size and SHA-256, so the chunk is
//! recorded (and announced) the moment its PUT answers; or, with
//! `files.s3_uploads = "presigned"`, straight to the bucket with presigned
//! PUTs bound to the chunk's declared SHA-256 (the store refuses other
//! bytes), recorded once the client confirms and the object is found with
//! the chunk's size. Downloads are gateway URLs on the local store and
//! presigned GETs on S3 (the store serves `Range` itself). The server never
//! reads a chunk's plaintext.

pub mod layout;
pub mod quota;
pub mod receive;
pub mod s3;
pub mod signed_url;
pub mod sweeper;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ciphertalk_domain::FileId;
use ciphertalk_domain::file::ChunkDigest;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::local::LocalFileSystem;
use object_store::signer::{SignedUrlOptions, Signer as _};
use object_store::{ObjectStore, ObjectStoreExt as _};
use reqwest::header::{HeaderName, HeaderValue};

use crate::config::{Config, StorageBackend};
use signed_url::{GatewayUrls, UrlMethod};

/// How long a health check's verdict is reused: `/health` stays one cheap
/// call however often it is asked, and still notices an outage within seconds.
const HEALTH_REUSE: Duration = Duration::from_secs(2);

/// Longest wait for the store's health check (its client fails faster still).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// The header a presigned chunk PUT signs and must carry: the store refuses
/// bytes whose SHA-256 is not this one.
pub const CHECKSUM_HEADER: &str = "x-amz-checksum-sha256";

/// Where and how one chunk is uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    /// A gateway URL (relative to the API): the chunk is recorded when its PUT answers.
    Gateway { url: String },
    /// A presigned PUT of the store, to be sent with `checksum` as
    /// [`CHECKSUM_HEADER`]; the chunk is recorded when confirmed.
    Presigned { url: String, checksum: String },
}

/// The blob store and the URLs handed out for its chunks.
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    urls: GatewayUrls,
    /// Signs the download URLs of an S3 store, for the host clients reach it at.
    presigner: Option<AmazonS3>,
    /// Set when chunks with a declared digest are PUT straight to the bucket:
    /// reads what those PUTs left.
    inspector: Option<s3::Inspector>,
    /// The last health check: when, and its verdict. Held while checking, so
    /// that callers at once wait for one check instead of making their own.
    health: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Storage {
    /// The configured store; a local one's folder is created here.
    pub fn open(config: &Config) -> std::io::Result<Self> {
        let key = crate::secrets::configured_or_kept(
            config.files.url_key.as_ref(),
            &config.data_dir,
            "files-url-key",
            "file URL key",
        )?;
        let (mut presigner, mut inspector) = (None, None);
        let store: Arc<dyn ObjectStore> = match config.files.backend {
            StorageBackend::Local => {
                let root = layout::local_root(&config.data_dir);
                std::fs::create_dir_all(&root)?;
                // fsync: a chunk answered as stored survives a crash, as on S3.
                let local = LocalFileSystem::new_with_prefix(&root)
                    .map_err(std::io::Error::other)?
                    .with_fsync(true)
                    .with_automatic_cleanup(true);
                Arc::new(local)
            }
            StorageBackend::S3 => {
                let settings = config.files.s3.as_ref().ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "files.backend = \"s3\" needs [files.s3]",
                    )
                })?;
                presigner = Some(s3::s3_signer(settings).map_err(std::io::Error::other)?);
                if config.files.presigned_uploads() {
                    inspector = Some(s3::Inspector::new(settings).map_err(std::io::Error::other)?);
                }
                Arc::new(s3::s3_store(settings).map_err(std::io::Error::other)?)
            }
        };
        Ok(Self {
            store,
            urls: GatewayUrls::new(key),
            presigner,
            inspector,
            health: tokio::sync::Mutex::new(None),
        })
    }

    pub fn store(&self) -> &dyn ObjectStore {
        self.store.as_ref()
    }

    pub fn gateway_urls(&self) -> &GatewayUrls {
        &self.urls
    }

    /// Whether chunks are PUT straight to the bucket (and then confirmed).
    pub fn presigned_uploads(&self) -> bool {
        self.inspector.is_some()
    }

    /// Where chunk `index` of `file` is uploaded (a PUT) until `expires`: a
    /// presigned PUT for the object named by its `declared` digest, signed
    /// with that digest, when uploads are presigned; otherwise (or for a
    /// chunk with no declared digest, of a file registered before) a gateway URL.
    pub async fn upload_target(
        &self,
        file: FileId,
        index: u32,
        declared: Option<ChunkDigest>,
        expires: DateTime<Utc>,
    ) -> Result<UploadTarget, object_store::Error> {
        let (Some(presigner), Some(digest), true) = (&self.presigner, declared, self.presigned_uploads())
        else {
            return Ok(UploadTarget::Gateway { url: self.urls.url(UrlMethod::Put, file, index, expires) });
        };
        let checksum = digest.to_string();
        let value =
            HeaderValue::from_str(&checksum).unwrap_or_else(|_| unreachable!("base64 is a header value"));
        let options =
            SignedUrlOptions::new().with_signed_header(HeaderName::from_static(CHECKSUM_HEADER), value);
        let path = layout::chunk(file, index, digest);
        let url = presigner
            .signed_url_opts(object_store::signer::Method::PUT, &path, lifetime_until(expires), &options)
            .await?;
        Ok(UploadTarget::Presigned { url: url.into(), checksum })
    }

    /// The size and stored SHA-256 of the object a presigned PUT left for
    /// chunk `index` of `file` under its `digest`; `None` when there is none
    /// (yet), or uploads are not presigned.
    pub async fn uploaded_object(
        &self,
        file: FileId,
        index: u32,
        digest: ChunkDigest,
    ) -> Result<Option<s3::ObjectFacts>, object_store::Error> {
        let Some(inspector) = &self.inspector else { return Ok(None) };
        inspector.head(&layout::chunk(file, index, digest)).await
    }

    /// Where stored chunk `index` of `file` (with `digest`) is downloaded (a
    /// GET, with `Range`) until `expires`: a gateway URL relative to the API,
    /// or on S3 an absolute presigned URL of the store.
    pub async fn download_url(
        &self,
        file: FileId,
        index: u32,
        digest: ChunkDigest,
        expires: DateTime<Utc>,
    ) -> Result<String, object_store::Error> {
        let Some(presigner) = &self.presigner else {
            return Ok(self.urls.url(UrlMethod::Get, file, index, expires));
        };
        let url = presigner
            .signed_url(
                object_store::signer::Method::GET,
                &layout::chunk(file, index, digest),
                lifetime_until(expires),
            )
            .await?;
        Ok(url.into())
    }

    /// Whether the store answers: a HEAD of a key that need not exist (not
    /// found is an answer), under the client's fail-fast timeouts; reused
    /// for [`HEALTH_REUSE`].
    pub async fn check(&self) -> Result<(), String> {
        let mut last = self.health.lock().await;
        if let Some((at, verdict)) = last.as_ref()
            && at.elapsed() < HEALTH_REUSE
        {
            return verdict.clone();
        }
        let probe = object_store::path::Path::from("health-check");
        let verdict = match tokio::time::timeout(HEALTH_TIMEOUT, self.store.head(&probe)).await {
            Ok(Ok(_) | Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        *last = Some((Instant::now(), verdict.clone()));
        verdict
    }

    /// Removes every blob of `file` (its chunks, and uploads that never
    /// finished); the number removed.
    pub async fn remove_file(&self, file: FileId) -> Result<usize, object_store::Error> {
        let prefix = layout::file_prefix(file);
        let locations = self.store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let removed: Vec<_> = self.store.delete_stream(locations).try_collect().await?;
        Ok(removed.len())
    }
}

/// A presigned URL's lifetime: until `expires`, at least a second.
fn lifetime_until(expires: DateTime<Utc>) -> Duration {
    (expires - Utc::now()).to_std().unwrap_or(Duration::ZERO).max(Duration::from_secs(1))
}
