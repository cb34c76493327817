//! The S3 client side against a real Garage started by the harness
//! (`support::garage`): objects through `object_store` as the gateway sees
//! them, presigned URLs as clients use them, and how fast a dead store fails.

use bytes::Bytes;
use object_store::path::Path;

mod harness;
mod objects;
mod outage;
mod presigned;

/// `len` bytes that differ from offset to offset (a misplaced range shows).
fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

/// A fresh key under a test's own prefix.
fn key(name: &str) -> Path {
    Path::from(format!("files/{}/{name}", uuid::Uuid::new_v4()))
}
