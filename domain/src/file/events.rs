//! What happened to a file, in the past tense.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::digest::ChunkDigest;
use crate::ids::{FileId, ReportId, RoomId, UserId};
use crate::values::{Base64Bytes, ContentType};

/// The version of the file events that carry chunk digests (version 1 had
/// none; see [`super::upcasters`]).
pub const DIGEST_EVENT_VERSION: &str = "2";

/// Events of the [`crate::file::File`] aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FileEvent {
    /// An upload was announced: its layout and the file key wrapped per recipient.
    FileRegistered {
        file_id: FileId,
        room_id: RoomId,
        uploader: UserId,
        size: u64,
        chunk_size: u64,
        chunk_count: u32,
        content_type: ContentType,
        wrapped_keys: BTreeMap<UserId, Base64Bytes>,
        /// The digest each chunk must have; `None` when the client declared
        /// none (and in version 1, before digests).
        chunk_sha256: Option<Vec<ChunkDigest>>,
        expires_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// Chunk `index` is stored and can be downloaded. `sha256` is that of
    /// the stored bytes (`None` in version 1, before digests).
    ChunkStored { index: u32, size: u64, sha256: Option<ChunkDigest>, at: DateTime<Utc> },
    /// Every chunk is stored and the uploader declared the file complete.
    FileCompleted { by: UserId, at: DateTime<Utc> },
    /// The uploader or a room admin deleted the file.
    FileDeleted { by: UserId, at: DateTime<Utc> },
    /// The file passed its expiry.
    FileExpired { at: DateTime<Utc> },
    /// An instance moderator removed the file.
    FileTakenDown { moderator: UserId, report_id: Option<ReportId>, at: DateTime<Utc> },
}

impl DomainEvent for FileEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::FileRegistered { .. } => "FileRegistered",
            Self::ChunkStored { .. } => "ChunkStored",
            Self::FileCompleted { .. } => "FileCompleted",
            Self::FileDeleted { .. } => "FileDeleted",
            Self::FileExpired { .. } => "FileExpired",
            Self::FileTakenDown { .. } => "FileTakenDown",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::FileRegistered { .. } | Self::ChunkStored { .. } => DIGEST_EVENT_VERSION.to_owned(),
            _ => crate::EVENT_VERSION.to_owned(),
        }
    }
}
