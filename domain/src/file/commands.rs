//! What can be asked of a file. Room membership of the uploader and the
//! recipients is checked by the caller, which knows the room.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ids::{FileId, ReportId, RoomId, UserId};
use crate::values::{Base64Bytes, ContentType};

/// Commands of the [`crate::file::File`] aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum FileCommand {
    /// Announce an upload. `chunk_count` must equal `ceil(size / chunk_size)`;
    /// `max_size` is the configured limit the caller enforces through us.
    RegisterFile {
        file_id: FileId,
        room_id: RoomId,
        uploader: UserId,
        size: u64,
        chunk_size: u64,
        chunk_count: u32,
        content_type: ContentType,
        wrapped_keys: BTreeMap<UserId, Base64Bytes>,
        expires_at: Option<DateTime<Utc>>,
        max_size: u64,
        at: DateTime<Utc>,
    },
    /// Record that chunk `index` of `size` bytes was stored (idempotent).
    StoreChunk { index: u32, size: u64, at: DateTime<Utc> },
    /// Declare the upload complete (uploader, every chunk stored).
    CompleteFile { actor: UserId, at: DateTime<Utc> },
    /// Delete the file (uploader, or an admin of its room as the caller determined).
    DeleteFile { actor: UserId, actor_is_room_admin: bool, at: DateTime<Utc> },
    /// Expire the file (only once `expires_at` has passed).
    ExpireFile { at: DateTime<Utc> },
    /// Remove the file as an instance moderator.
    TakeDownFile { moderator: UserId, report_id: Option<ReportId>, at: DateTime<Utc> },
}
