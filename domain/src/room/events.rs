//! What happened in a room, in the past tense, plus the value types the events carry.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::ids::{FileId, MessageId, ReportId, RoomId, UserId};
use crate::values::{
    Base64Bytes, Ciphertext, ClientMsgId, Commitment, ContentType, FrankingKeyId, RoomDescription, RoomName,
};

/// A one-to-one conversation or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Exactly two people; no joins, adds, removals or role changes.
    Direct,
    /// Any number of members with roles.
    #[default]
    Group,
}

/// Who may join without being added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinRule {
    /// Anyone who knows the room.
    Open,
    /// Only invited users.
    #[default]
    Invite,
}

/// A member's rank in a room: owner > admin > member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Exactly one per room while it has members; never granted by command.
    Owner,
    /// Manages settings and members ranked below.
    Admin,
    /// Reads and writes.
    #[default]
    Member,
}

impl Role {
    /// Higher is more powerful.
    #[must_use]
    pub const fn rank(self) -> u8 {
        match self {
            Self::Owner => 3,
            Self::Admin => 2,
            Self::Member => 1,
        }
    }

    /// Whether this role may manage the room (settings, members).
    #[must_use]
    pub const fn is_admin_or_owner(self) -> bool {
        self.rank() >= Self::Admin.rank()
    }
}

/// Which receipt a member reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// The member's device has the messages.
    Delivered,
    /// The member has seen them (implies delivered).
    Read,
}

/// Points at a message in some room (for forwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    pub room_id: RoomId,
    pub message_id: MessageId,
}

/// Events of the [`crate::room::Room`] aggregate.
// `MessageSent` is much larger than the rest; events are built once and moved
// into the store, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoomEvent {
    /// The room exists; `creator` is its owner and `members` (creator
    /// excluded, in order) are members.
    RoomCreated {
        room_id: RoomId,
        kind: RoomKind,
        name: Option<RoomName>,
        description: Option<RoomDescription>,
        join_rule: JoinRule,
        creator: UserId,
        members: Vec<UserId>,
        at: DateTime<Utc>,
    },
    /// Settings changed; carries all settings so readers overwrite.
    RoomUpdated {
        name: Option<RoomName>,
        description: Option<RoomDescription>,
        photo_file_id: Option<FileId>,
        join_rule: JoinRule,
        by: UserId,
        at: DateTime<Utc>,
    },
    /// `user` may now join.
    MemberInvited { user: UserId, by: UserId, at: DateTime<Utc> },
    /// `user` became a member: joined (`by == user`) or was added by `by`.
    MemberJoined { user: UserId, role: Role, by: UserId, at: DateTime<Utc> },
    /// `user` stopped being a member: left (`by == user`) or was removed by `by`.
    MemberLeft { user: UserId, by: UserId, at: DateTime<Utc> },
    /// `user` now has `role` (also how ownership passes on when an owner leaves).
    MemberRoleChanged { user: UserId, role: Role, by: UserId, at: DateTime<Utc> },
    /// A message was accepted with sequence number `seq`.
    MessageSent {
        message_id: MessageId,
        seq: u64,
        sender_id: UserId,
        client_msg_id: ClientMsgId,
        ciphertext: Ciphertext,
        content_type: ContentType,
        reply_to: Option<MessageId>,
        file_ids: Vec<FileId>,
        forwarded_from: Option<MessageRef>,
        commitment: Option<Commitment>,
        reporting_tag: Option<Base64Bytes>,
        franking_key_id: Option<FrankingKeyId>,
        sent_at: DateTime<Utc>,
    },
    /// The sender replaced a message's ciphertext.
    MessageEdited { message_id: MessageId, seq: u64, by: UserId, ciphertext: Ciphertext, at: DateTime<Utc> },
    /// A message was deleted for everyone (by its sender or an admin).
    MessageDeleted { message_id: MessageId, seq: u64, by: UserId, at: DateTime<Utc> },
    /// A message was hidden for `user` only.
    MessageHidden { message_id: MessageId, seq: u64, user: UserId, at: DateTime<Utc> },
    /// `user`'s receipt of `kind` advanced to `up_to_seq`.
    ReceiptUpdated { user: UserId, kind: ReceiptKind, up_to_seq: u64, at: DateTime<Utc> },
    /// An instance moderator removed a message for everyone.
    MessageTakenDown {
        message_id: MessageId,
        seq: u64,
        moderator: UserId,
        report_id: Option<ReportId>,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RoomEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::RoomCreated { .. } => "RoomCreated",
            Self::RoomUpdated { .. } => "RoomUpdated",
            Self::MemberInvited { .. } => "MemberInvited",
            Self::MemberJoined { .. } => "MemberJoined",
            Self::MemberLeft { .. } => "MemberLeft",
            Self::MemberRoleChanged { .. } => "MemberRoleChanged",
            Self::MessageSent { .. } => "MessageSent",
            Self::MessageEdited { .. } => "MessageEdited",
            Self::MessageDeleted { .. } => "MessageDeleted",
            Self::MessageHidden { .. } => "MessageHidden",
            Self::ReceiptUpdated { .. } => "ReceiptUpdated",
            Self::MessageTakenDown { .. } => "MessageTakenDown",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        crate::EVENT_VERSION.to_owned()
    }
}
