//! The file aggregate's state and rules.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::{FileCommand, FileLimits};
use super::digest::ChunkDigest;
use super::events::FileEvent;
use crate::error::DomainError;
use crate::ids::{FileId, RoomId, UserId};
use crate::values::{Base64Bytes, ContentType};

/// The most chunks a file may have; bounds the aggregate's state (the set of
/// stored chunk indexes) whatever the configured size limit.
pub const MAX_CHUNK_COUNT: u32 = 65_536;

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Registered; chunks arriving.
    #[default]
    Uploading,
    /// Every chunk stored.
    Completed,
    /// Deleted by its uploader or a room admin.
    Deleted,
    /// Past its expiry.
    Expired,
    /// Removed by a moderator.
    TakenDown,
}

impl FileStatus {
    /// Whether the file is gone for good (every further command answers `gone`).
    #[must_use]
    pub const fn is_gone(self) -> bool {
        matches!(self, Self::Deleted | Self::Expired | Self::TakenDown)
    }
}

/// What a file was registered with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub file_id: FileId,
    pub room_id: RoomId,
    pub uploader: UserId,
    pub size: u64,
    pub chunk_size: u64,
    pub chunk_count: u32,
    pub content_type: ContentType,
    pub wrapped_keys: BTreeMap<UserId, Base64Bytes>,
    /// Default: snapshots taken before digests have none.
    #[serde(default)]
    pub chunk_sha256: Option<Vec<ChunkDigest>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl FileInfo {
    /// The size chunk `index` must have: `chunk_size`, except the last chunk,
    /// which holds the remainder.
    #[must_use]
    pub fn expected_chunk_size(&self, index: u32) -> Option<u64> {
        if index >= self.chunk_count {
            return None;
        }
        if index + 1 < self.chunk_count {
            return Some(self.chunk_size);
        }
        // Saturating: a layout was validated when registered, but state read
        // back from storage should never be able to panic us.
        Some(self.size.saturating_sub(self.chunk_size.saturating_mul(u64::from(self.chunk_count - 1))))
    }

    /// The digest the client declared for chunk `index`, if it declared any.
    #[must_use]
    pub fn declared_digest(&self, index: u32) -> Option<ChunkDigest> {
        self.chunk_sha256.as_ref()?.get(index as usize).copied()
    }
}

/// An encrypted file: its layout, which chunks are stored, its status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct File {
    info: Option<FileInfo>,
    stored: BTreeSet<u32>,
    /// The digest of each stored chunk whose event carried one (a separate
    /// map so that snapshots taken before digests still load).
    #[serde(default)]
    digests: BTreeMap<u32, ChunkDigest>,
    status: FileStatus,
}

impl File {
    /// Registration facts; `None` until registered.
    #[must_use]
    pub fn info(&self) -> Option<&FileInfo> {
        self.info.as_ref()
    }

    /// Indexes of the chunks stored so far.
    #[must_use]
    pub fn stored_chunks(&self) -> &BTreeSet<u32> {
        &self.stored
    }

    /// Current status.
    #[must_use]
    pub fn status(&self) -> FileStatus {
        self.status
    }

    /// The file key wrapped for `user`, if they are a recipient.
    #[must_use]
    pub fn wrapped_key_for(&self, user: UserId) -> Option<&Base64Bytes> {
        self.info.as_ref().and_then(|info| info.wrapped_keys.get(&user))
    }

    /// The digest of stored chunk `index`, when known.
    #[must_use]
    pub fn stored_digest(&self, index: u32) -> Option<ChunkDigest> {
        self.digests.get(&index).copied()
    }

    /// The bytes of the chunks stored so far.
    #[must_use]
    pub fn stored_bytes(&self) -> u64 {
        let Some(info) = &self.info else { return 0 };
        self.stored.iter().filter_map(|index| info.expected_chunk_size(*index)).sum()
    }

    /// Whether every chunk is stored.
    #[must_use]
    pub fn all_chunks_stored(&self) -> bool {
        self.info.as_ref().is_some_and(|info| self.stored.len() == info.chunk_count as usize)
    }

    /// Decides the events for `command` without changing anything.
    fn decide(&self, command: FileCommand) -> Result<Vec<FileEvent>, DomainError> {
        if let FileCommand::RegisterFile {
            file_id,
            room_id,
            uploader,
            size,
            chunk_size,
            chunk_count,
            content_type,
            wrapped_keys,
            chunk_sha256,
            expires_at,
            limits,
            uploader_stored_bytes,
            at,
        } = command
        {
            if self.info.is_some() {
                return Err(DomainError::AlreadyExists);
            }
            check_layout(size, chunk_size, chunk_count, &limits)?;
            if uploader_stored_bytes.saturating_add(size) > limits.max_user_bytes {
                return Err(DomainError::TooLarge("the uploader's stored bytes would pass their limit"));
            }
            if wrapped_keys.is_empty() {
                return Err(DomainError::invalid("wrapped_keys", "at least one recipient is required"));
            }
            if chunk_sha256.as_ref().is_some_and(|digests| digests.len() != chunk_count as usize) {
                return Err(DomainError::invalid("chunk_sha256", "must hold one digest per chunk"));
            }
            check_expiry(expires_at, at, limits.max_expiry)?;
            return Ok(vec![FileEvent::FileRegistered {
                file_id,
                room_id,
                uploader,
                size,
                chunk_size,
                chunk_count,
                content_type,
                wrapped_keys,
                chunk_sha256,
                expires_at,
                at,
            }]);
        }
        let info = self.info.as_ref().ok_or(DomainError::FileNotFound)?;
        if self.status.is_gone() {
            return Err(DomainError::Gone);
        }
        let events = match command {
            // Decided above, before the registration check.
            FileCommand::RegisterFile { .. } => Vec::new(),
            FileCommand::StoreChunk { index, size, sha256, at } => {
                let expected = info
                    .expected_chunk_size(index)
                    .ok_or_else(|| DomainError::invalid("index", "is beyond the last chunk"))?;
                if size != expected {
                    return Err(DomainError::invalid(
                        "size",
                        format!("chunk {index} must be {expected} bytes"),
                    ));
                }
                if info.declared_digest(index).is_some_and(|declared| declared != sha256) {
                    return Err(DomainError::invalid(
                        "sha256",
                        format!("chunk {index} does not have the declared SHA-256"),
                    ));
                }
                if !self.stored.contains(&index) {
                    vec![FileEvent::ChunkStored { index, size, sha256: Some(sha256), at }]
                } else if self.stored_digest(index).is_some_and(|stored| stored != sha256) {
                    return Err(DomainError::Conflict("the chunk is stored with other bytes"));
                } else {
                    // A retried upload of the same bytes is not an error.
                    Vec::new()
                }
            }
            FileCommand::CompleteFile { actor, at } => {
                if actor != info.uploader {
                    return Err(DomainError::Forbidden("only the uploader may complete a file"));
                }
                if self.status == FileStatus::Completed {
                    Vec::new()
                } else if !self.all_chunks_stored() {
                    return Err(DomainError::Conflict("not every chunk is stored yet"));
                } else {
                    vec![FileEvent::FileCompleted { by: actor, at }]
                }
            }
            FileCommand::DeleteFile { actor, actor_is_room_admin, at } => {
                if actor != info.uploader && !actor_is_room_admin {
                    return Err(DomainError::Forbidden(
                        "only the uploader or a room admin may delete a file",
                    ));
                }
                vec![FileEvent::FileDeleted { by: actor, at }]
            }
            FileCommand::ExpireFile { at } => match info.expires_at {
                Some(expires_at) if at >= expires_at => vec![FileEvent::FileExpired { at }],
                _ => return Err(DomainError::Conflict("the file has not expired")),
            },
            FileCommand::TakeDownFile { moderator, report_id, at } => {
                vec![FileEvent::FileTakenDown { moderator, report_id, at }]
            }
        };
        Ok(events)
    }
}

/// `size > 0`, `chunk_size > 0`, `chunk_count == ceil(size / chunk_size)`,
/// within the size limits and [`MAX_CHUNK_COUNT`].
fn check_layout(
    size: u64,
    chunk_size: u64,
    chunk_count: u32,
    limits: &FileLimits,
) -> Result<(), DomainError> {
    if size == 0 {
        return Err(DomainError::invalid("size", "must be positive"));
    }
    if chunk_size == 0 {
        return Err(DomainError::invalid("chunk_size", "must be positive"));
    }
    if size > limits.max_size {
        return Err(DomainError::TooLarge("the file is over the size limit"));
    }
    if chunk_size > limits.max_chunk_size {
        return Err(DomainError::TooLarge("the chunks are over the chunk size limit"));
    }
    if chunk_count > MAX_CHUNK_COUNT {
        return Err(DomainError::invalid("chunk_count", format!("must be at most {MAX_CHUNK_COUNT}")));
    }
    if u64::from(chunk_count) != size.div_ceil(chunk_size) {
        return Err(DomainError::invalid("chunk_count", "must be ceil(size / chunk_size)"));
    }
    Ok(())
}

/// An expiry lies in the future and, under a maximum life, within it (a
/// file without one may then not be registered: the caller defaults it).
fn check_expiry(
    expires_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    max_expiry: Option<chrono::TimeDelta>,
) -> Result<(), DomainError> {
    if expires_at.is_some_and(|expires_at| expires_at <= at) {
        return Err(DomainError::invalid("expires_in", "must be in the future"));
    }
    match (max_expiry, expires_at) {
        (Some(max), Some(expires_at)) if expires_at - at > max => {
            Err(DomainError::TooLarge("the expiry is beyond the limit"))
        }
        (Some(_), None) => Err(DomainError::TooLarge("files may not live forever here")),
        _ => Ok(()),
    }
}

impl Aggregate for File {
    const TYPE: &'static str = "file";
    type Command = FileCommand;
    type Event = FileEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            FileEvent::FileRegistered {
                file_id,
                room_id,
                uploader,
                size,
                chunk_size,
                chunk_count,
                content_type,
                wrapped_keys,
                chunk_sha256,
                expires_at,
                at,
            } => {
                self.info = Some(FileInfo {
                    file_id,
                    room_id,
                    uploader,
                    size,
                    chunk_size,
                    chunk_count,
                    content_type,
                    wrapped_keys,
                    chunk_sha256,
                    expires_at,
                    created_at: at,
                });
            }
            FileEvent::ChunkStored { index, sha256, .. } => {
                self.stored.insert(index);
                if let Some(sha256) = sha256 {
                    self.digests.insert(index, sha256);
                }
            }
            FileEvent::FileCompleted { .. } => self.status = FileStatus::Completed,
            FileEvent::FileDeleted { .. } => self.status = FileStatus::Deleted,
            FileEvent::FileExpired { .. } => self.status = FileStatus::Expired,
            FileEvent::FileTakenDown { .. } => self.status = FileStatus::TakenDown,
        }
    }
}
