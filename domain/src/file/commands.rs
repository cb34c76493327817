//! What can be asked of a file. Room membership of the uploader and the
//! recipients is checked by the caller, which knows the room.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::digest::ChunkDigest;
use crate::ids::{FileId, ReportId, RoomId, UserId};
use crate::values::{Base64Bytes, ContentType};

/// The configured limits a registration is decided under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    pub max_size: u64,
    pub max_chunk_size: u64,
    /// Most bytes one user's live files may declare together.
    pub max_user_bytes: u64,
    /// Longest life a file may ask for; `None`: files may live forever.
    pub max_expiry: Option<TimeDelta>,
}

/// Commands of the [`crate::file::File`] aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum FileCommand {
    /// Announce an upload. `chunk_count` must equal `ceil(size / chunk_size)`;
    /// `chunk_sha256`, when given, holds one digest per chunk. The caller
    /// reads `uploader_stored_bytes` (the declared sizes of the uploader's
    /// live files) from the event store, under a lock per uploader.
    RegisterFile {
        file_id: FileId,
        room_id: RoomId,
        uploader: UserId,
        size: u64,
        chunk_size: u64,
        chunk_count: u32,
        content_type: ContentType,
        wrapped_keys: BTreeMap<UserId, Base64Bytes>,
        chunk_sha256: Option<Vec<ChunkDigest>>,
        expires_at: Option<DateTime<Utc>>,
        limits: FileLimits,
        uploader_stored_bytes: u64,
        at: DateTime<Utc>,
    },
    /// Record that chunk `index` of `size` bytes whose SHA-256 is `sha256`
    /// was stored. Again with the same bytes: nothing new; with others: 409.
    StoreChunk { index: u32, size: u64, sha256: ChunkDigest, at: DateTime<Utc> },
    /// Declare the upload complete (uploader, every chunk stored).
    CompleteFile { actor: UserId, at: DateTime<Utc> },
    /// Delete the file (uploader, or an admin of its room as the caller determined).
    DeleteFile { actor: UserId, actor_is_room_admin: bool, at: DateTime<Utc> },
    /// Expire the file (only once `expires_at` has passed).
    ExpireFile { at: DateTime<Utc> },
    /// Remove the file as an instance moderator.
    TakeDownFile { moderator: UserId, report_id: Option<ReportId>, at: DateTime<Utc> },
}
