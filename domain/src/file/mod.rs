//! The `File` aggregate: an end-to-end encrypted file uploaded in chunks to a
//! room. Chunks become downloadable one by one as they are stored; the
//! per-file key is kept only wrapped for each recipient, opaque to the server.

mod aggregate;
mod commands;
mod digest;
mod events;
mod upcast;

pub use aggregate::{File, FileInfo, FileStatus, MAX_CHUNK_COUNT};
pub use commands::{FileCommand, FileLimits};
pub use digest::ChunkDigest;
pub use events::{DIGEST_EVENT_VERSION, FileEvent};
pub use upcast::upcasters;
