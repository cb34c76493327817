//! What can be asked of a room. Values arrive validated; ids and times come
//! from the caller so `handle` is deterministic.

use chrono::{DateTime, Utc};

use super::events::{JoinRule, MessageRef, ReceiptKind, Role, RoomKind};
use crate::ids::{FileId, MessageId, ReportId, RoomId, UserId};
use crate::values::{
    Base64Bytes, Ciphertext, ClientMsgId, Commitment, ContentType, FrankingKeyId, RoomDescription, RoomName,
};

/// For whom a message is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeleteScope {
    /// Everyone: the sender or an admin/owner only.
    ForEveryone,
    /// Only the caller: any member.
    ForMe,
}

/// Commands of the [`crate::room::Room`] aggregate.
///
/// Fields typed `Option<Option<T>>` are patches: `None` keeps the current
/// value, `Some(None)` clears it, `Some(Some(v))` sets it.
// `SendMessage` dwarfs the rest; commands are built once and consumed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RoomCommand {
    /// Create the room. The creator becomes owner; `members` join as members.
    /// A direct room needs exactly one other member and is refused when
    /// either side has blocked the other.
    CreateRoom {
        room_id: RoomId,
        kind: RoomKind,
        name: Option<RoomName>,
        description: Option<RoomDescription>,
        join_rule: JoinRule,
        creator: UserId,
        members: Vec<UserId>,
        at: DateTime<Utc>,
    },
    /// Change settings (admins and owner of a group).
    UpdateRoom {
        actor: UserId,
        name: Option<RoomName>,
        description: Option<Option<RoomDescription>>,
        photo_file_id: Option<Option<FileId>>,
        join_rule: Option<JoinRule>,
        at: DateTime<Utc>,
    },
    /// Let `user` join (any member of a group may invite).
    InviteMember { actor: UserId, user: UserId, at: DateTime<Utc> },
    /// Join an open room, or one the user was invited to; in a direct room,
    /// one of its pair opening it again: whoever of the two had left returns.
    JoinRoom { user: UserId, at: DateTime<Utc> },
    /// Leave; an owner hands ownership on first.
    LeaveRoom { user: UserId, at: DateTime<Utc> },
    /// Add `user` with `role` (admins and owner; never `Owner`).
    AddMember { actor: UserId, user: UserId, role: Role, at: DateTime<Utc> },
    /// Change a lower-ranked member's role (admins and owner; never to `Owner`).
    ChangeRole { actor: UserId, user: UserId, role: Role, at: DateTime<Utc> },
    /// Remove a lower-ranked member (admins and owner).
    RemoveMember { actor: UserId, user: UserId, at: DateTime<Utc> },
    /// Send a message. A repeated `(sender, client_msg_id)` within the
    /// idempotency window emits nothing; read the original with
    /// [`crate::room::Room::find_client_message`]. Franking: either
    /// `commitment` alone, and the room's [`crate::room::Franker`] makes the
    /// tag over the seq it assigns, or all three fields (a tag the caller
    /// computed over [`crate::room::Room::next_seq`]), or none.
    SendMessage {
        message_id: MessageId,
        sender: UserId,
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
    /// Replace a message's ciphertext (its sender, within 48 hours).
    EditMessage { actor: UserId, message_id: MessageId, ciphertext: Ciphertext, at: DateTime<Utc> },
    /// Delete for everyone or hide for the caller.
    DeleteMessage { actor: UserId, message_id: MessageId, scope: DeleteScope, at: DateTime<Utc> },
    /// Advance a delivered or read receipt (never backwards, never past the last message).
    UpdateReceipt { user: UserId, up_to_seq: u64, kind: ReceiptKind, at: DateTime<Utc> },
    /// Remove a message as an instance moderator; membership is not required
    /// (the caller checks the moderator is an instance admin).
    TakeDownMessage {
        moderator: UserId,
        message_id: MessageId,
        report_id: Option<ReportId>,
        at: DateTime<Utc>,
    },
}
