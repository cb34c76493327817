//! Streams one chunk's request body into the store while hashing it: the
//! bytes go out in bounded parts as they arrive (a whole chunk is never held),
//! a body longer than the chunk is cut off at the first byte too many, and a
//! refused body leaves nothing behind.

use bytes::Bytes;
use ciphertalk_domain::file::ChunkDigest;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, PutMultipartOptions, WriteMultipart};
use sha2::{Digest as _, Sha256};

/// Bytes buffered before a part goes to the store: S3's smallest part size.
const PART_BYTES: usize = 5 << 20;

/// Parts being written at once, each at most [`PART_BYTES`].
const PARTS_IN_FLIGHT: usize = 2;

/// What was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub size: u64,
    pub sha256: ChunkDigest,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the body is longer than the chunk's {expected} bytes")]
    TooLong { expected: u64 },
    #[error("the body has {got} bytes, the chunk {expected}")]
    TooShort { expected: u64, got: u64 },
    #[error("the request body broke off: {0}")]
    Body(String),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// Writes `body` to `path`, which holds it only if exactly `expected` bytes
/// arrived; otherwise the upload is aborted.
pub async fn receive<E: std::fmt::Display>(
    store: &dyn ObjectStore,
    path: &Path,
    body: impl Stream<Item = Result<Bytes, E>>,
    expected: u64,
) -> Result<Received, ReceiveError> {
    let upload = store.put_multipart_opts(path, PutMultipartOptions::default()).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    match copy(&mut writer, body, expected).await {
        Ok(sha256) => {
            writer.finish().await?;
            Ok(Received { size: expected, sha256 })
        }
        Err(err) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "a refused chunk's partial upload could not be aborted");
            }
            Err(err)
        }
    }
}

async fn copy<E: std::fmt::Display>(
    writer: &mut WriteMultipart,
    body: impl Stream<Item = Result<Bytes, E>>,
    expected: u64,
) -> Result<ChunkDigest, ReceiveError> {
    let mut hasher = Sha256::new();
    let mut got: u64 = 0;
    let mut body = std::pin::pin!(body);
    while let Some(bytes) = body.next().await {
        let bytes = bytes.map_err(|err| ReceiveError::Body(err.to_string()))?;
        got = got.saturating_add(bytes.len() as u64);
        if got > expected {
            return Err(ReceiveError::TooLong { expected });
        }
        hasher.update(&bytes);
        writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        writer.put(bytes);
    }
    if got != expected {
        return Err(ReceiveError::TooShort { expected, got });
    }
    Ok(ChunkDigest::from_bytes(hasher.finalize().into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use object_store::ObjectStoreExt as _;
    use object_store::memory::InMemory;

    use super::*;

    fn body(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
        futures::stream::iter(parts.iter().map(|part| Ok(Bytes::from_static(part))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn exactly_the_chunk_is_stored_with_its_digest() {
        let store = InMemory::new();
        let path = Path::from("f/incoming/1");
        let received = receive(&store, &path, body(&[b"hello ", b"world"]), 11).await.unwrap();
        assert_eq!(received.size, 11);
        assert_eq!(received.sha256.as_bytes()[..], Sha256::digest(b"hello world")[..]);
        assert_eq!(
            store.get(&path).await.unwrap().bytes().await.unwrap(),
            Bytes::from_static(b"hello world")
        );
    }

    #[tokio::test]
    async fn a_body_too_long_or_too_short_leaves_nothing() {
        let store = InMemory::new();
        let path = Path::from("f/incoming/2");
        let long = receive(&store, &path, body(&[b"hello ", b"world"]), 10).await;
        assert!(matches!(long, Err(ReceiveError::TooLong { expected: 10 })));
        let short = receive(&store, &path, body(&[b"hello"]), 10).await;
        assert!(matches!(short, Err(ReceiveError::TooShort { expected: 10, got: 5 })));
        assert!(store.head(&path).await.is_err(), "nothing stored");
    }
}
