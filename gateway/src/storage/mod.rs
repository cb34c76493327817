//! Where encrypted file chunks live. One `object_store::ObjectStore` holds
//! the blobs (the local file system under `<data_dir>/files` by default; an
//! S3 store plugs in as another `ObjectStore`, with its `Signer` issuing the
//! chunk URLs instead of [`signed_url::GatewayUrls`]). The server never reads
//! a chunk's plaintext: it stores and serves ciphertext by file and index.

pub mod layout;
pub mod quota;
pub mod receive;
pub mod s3;
pub mod signed_url;
pub mod sweeper;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ciphertalk_domain::FileId;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use crate::config::{Config, StorageBackend};
use signed_url::{GatewayUrls, UrlMethod};

/// The blob store and the URLs handed out for its chunks.
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    urls: GatewayUrls,
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
        };
        Ok(Self { store, urls: GatewayUrls::new(key) })
    }

    pub fn store(&self) -> &dyn ObjectStore {
        self.store.as_ref()
    }

    pub fn gateway_urls(&self) -> &GatewayUrls {
        &self.urls
    }

    /// Where chunk `index` of `file` is uploaded (a PUT) until `expires`.
    pub fn upload_url(&self, file: FileId, index: u32, expires: DateTime<Utc>) -> String {
        self.urls.url(UrlMethod::Put, file, index, expires)
    }

    /// Where stored chunk `index` of `file` is downloaded (a GET, with `Range`) until `expires`.
    pub fn download_url(&self, file: FileId, index: u32, expires: DateTime<Utc>) -> String {
        self.urls.url(UrlMethod::Get, file, index, expires)
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
