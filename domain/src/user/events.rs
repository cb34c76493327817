//! What happened to a user, in the past tense, plus the value types the events carry.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::devices::DeviceName;
use super::push::{PushRemoval, PushTarget};
use crate::ids::{DeviceId, FileId, RoomId, UserId};
use crate::values::{Base64Bytes, Bio, DisplayName, Email, ModeratorNote, PhoneNumber, Username};

/// Who may see when a user was last online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastSeenVisibility {
    /// Every user.
    #[default]
    Everybody,
    /// Only users in their contact list.
    Contacts,
    /// No one.
    Nobody,
}

/// A user's privacy and notification preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Who may see "last seen".
    pub last_seen_visible_to: LastSeenVisibility,
    /// Whether push notifications are sent at all.
    pub notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { last_seen_visible_to: LastSeenVisibility::Everybody, notifications: true }
    }
}

/// A user's role on this instance (not in a room).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceRole {
    /// An ordinary user.
    #[default]
    User,
    /// May moderate: resolve reports, take content down, promote admins.
    Admin,
}

/// The medium-term signed prekey of a Signal key bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPrekey {
    /// Client-chosen key id.
    pub key_id: u32,
    /// The public key.
    pub public_key: Base64Bytes,
    /// Signature over the public key by the identity key.
    pub signature: Base64Bytes,
}

/// A one-time prekey: handed to at most one peer, then gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePrekey {
    /// Client-chosen key id, unique within the pool.
    pub key_id: u32,
    /// The public key.
    pub public_key: Base64Bytes,
}

/// The version of the user events that name a device (see [`UserEvent`]).
pub const DEVICE_EVENT_VERSION: &str = "2";

/// Events of the [`crate::user::User`] aggregate.
///
/// Version 2 of the key events names the device the keys belong to, and of
/// `UserRegistered` the device it was made on; version 1 (written before
/// devices existed) is lifted to version 2 on the user's first device
/// ([`DeviceId::first_of`]) by [`crate::upcast::upcasters`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    /// The account was created with exactly one of email or phone, on its first device.
    UserRegistered {
        user_id: UserId,
        email: Option<Email>,
        phone: Option<PhoneNumber>,
        display_name: DisplayName,
        device_id: DeviceId,
        device_name: Option<DeviceName>,
        at: DateTime<Utc>,
    },
    /// The profile changed; carries the whole new profile so readers overwrite
    /// rather than merge (and a cleared field is simply absent).
    ProfileUpdated {
        display_name: DisplayName,
        username: Option<Username>,
        bio: Option<Bio>,
        avatar_file_id: Option<FileId>,
        at: DateTime<Utc>,
    },
    /// The settings changed; carries the whole new settings.
    SettingsUpdated { last_seen_visible_to: LastSeenVisibility, notifications: bool, at: DateTime<Utc> },
    /// A device joined the account (a login or verification on it).
    DeviceAdded { device_id: DeviceId, name: Option<DeviceName>, at: DateTime<Utc> },
    /// A device was given a new name.
    DeviceRenamed { device_id: DeviceId, name: DeviceName, at: DateTime<Utc> },
    /// A device left the account (signed out or removed), its keys with it.
    DeviceRemoved { device_id: DeviceId, at: DateTime<Utc> },
    /// A fresh key bundle replaced the device's previous one, one-time pool included.
    KeysPublished {
        device_id: DeviceId,
        identity_key: Base64Bytes,
        signed_prekey: SignedPrekey,
        one_time_prekeys: Vec<OneTimePrekey>,
        at: DateTime<Utc>,
    },
    /// More one-time prekeys were uploaded for a device.
    OneTimePrekeysAdded { device_id: DeviceId, keys: Vec<OneTimePrekey>, at: DateTime<Utc> },
    /// One of a device's one-time prekeys was handed to `claimed_by` and left its pool.
    OneTimePrekeyClaimed {
        device_id: DeviceId,
        key_id: u32,
        public_key: Base64Bytes,
        claimed_by: UserId,
        at: DateTime<Utc>,
    },
    /// `contact` joined the contact list.
    ContactAdded { contact: UserId, at: DateTime<Utc> },
    /// `contact` left the contact list (rooms and history are untouched).
    ContactRemoved { contact: UserId, at: DateTime<Utc> },
    /// `blocked` was blocked.
    UserBlocked { blocked: UserId, at: DateTime<Utc> },
    /// `blocked` was unblocked.
    UserUnblocked { blocked: UserId, at: DateTime<Utc> },
    /// The user became an instance admin; `by` is `None` when named by configuration.
    AdminGranted { by: Option<UserId>, at: DateTime<Utc> },
    /// The user is an instance admin no more; `by` is `None` when their
    /// address left the configuration's list.
    AdminRevoked { by: Option<UserId>, at: DateTime<Utc> },
    /// An admin suspended the user, until `until` or until lifted; a new
    /// suspension replaces the previous one.
    UserSuspended { by: UserId, reason: ModeratorNote, until: Option<DateTime<Utc>>, at: DateTime<Utc> },
    /// An admin lifted the user's suspension before it ran out.
    SuspensionLifted { by: UserId, at: DateTime<Utc> },
    /// The device is woken at `target` while offline (replacing any earlier target).
    PushRegistered { device_id: DeviceId, target: PushTarget, at: DateTime<Utc> },
    /// The device is no longer woken.
    PushUnregistered { device_id: DeviceId, reason: PushRemoval, at: DateTime<Utc> },
    /// No pushes for the room's messages until `until` (for good when `None`).
    RoomMuted { room_id: RoomId, until: Option<DateTime<Utc>>, at: DateTime<Utc> },
    /// The room's messages are pushed again.
    RoomUnmuted { room_id: RoomId, at: DateTime<Utc> },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::SettingsUpdated { .. } => "SettingsUpdated",
            Self::DeviceAdded { .. } => "DeviceAdded",
            Self::DeviceRenamed { .. } => "DeviceRenamed",
            Self::DeviceRemoved { .. } => "DeviceRemoved",
            Self::KeysPublished { .. } => "KeysPublished",
            Self::OneTimePrekeysAdded { .. } => "OneTimePrekeysAdded",
            Self::OneTimePrekeyClaimed { .. } => "OneTimePrekeyClaimed",
            Self::ContactAdded { .. } => "ContactAdded",
            Self::ContactRemoved { .. } => "ContactRemoved",
            Self::UserBlocked { .. } => "UserBlocked",
            Self::UserUnblocked { .. } => "UserUnblocked",
            Self::AdminGranted { .. } => "AdminGranted",
            Self::AdminRevoked { .. } => "AdminRevoked",
            Self::UserSuspended { .. } => "UserSuspended",
            Self::SuspensionLifted { .. } => "SuspensionLifted",
            Self::PushRegistered { .. } => "PushRegistered",
            Self::PushUnregistered { .. } => "PushUnregistered",
            Self::RoomMuted { .. } => "RoomMuted",
            Self::RoomUnmuted { .. } => "RoomUnmuted",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::UserRegistered { .. }
            | Self::KeysPublished { .. }
            | Self::OneTimePrekeysAdded { .. }
            | Self::OneTimePrekeyClaimed { .. } => DEVICE_EVENT_VERSION.to_owned(),
            _ => crate::EVENT_VERSION.to_owned(),
        }
    }
}
