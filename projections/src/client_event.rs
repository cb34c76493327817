//! The client events of API.md ("WebSocket", event types): what a domain
//! event looks like to a client. This is the one place that maps one to the
//! other; the delivery projection decides who receives them.
//!
//! An event is flat JSON: `type`, `room_id`, `at`, and the fields of its
//! subject. `message.*` events carry a whole API Message, so a client shows
//! them without a second request. `to_device` and `device.*` events concern
//! no room and have no `room_id`.

use chrono::{DateTime, Utc};
use ciphertalk_domain::file::FileEvent;
use ciphertalk_domain::ids::{DeviceId, FileId, MessageId, RoomId, UserId};
use ciphertalk_domain::room::{JoinRule, ReceiptKind, Role, RoomEvent, RoomKind};
use ciphertalk_domain::to_device::ToDeviceKind;
use ciphertalk_domain::values::Ciphertext;
use serde::Serialize;

use crate::timeline::Message;
/// Where the gateway reads a stored `MessageSent` as an API Message.
pub use crate::timeline::sent_message;

/// One event as a client receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ClientEvent {
    #[serde(rename = "room.created")]
    RoomCreated {
        room_id: RoomId,
        at: DateTime<Utc>,
        kind: RoomKind,
        name: Option<String>,
        description: Option<String>,
        join_rule: JoinRule,
        created_at: DateTime<Utc>,
        /// The creator (owner) and the other members, who are in the room
        /// from the start. A count, not the list: the event goes to every
        /// member, so a list would grow the fan-out with the square of the
        /// room's size; clients read it with `GET /v1/rooms/{id}`.
        member_count: usize,
        owner_id: UserId,
    },
    #[serde(rename = "room.updated")]
    RoomUpdated {
        room_id: RoomId,
        at: DateTime<Utc>,
        name: Option<String>,
        description: Option<String>,
        photo_file_id: Option<FileId>,
        join_rule: JoinRule,
        by: UserId,
    },
    #[serde(rename = "member.invited")]
    MemberInvited { room_id: RoomId, at: DateTime<Utc>, user_id: UserId, by: UserId },
    #[serde(rename = "member.joined")]
    MemberJoined { room_id: RoomId, at: DateTime<Utc>, user_id: UserId, role: Role, by: UserId },
    #[serde(rename = "member.left")]
    MemberLeft { room_id: RoomId, at: DateTime<Utc>, user_id: UserId, by: UserId },
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged { room_id: RoomId, at: DateTime<Utc>, user_id: UserId, role: Role, by: UserId },
    /// `message` carries `room_id` and the rest of the Message fields.
    #[serde(rename = "message.sent")]
    MessageSent {
        at: DateTime<Utc>,
        #[serde(flatten)]
        message: Message,
    },
    #[serde(rename = "message.edited")]
    MessageEdited {
        at: DateTime<Utc>,
        #[serde(flatten)]
        message: Message,
    },
    /// Deleted for everyone (by its sender or an admin) or taken down by a
    /// moderator: a tombstone without ciphertext.
    #[serde(rename = "message.deleted")]
    MessageDeleted {
        at: DateTime<Utc>,
        by: UserId,
        taken_down: bool,
        #[serde(flatten)]
        message: Message,
    },
    /// Hidden for the receiving user only (delete "for me" on another device).
    #[serde(rename = "message.hidden")]
    MessageHidden { room_id: RoomId, at: DateTime<Utc>, message_id: MessageId, seq: u64 },
    #[serde(rename = "receipt.updated")]
    ReceiptUpdated { room_id: RoomId, at: DateTime<Utc>, user_id: UserId, kind: ReceiptKind, up_to_seq: u64 },
    /// One message of a to-device batch, for the one device it was sent to.
    #[serde(rename = "to_device")]
    ToDevice {
        from_user: UserId,
        from_device: DeviceId,
        kind: ToDeviceKind,
        ciphertext: Ciphertext,
        at: DateTime<Utc>,
    },
    /// `user_id` has a new device (its name is its owner's only; its keys
    /// are read with `GET /v1/users/{id}/devices`).
    #[serde(rename = "device.added")]
    DeviceAdded { user_id: UserId, device_id: DeviceId, at: DateTime<Utc> },
    #[serde(rename = "device.removed")]
    DeviceRemoved { user_id: UserId, device_id: DeviceId, at: DateTime<Utc> },
    /// Chunk `index` of a file is stored: fetch it with `GET /v1/files/{id}`.
    #[serde(rename = "file.chunk_available")]
    FileChunkAvailable { room_id: RoomId, at: DateTime<Utc>, file_id: FileId, index: u32, size: u64 },
    #[serde(rename = "file.completed")]
    FileCompleted { room_id: RoomId, at: DateTime<Utc>, file_id: FileId },
    /// Deleted by its uploader or a room admin, expired, or taken down (`reason`).
    #[serde(rename = "file.deleted")]
    FileDeleted { room_id: RoomId, at: DateTime<Utc>, file_id: FileId, reason: &'static str },
}

impl ClientEvent {
    /// The client event of a room event. `message` is the message an edit or
    /// deletion concerns as it stood before the event (`None` for the other
    /// events, or when it is unknown, in which case nothing is sent).
    #[must_use]
    pub fn from_room_event(room_id: RoomId, event: &RoomEvent, message: Option<Message>) -> Option<Self> {
        let event = match event.clone() {
            RoomEvent::RoomCreated { kind, name, description, join_rule, creator, members, at, .. } => {
                let others = members.iter().filter(|user| **user != creator).count();
                Self::RoomCreated {
                    room_id,
                    at,
                    kind,
                    name: name.map(String::from),
                    description: description.map(String::from),
                    join_rule,
                    created_at: at,
                    member_count: 1 + others,
                    owner_id: creator,
                }
            }
            RoomEvent::RoomUpdated { name, description, photo_file_id, join_rule, by, at } => {
                Self::RoomUpdated {
                    room_id,
                    at,
                    name: name.map(String::from),
                    description: description.map(String::from),
                    photo_file_id,
                    join_rule,
                    by,
                }
            }
            RoomEvent::MemberInvited { user, by, at } => {
                Self::MemberInvited { room_id, at, user_id: user, by }
            }
            RoomEvent::MemberJoined { user, role, by, at } => {
                Self::MemberJoined { room_id, at, user_id: user, role, by }
            }
            RoomEvent::MemberLeft { user, by, at } => Self::MemberLeft { room_id, at, user_id: user, by },
            RoomEvent::MemberRoleChanged { user, role, by, at } => {
                Self::MemberRoleChanged { room_id, at, user_id: user, role, by }
            }
            event @ RoomEvent::MessageSent { .. } => {
                let message = sent_message(room_id, &event)?;
                Self::MessageSent { at: message.sent_at, message }
            }
            RoomEvent::MessageEdited { ciphertext, at, .. } => {
                let mut message = message?;
                message.ciphertext = Some(ciphertext.as_str().to_owned());
                message.edited_at = Some(at);
                Self::MessageEdited { at, message }
            }
            RoomEvent::MessageDeleted { by, at, .. } => {
                Self::MessageDeleted { at, by, taken_down: false, message: tombstone(message?) }
            }
            RoomEvent::MessageTakenDown { moderator, at, .. } => {
                Self::MessageDeleted { at, by: moderator, taken_down: true, message: tombstone(message?) }
            }
            RoomEvent::MessageHidden { message_id, seq, at, .. } => {
                Self::MessageHidden { room_id, at, message_id, seq }
            }
            RoomEvent::ReceiptUpdated { user, kind, up_to_seq, at } => {
                Self::ReceiptUpdated { room_id, at, user_id: user, kind, up_to_seq }
            }
        };
        Some(event)
    }

    /// The client event of a file event (none for a registration: members
    /// learn of a file from the message that names it).
    #[must_use]
    pub fn from_file_event(room_id: RoomId, file_id: FileId, event: &FileEvent) -> Option<Self> {
        let event = match *event {
            FileEvent::FileRegistered { .. } => return None,
            FileEvent::ChunkStored { index, size, at, .. } => {
                Self::FileChunkAvailable { room_id, at, file_id, index, size }
            }
            FileEvent::FileCompleted { at, .. } => Self::FileCompleted { room_id, at, file_id },
            FileEvent::FileDeleted { at, .. } => {
                Self::FileDeleted { room_id, at, file_id, reason: "deleted" }
            }
            FileEvent::FileExpired { at } => Self::FileDeleted { room_id, at, file_id, reason: "expired" },
            FileEvent::FileTakenDown { at, .. } => {
                Self::FileDeleted { room_id, at, file_id, reason: "taken_down" }
            }
        };
        Some(event)
    }

    /// The message an event leaves behind (what later edits and deletions
    /// start from), for `message.*` events.
    #[must_use]
    pub fn message(&self) -> Option<&Message> {
        match self {
            Self::MessageSent { message, .. }
            | Self::MessageEdited { message, .. }
            | Self::MessageDeleted { message, .. } => Some(message),
            _ => None,
        }
    }
}

fn tombstone(mut message: Message) -> Message {
    message.ciphertext = None;
    message.deleted = true;
    message
}
