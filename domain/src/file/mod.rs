//! The `File` aggregate: an end-to-end encrypted file uploaded in chunks to a
//! room. Chunks become downloadable one by one as they are stored; the
//! per-file key is kept only wrapped for each recipient, opaque to the server.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{File, FileInfo, FileStatus, MAX_CHUNK_COUNT};
pub use commands::FileCommand;
pub use events::FileEvent;
