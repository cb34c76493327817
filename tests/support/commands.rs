//! Commands straight through a write model (no HTTP), as another process's
//! command side would run them: for tests of the write, read and delivery paths.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ciphertalk_commands::{CommandMetadata, WriteModel};
use ciphertalk_domain::room::{JoinRule, RoomCommand, RoomKind};
use ciphertalk_domain::testing::SendMessageBuilder;
use ciphertalk_domain::user::UserCommand;
use ciphertalk_domain::values::{Ciphertext, ClientMsgId, DisplayName, Email, RoomName};
use ciphertalk_domain::{DeviceId, MessageId, RoomId, UserId};

pub fn meta(actor: UserId) -> CommandMetadata {
    CommandMetadata::new(actor.to_string(), Some("test".into()))
}

/// Base64 of `body`, as a client's ciphertext.
pub fn ciphertext(body: impl AsRef<[u8]>) -> Ciphertext {
    Ciphertext::parse(&STANDARD.encode(body)).unwrap()
}

/// A message `id` of `body` sent now, its client id the message id.
pub fn message(id: MessageId, sender: UserId, body: impl AsRef<[u8]>) -> SendMessageBuilder {
    SendMessageBuilder::new(
        id,
        sender,
        ClientMsgId::parse(&id.to_string()).unwrap(),
        ciphertext(body),
        Utc::now(),
    )
}

/// A write model to run commands through.
pub struct Commands<'a>(pub &'a WriteModel);

impl Commands<'_> {
    /// Registers `name` (no password, no HTTP): an id for the other commands.
    pub async fn register(&self, name: &str) -> UserId {
        let id = UserId::new_v7();
        let command = UserCommand::RegisterUser {
            user_id: id,
            email: Some(Email::parse(&format!("{}@example.org", id.as_uuid().simple())).unwrap()),
            phone: None,
            display_name: DisplayName::parse(name).unwrap(),
            device_id: DeviceId::first_of(id),
            device_name: None,
            at: Utc::now(),
        };
        self.user(id, command).await;
        id
    }

    pub async fn user(&self, user: UserId, command: UserCommand) {
        self.0.users.execute(&user.to_string(), command, &meta(user)).await.unwrap();
    }

    /// Runs a room command; returns the room's aggregate sequence after it.
    pub async fn room(&self, room: RoomId, actor: UserId, command: RoomCommand) -> u64 {
        let done = self.0.rooms.execute(&room.to_string(), command, &meta(actor)).await.unwrap();
        done.sequence as u64
    }

    /// An invite-only group `owner` creates with `members`.
    pub async fn create_group(&self, owner: UserId, members: Vec<UserId>, name: &str) -> RoomId {
        let room = RoomId::new_v7();
        let command = RoomCommand::CreateRoom {
            room_id: room,
            kind: RoomKind::Group,
            name: Some(RoomName::parse(name).unwrap()),
            description: None,
            join_rule: JoinRule::Invite,
            creator: owner,
            members,
            at: Utc::now(),
        };
        self.room(room, owner, command).await;
        room
    }

    /// Sends `body` to `room` as `sender`; returns the message's id.
    pub async fn send(&self, room: RoomId, sender: UserId, body: impl AsRef<[u8]>) -> MessageId {
        let id = MessageId::new_v7();
        self.room(room, sender, message(id, sender, body).build()).await;
        id
    }
}
