//! Blob names: everything of a file under its id, a stored chunk named by
//! its index and the SHA-256 of its bytes (so that bytes that lose a race
//! for an index never overwrite the winner's), an upload in progress under
//! `incoming/` until its bytes are checked.

use std::path::{Path as FsPath, PathBuf};

use ciphertalk_domain::FileId;
use ciphertalk_domain::file::ChunkDigest;
use object_store::path::Path;

/// The folder of the local store.
pub fn local_root(data_dir: &FsPath) -> PathBuf {
    data_dir.join("files")
}

pub fn file_prefix(file: FileId) -> Path {
    Path::from(file.to_string())
}

pub fn chunk(file: FileId, index: u32, digest: ChunkDigest) -> Path {
    file_prefix(file).join("chunks").join(format!("{index}-{}", digest.to_hex()))
}

/// A fresh name for bytes still arriving.
pub fn incoming(file: FileId) -> Path {
    file_prefix(file).join("incoming").join(uuid::Uuid::new_v4().to_string())
}
