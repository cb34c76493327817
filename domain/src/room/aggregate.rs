//! The room aggregate's state and rules.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::{DeleteScope, RoomCommand};
use super::events::{JoinRule, ReceiptKind, Role, RoomEvent, RoomKind};
use super::franking::FrankingInput;
use super::services::{MessageFacts, RoomServices};
use super::window::{IdempotencyWindow, RecentMessage};
use crate::error::DomainError;
use crate::ids::{FileId, MessageId, RoomId, UserId};
use crate::values::{ClientMsgId, RoomDescription, RoomName};

/// How long after sending a message its sender may edit it.
pub const EDIT_WINDOW: TimeDelta = TimeDelta::hours(48);

/// The most files one message may reference.
pub const MAX_FILES_PER_MESSAGE: usize = 32;

/// A member's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub role: Role,
    pub joined_at: DateTime<Utc>,
    /// Join order (lower joined earlier). Breaks ties between members that
    /// joined at the same instant, so succession is deterministic.
    pub seniority: u64,
}

/// How far a member has received and read (sequence numbers, monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub delivered_up_to: u64,
    pub read_up_to: u64,
}

/// A room: settings, members, receipts and message-stream metadata. Bounded
/// by its member count plus [`super::IDEMPOTENCY_WINDOW`], never by its message count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Room {
    id: Option<RoomId>,
    kind: RoomKind,
    name: Option<RoomName>,
    description: Option<RoomDescription>,
    photo_file_id: Option<FileId>,
    join_rule: JoinRule,
    created_at: Option<DateTime<Utc>>,
    members: BTreeMap<UserId, Member>,
    invited: BTreeSet<UserId>,
    direct_pair: Option<[UserId; 2]>,
    last_seq: u64,
    receipts: BTreeMap<UserId, Receipt>,
    recent: IdempotencyWindow,
    next_seniority: u64,
}

impl Room {
    /// The room's id; `None` until created.
    #[must_use]
    pub fn id(&self) -> Option<RoomId> {
        self.id
    }

    /// Whether the room was created.
    #[must_use]
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Direct or group.
    #[must_use]
    pub fn kind(&self) -> RoomKind {
        self.kind
    }

    /// The name, if any.
    #[must_use]
    pub fn name(&self) -> Option<&RoomName> {
        self.name.as_ref()
    }

    /// The description, if any.
    #[must_use]
    pub fn description(&self) -> Option<&RoomDescription> {
        self.description.as_ref()
    }

    /// The photo, if any.
    #[must_use]
    pub fn photo_file_id(&self) -> Option<FileId> {
        self.photo_file_id
    }

    /// Who may join.
    #[must_use]
    pub fn join_rule(&self) -> JoinRule {
        self.join_rule
    }

    /// When it was created.
    #[must_use]
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_at
    }

    /// Current members.
    #[must_use]
    pub fn members(&self) -> &BTreeMap<UserId, Member> {
        &self.members
    }

    /// One member's standing.
    #[must_use]
    pub fn member(&self, user: UserId) -> Option<&Member> {
        self.members.get(&user)
    }

    /// One member's role.
    #[must_use]
    pub fn role_of(&self, user: UserId) -> Option<Role> {
        self.members.get(&user).map(|member| member.role)
    }

    /// Whether `user` is a member.
    #[must_use]
    pub fn is_member(&self, user: UserId) -> bool {
        self.members.contains_key(&user)
    }

    /// Users invited and not yet joined.
    #[must_use]
    pub fn invited(&self) -> &BTreeSet<UserId> {
        &self.invited
    }

    /// The owner; `None` only when the room has no members.
    #[must_use]
    pub fn owner(&self) -> Option<UserId> {
        self.members.iter().find(|(_, member)| member.role == Role::Owner).map(|(id, _)| *id)
    }

    /// The two people of a direct room (creator first), members or not.
    #[must_use]
    pub fn direct_pair(&self) -> Option<[UserId; 2]> {
        self.direct_pair
    }

    /// The sequence number of the last message (0 before the first).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The sequence number the next accepted message will get. Franking
    /// binds it, so the caller computes the reporting tag over this value on
    /// the same loaded aggregate it then hands the command to.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }

    /// A member's receipts.
    #[must_use]
    pub fn receipt(&self, user: UserId) -> Option<Receipt> {
        self.receipts.get(&user).copied()
    }

    /// All members' receipts.
    #[must_use]
    pub fn receipts(&self) -> &BTreeMap<UserId, Receipt> {
        &self.receipts
    }

    /// The idempotency window, oldest first.
    #[must_use]
    pub fn recent_messages(&self) -> &IdempotencyWindow {
        &self.recent
    }

    /// The message an earlier send with this `(sender, client_msg_id)`
    /// produced, while it is still in the idempotency window.
    #[must_use]
    pub fn find_client_message(
        &self,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Option<(MessageId, u64)> {
        self.recent.find(sender, client_msg_id.as_str())
    }

    fn require_created(&self) -> Result<RoomId, DomainError> {
        self.id.ok_or(DomainError::RoomNotFound)
    }

    fn require_member(&self, user: UserId) -> Result<Role, DomainError> {
        self.role_of(user).ok_or(DomainError::NotAMember)
    }

    fn require_group(&self, reason: &'static str) -> Result<(), DomainError> {
        match self.kind {
            RoomKind::Group => Ok(()),
            RoomKind::Direct => Err(DomainError::Forbidden(reason)),
        }
    }

    fn require_room_for_one_more(&self, services: &RoomServices) -> Result<(), DomainError> {
        if self.members.len() >= services.max_members() {
            return Err(DomainError::RoomFull);
        }
        Ok(())
    }

    /// Who owns the room once `leaving` (the owner) is gone: the
    /// longest-standing admin, else the longest-standing member.
    fn successor(&self, leaving: UserId) -> Option<UserId> {
        self.members
            .iter()
            .filter(|(id, _)| **id != leaving)
            .min_by_key(|(_, member)| (Reverse(member.role.rank()), member.seniority))
            .map(|(id, _)| *id)
    }

    /// One of a direct room's pair opens it again: whoever of the two is not
    /// a member any more returns (the first back owns it when nobody does),
    /// unless either blocked the other. Nobody else ever joins it.
    async fn return_to_direct_room(
        &self,
        services: &RoomServices,
        pair: [UserId; 2],
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<Vec<RoomEvent>, DomainError> {
        if !pair.contains(&user) {
            return Err(DomainError::Forbidden("direct rooms cannot be joined"));
        }
        let away: Vec<UserId> = pair.into_iter().filter(|member| !self.is_member(*member)).collect();
        if away.is_empty() {
            return Err(DomainError::AlreadyMember);
        }
        let [a, b] = pair;
        let lookup = services.lookup();
        if lookup.is_blocked(a, b).await? || lookup.is_blocked(b, a).await? {
            return Err(DomainError::Blocked);
        }
        let mut owned = self.owner().is_some();
        Ok(away
            .into_iter()
            .map(|member| {
                let role = if owned { Role::Member } else { Role::Owner };
                owned = true;
                RoomEvent::MemberJoined { user: member, role, by: user, at }
            })
            .collect())
    }

    async fn message_facts(
        &self,
        services: &RoomServices,
        room: RoomId,
        message: MessageId,
    ) -> Result<MessageFacts, DomainError> {
        services.lookup().message(room, message).await?.ok_or(DomainError::MessageNotFound)
    }

    /// Decides the events for `command` without changing anything, so a
    /// refused command leaves the aggregate untouched.
    async fn decide(
        &self,
        command: RoomCommand,
        services: &RoomServices,
    ) -> Result<Vec<RoomEvent>, DomainError> {
        match command {
            RoomCommand::CreateRoom { room_id, kind, name, description, join_rule, creator, members, at } => {
                if self.id.is_some() {
                    return Err(DomainError::AlreadyExists);
                }
                let mut seen = BTreeSet::from([creator]);
                let members: Vec<UserId> =
                    members.into_iter().filter(|member| seen.insert(*member)).collect();
                let max = services.max_members();
                if members.len() >= max {
                    return Err(DomainError::invalid("members", format!("a room has at most {max} members")));
                }
                let join_rule = match kind {
                    RoomKind::Group => join_rule,
                    RoomKind::Direct => {
                        let [other] = members.as_slice() else {
                            return Err(DomainError::invalid(
                                "members",
                                "a direct room has exactly one other member",
                            ));
                        };
                        let lookup = services.lookup();
                        if lookup.is_blocked(creator, *other).await?
                            || lookup.is_blocked(*other, creator).await?
                        {
                            return Err(DomainError::Blocked);
                        }
                        JoinRule::Invite
                    }
                };
                Ok(vec![RoomEvent::RoomCreated {
                    room_id,
                    kind,
                    name,
                    description,
                    join_rule,
                    creator,
                    members,
                    at,
                }])
            }
            RoomCommand::UpdateRoom { actor, name, description, photo_file_id, join_rule, at } => {
                self.require_created()?;
                let role = self.require_member(actor)?;
                self.require_group("direct rooms have no settings")?;
                if !role.is_admin_or_owner() {
                    return Err(DomainError::Forbidden("only admins and the owner may change room settings"));
                }
                let name = name.or_else(|| self.name.clone());
                let description = description.unwrap_or_else(|| self.description.clone());
                let photo_file_id = photo_file_id.unwrap_or(self.photo_file_id);
                let join_rule = join_rule.unwrap_or(self.join_rule);
                let unchanged = name == self.name
                    && description == self.description
                    && photo_file_id == self.photo_file_id
                    && join_rule == self.join_rule;
                if unchanged {
                    return Ok(Vec::new());
                }
                Ok(vec![RoomEvent::RoomUpdated {
                    name,
                    description,
                    photo_file_id,
                    join_rule,
                    by: actor,
                    at,
                }])
            }
            RoomCommand::InviteMember { actor, user, at } => {
                self.require_created()?;
                self.require_member(actor)?;
                self.require_group("direct rooms take no invites")?;
                if self.is_member(user) {
                    return Err(DomainError::AlreadyMember);
                }
                if self.invited.contains(&user) {
                    return Ok(Vec::new());
                }
                Ok(vec![RoomEvent::MemberInvited { user, by: actor, at }])
            }
            RoomCommand::JoinRoom { user, at } => {
                self.require_created()?;
                if let Some(pair) = self.direct_pair {
                    return self.return_to_direct_room(services, pair, user, at).await;
                }
                if self.is_member(user) {
                    return Err(DomainError::AlreadyMember);
                }
                // Once the last member has left nobody can own the room again,
                // so it stays closed rather than gaining an ownerless member.
                if self.members.is_empty() {
                    return Err(DomainError::Gone);
                }
                if self.join_rule != JoinRule::Open && !self.invited.contains(&user) {
                    return Err(DomainError::Forbidden("the room is invite-only"));
                }
                self.require_room_for_one_more(services)?;
                Ok(vec![RoomEvent::MemberJoined { user, role: Role::Member, by: user, at }])
            }
            RoomCommand::LeaveRoom { user, at } => {
                self.require_created()?;
                let role = self.require_member(user)?;
                let mut events = Vec::with_capacity(2);
                // Hand ownership on before leaving, so the room never has
                // members without an owner.
                if role == Role::Owner
                    && let Some(successor) = self.successor(user)
                {
                    events.push(RoomEvent::MemberRoleChanged {
                        user: successor,
                        role: Role::Owner,
                        by: user,
                        at,
                    });
                }
                events.push(RoomEvent::MemberLeft { user, by: user, at });
                Ok(events)
            }
            RoomCommand::AddMember { actor, user, role, at } => {
                self.require_created()?;
                let actor_role = self.require_member(actor)?;
                self.require_group("direct rooms have exactly two members")?;
                require_grantable(actor_role, role)?;
                if self.is_member(user) {
                    return Err(DomainError::AlreadyMember);
                }
                self.require_room_for_one_more(services)?;
                Ok(vec![RoomEvent::MemberJoined { user, role, by: actor, at }])
            }
            RoomCommand::ChangeRole { actor, user, role, at } => {
                self.require_created()?;
                let actor_role = self.require_member(actor)?;
                self.require_group("direct rooms have no roles to change")?;
                require_grantable(actor_role, role)?;
                let target = self.role_of(user).ok_or(DomainError::MemberNotFound)?;
                require_outranks(actor_role, target)?;
                if target == role {
                    return Ok(Vec::new());
                }
                Ok(vec![RoomEvent::MemberRoleChanged { user, role, by: actor, at }])
            }
            RoomCommand::RemoveMember { actor, user, at } => {
                self.require_created()?;
                let actor_role = self.require_member(actor)?;
                self.require_group("direct rooms have exactly two members")?;
                if !actor_role.is_admin_or_owner() {
                    return Err(DomainError::Forbidden("only admins and the owner may manage members"));
                }
                let target = self.role_of(user).ok_or(DomainError::MemberNotFound)?;
                require_outranks(actor_role, target)?;
                Ok(vec![RoomEvent::MemberLeft { user, by: actor, at }])
            }
            RoomCommand::SendMessage {
                message_id,
                sender,
                client_msg_id,
                ciphertext,
                content_type,
                reply_to,
                file_ids,
                forwarded_from,
                commitment,
                reporting_tag,
                franking_key_id,
                sent_at,
            } => {
                let room = self.require_created()?;
                self.require_member(sender)?;
                // A retry of an accepted send: no new message, whatever else changed.
                if self.find_client_message(sender, &client_msg_id).is_some() {
                    return Ok(Vec::new());
                }
                let (reporting_tag, franking_key_id) = match (&commitment, reporting_tag, franking_key_id) {
                    (None, None, None) => (None, None),
                    (Some(_), Some(tag), Some(key_id)) => (Some(tag), Some(key_id)),
                    // The server franks: tag computed here, over the seq this
                    // very decision assigns, so it can never name another seq.
                    (Some(commitment), None, None) => {
                        let franker = services
                            .franker()
                            .ok_or(DomainError::Forbidden("this server does not frank messages"))?;
                        let input = FrankingInput {
                            message_id,
                            room_id: room,
                            sender_id: sender,
                            seq: self.next_seq(),
                            sent_at,
                            franking_key_id: franker.key_id(),
                            commitment,
                        };
                        (Some(franker.tag(&input.encode())), Some(franker.key_id().clone()))
                    }
                    _ => {
                        return Err(DomainError::invalid(
                            "commitment",
                            "commitment, reporting_tag and franking_key_id come together",
                        ));
                    }
                };
                if file_ids.len() > MAX_FILES_PER_MESSAGE {
                    return Err(DomainError::invalid(
                        "file_ids",
                        format!("at most {MAX_FILES_PER_MESSAGE} files per message"),
                    ));
                }
                let mut seen = HashSet::with_capacity(file_ids.len());
                if !file_ids.iter().all(|file| seen.insert(*file)) {
                    return Err(DomainError::invalid("file_ids", "duplicate file id"));
                }
                if let Some(pair) = self.direct_pair
                    && let Some(other) = pair.into_iter().find(|user| *user != sender)
                    && services.lookup().is_blocked(other, sender).await?
                {
                    return Err(DomainError::Blocked);
                }
                if let Some(reply_to) = reply_to {
                    self.message_facts(services, room, reply_to).await?;
                }
                Ok(vec![RoomEvent::MessageSent {
                    message_id,
                    seq: self.next_seq(),
                    sender_id: sender,
                    client_msg_id,
                    ciphertext,
                    content_type,
                    reply_to,
                    file_ids,
                    forwarded_from,
                    commitment,
                    reporting_tag,
                    franking_key_id,
                    sent_at,
                }])
            }
            RoomCommand::EditMessage { actor, message_id, ciphertext, at } => {
                let room = self.require_created()?;
                self.require_member(actor)?;
                let facts = self.message_facts(services, room, message_id).await?;
                if facts.deleted {
                    return Err(DomainError::Gone);
                }
                if facts.sender_id != actor {
                    return Err(DomainError::Forbidden("only the sender may edit a message"));
                }
                if at - facts.sent_at > EDIT_WINDOW {
                    return Err(DomainError::EditWindowClosed);
                }
                Ok(vec![RoomEvent::MessageEdited { message_id, seq: facts.seq, by: actor, ciphertext, at }])
            }
            RoomCommand::DeleteMessage { actor, message_id, scope, at } => {
                let room = self.require_created()?;
                let role = self.require_member(actor)?;
                let facts = self.message_facts(services, room, message_id).await?;
                match scope {
                    DeleteScope::ForMe => {
                        Ok(vec![RoomEvent::MessageHidden { message_id, seq: facts.seq, user: actor, at }])
                    }
                    DeleteScope::ForEveryone => {
                        if facts.sender_id != actor && !role.is_admin_or_owner() {
                            return Err(DomainError::Forbidden(
                                "only the sender or an admin may delete a message for everyone",
                            ));
                        }
                        if facts.deleted {
                            return Ok(Vec::new());
                        }
                        Ok(vec![RoomEvent::MessageDeleted { message_id, seq: facts.seq, by: actor, at }])
                    }
                }
            }
            RoomCommand::UpdateReceipt { user, up_to_seq, kind, at } => {
                self.require_created()?;
                self.require_member(user)?;
                if up_to_seq > self.last_seq {
                    return Err(DomainError::invalid("up_to_seq", "is beyond the last message"));
                }
                let current = self.receipt(user).unwrap_or_default();
                let reached = match kind {
                    ReceiptKind::Delivered => current.delivered_up_to,
                    ReceiptKind::Read => current.read_up_to,
                };
                if up_to_seq <= reached {
                    return Ok(Vec::new());
                }
                Ok(vec![RoomEvent::ReceiptUpdated { user, kind, up_to_seq, at }])
            }
            RoomCommand::TakeDownMessage { moderator, message_id, report_id, at } => {
                let room = self.require_created()?;
                let facts = self.message_facts(services, room, message_id).await?;
                Ok(vec![RoomEvent::MessageTakenDown { message_id, seq: facts.seq, moderator, report_id, at }])
            }
        }
    }
}

/// Managing members takes admin or owner, and nobody grants the owner role
/// or a role above their own.
fn require_grantable(actor: Role, role: Role) -> Result<(), DomainError> {
    if !actor.is_admin_or_owner() {
        return Err(DomainError::Forbidden("only admins and the owner may manage members"));
    }
    if role == Role::Owner || role.rank() > actor.rank() {
        return Err(DomainError::Forbidden("cannot grant this role"));
    }
    Ok(())
}

/// An actor acts only on members ranked strictly below them.
fn require_outranks(actor: Role, target: Role) -> Result<(), DomainError> {
    if target.rank() >= actor.rank() {
        return Err(DomainError::Forbidden("may only act on members ranked below you"));
    }
    Ok(())
}

impl Aggregate for Room {
    const TYPE: &'static str = "room";
    type Command = RoomCommand;
    type Event = RoomEvent;
    type Error = DomainError;
    type Services = RoomServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services).await? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            RoomEvent::RoomCreated { room_id, kind, name, description, join_rule, creator, members, at } => {
                self.id = Some(room_id);
                self.kind = kind;
                self.name = name;
                self.description = description;
                self.join_rule = join_rule;
                self.created_at = Some(at);
                if kind == RoomKind::Direct
                    && let Some(other) = members.first()
                {
                    self.direct_pair = Some([creator, *other]);
                }
                self.add_member(creator, Role::Owner, at);
                for member in members {
                    self.add_member(member, Role::Member, at);
                }
            }
            RoomEvent::RoomUpdated { name, description, photo_file_id, join_rule, .. } => {
                self.name = name;
                self.description = description;
                self.photo_file_id = photo_file_id;
                self.join_rule = join_rule;
            }
            RoomEvent::MemberInvited { user, .. } => {
                self.invited.insert(user);
            }
            RoomEvent::MemberJoined { user, role, at, .. } => {
                self.invited.remove(&user);
                self.add_member(user, role, at);
            }
            RoomEvent::MemberLeft { user, .. } => {
                self.members.remove(&user);
                self.receipts.remove(&user);
            }
            RoomEvent::MemberRoleChanged { user, role, .. } => {
                if let Some(member) = self.members.get_mut(&user) {
                    member.role = role;
                }
            }
            RoomEvent::MessageSent { message_id, seq, sender_id, client_msg_id, .. } => {
                self.last_seq = self.last_seq.max(seq);
                let client_msg_id = Arc::from(client_msg_id.as_str());
                // FIFO eviction here, in `apply`, so every replay and every
                // snapshot agrees on the window's content.
                self.recent.push(RecentMessage { sender: sender_id, client_msg_id, message_id, seq });
            }
            RoomEvent::ReceiptUpdated { user, kind, up_to_seq, .. } => {
                let receipt = self.receipts.entry(user).or_default();
                // Reading implies delivery; both only move forwards.
                receipt.delivered_up_to = receipt.delivered_up_to.max(up_to_seq);
                if kind == ReceiptKind::Read {
                    receipt.read_up_to = receipt.read_up_to.max(up_to_seq);
                }
            }
            // Per-message facts live in the read models, not in the room.
            RoomEvent::MessageEdited { .. }
            | RoomEvent::MessageDeleted { .. }
            | RoomEvent::MessageHidden { .. }
            | RoomEvent::MessageTakenDown { .. } => {}
        }
    }
}

impl Room {
    fn add_member(&mut self, user: UserId, role: Role, at: DateTime<Utc>) {
        self.members.insert(user, Member { role, joined_at: at, seniority: self.next_seniority });
        self.next_seniority += 1;
    }
}
