//! What happened to a file, in the past tense.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::ids::{FileId, ReportId, RoomId, UserId};
use crate::values::{Base64Bytes, ContentType};

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
        expires_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// Chunk `index` is stored and can be downloaded.
    ChunkStored { index: u32, size: u64, at: DateTime<Utc> },
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
        crate::EVENT_VERSION.to_owned()
    }
}
