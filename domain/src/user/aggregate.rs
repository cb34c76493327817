//! The user aggregate's state and rules.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::UserCommand;
use super::devices::{Device, Devices};
use super::events::{InstanceRole, Settings, UserEvent};
use super::keys::{KeyDirectory, NO_KEYS};
use crate::error::DomainError;
use crate::ids::{DeviceId, FileId, UserId};
use crate::values::{Bio, DisplayName, Email, ModeratorNote, PhoneNumber, Username};

/// Account and profile fields, present once the user is registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: UserId,
    pub email: Option<Email>,
    pub phone: Option<PhoneNumber>,
    pub username: Option<Username>,
    pub display_name: DisplayName,
    pub bio: Option<Bio>,
    pub avatar_file_id: Option<FileId>,
    pub created_at: DateTime<Utc>,
}

/// An admin's suspension of a user: in force from `since` until `until`
/// (for good when `None`) or until lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    pub by: UserId,
    pub reason: ModeratorNote,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl Suspension {
    /// Whether the suspension is in force at `at`.
    #[must_use]
    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| at < until)
    }
}

/// A user: account, settings, instance role, suspension, devices (with their
/// keys), contacts and blocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredUser")]
pub struct User {
    account: Option<Account>,
    settings: Settings,
    role: InstanceRole,
    /// Whether the admin role came from the configuration's list (not from
    /// another admin): only such an admin is demoted when the list drops them.
    admin_by_configuration: bool,
    /// The latest suspension, kept after it runs out (`until` decides).
    suspension: Option<Suspension>,
    devices: Devices,
    contacts: BTreeSet<UserId>,
    blocks: BTreeSet<UserId>,
}

/// A user as a snapshot holds it: today's form, or the form written before
/// devices existed (with the user's `keys` and no `devices`), which loads
/// with those keys on the user's first device, as the upcast events would.
#[derive(Deserialize)]
struct StoredUser {
    account: Option<Account>,
    settings: Settings,
    role: InstanceRole,
    #[serde(default)]
    admin_by_configuration: bool,
    #[serde(default)]
    suspension: Option<Suspension>,
    devices: Option<Devices>,
    keys: Option<KeyDirectory>,
    contacts: BTreeSet<UserId>,
    blocks: BTreeSet<UserId>,
}

impl From<StoredUser> for User {
    fn from(stored: StoredUser) -> Self {
        let devices = stored.devices.unwrap_or_else(|| {
            let mut devices = Devices::default();
            if let Some(account) = &stored.account {
                let mut first = Device::new(DeviceId::first_of(account.user_id), None, account.created_at);
                first.keys = stored.keys.unwrap_or_default();
                devices.add(first);
            }
            devices
        });
        Self {
            account: stored.account,
            settings: stored.settings,
            role: stored.role,
            admin_by_configuration: stored.admin_by_configuration,
            suspension: stored.suspension,
            devices,
            contacts: stored.contacts,
            blocks: stored.blocks,
        }
    }
}

impl User {
    /// Account and profile; `None` until registered.
    #[must_use]
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// The user's id; `None` until registered.
    #[must_use]
    pub fn id(&self) -> Option<UserId> {
        self.account.as_ref().map(|account| account.user_id)
    }

    /// Current settings.
    #[must_use]
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Instance role.
    #[must_use]
    pub fn role(&self) -> InstanceRole {
        self.role
    }

    /// Whether the user is an instance admin.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.role == InstanceRole::Admin
    }

    /// Whether the user is an admin because the configuration names them.
    #[must_use]
    pub fn is_admin_by_configuration(&self) -> bool {
        self.is_admin() && self.admin_by_configuration
    }

    /// The suspension in force at `at`, if any.
    #[must_use]
    pub fn suspension_at(&self, at: DateTime<Utc>) -> Option<&Suspension> {
        self.suspension.as_ref().filter(|suspension| suspension.in_force_at(at))
    }

    /// The user's devices, oldest first.
    #[must_use]
    pub fn devices(&self) -> &Devices {
        &self.devices
    }

    /// One device's keys (identity key, signed prekey, one-time pool); an
    /// unknown or removed device has none.
    #[must_use]
    pub fn keys_of(&self, device_id: DeviceId) -> &KeyDirectory {
        self.devices.get(device_id).map_or(&*NO_KEYS, |device| &device.keys)
    }

    /// Contacts, in id order (the read side sorts by name).
    #[must_use]
    pub fn contacts(&self) -> &BTreeSet<UserId> {
        &self.contacts
    }

    /// Users this user has blocked.
    #[must_use]
    pub fn blocks(&self) -> &BTreeSet<UserId> {
        &self.blocks
    }

    /// Whether this user has blocked `other`.
    #[must_use]
    pub fn has_blocked(&self, other: UserId) -> bool {
        self.blocks.contains(&other)
    }

    /// Decides the events for `command` without changing anything, so a
    /// refused command leaves the aggregate untouched.
    fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, DomainError> {
        if let UserCommand::RegisterUser { user_id, email, phone, display_name, device_id, device_name, at } =
            command
        {
            if self.account.is_some() {
                return Err(DomainError::AlreadyExists);
            }
            if email.is_some() == phone.is_some() {
                return Err(DomainError::invalid("email", "exactly one of email and phone is required"));
            }
            return Ok(vec![UserEvent::UserRegistered {
                user_id,
                email,
                phone,
                display_name,
                device_id,
                device_name,
                at,
            }]);
        }
        let account = self.account.as_ref().ok_or(DomainError::NotFound)?;
        let me = account.user_id;
        if command.by_the_user_at().is_some_and(|at| self.suspension_at(at).is_some()) {
            return Err(DomainError::Suspended);
        }
        let events = match command {
            // Decided above, before the registration check.
            UserCommand::RegisterUser { .. } => Vec::new(),
            UserCommand::UpdateProfile { display_name, username, bio, avatar_file_id, at } => {
                let display_name = display_name.unwrap_or_else(|| account.display_name.clone());
                let username = username.or_else(|| account.username.clone());
                let bio = bio.unwrap_or_else(|| account.bio.clone());
                let avatar_file_id = avatar_file_id.unwrap_or(account.avatar_file_id);
                let unchanged = display_name == account.display_name
                    && username == account.username
                    && bio == account.bio
                    && avatar_file_id == account.avatar_file_id;
                if unchanged {
                    Vec::new()
                } else {
                    vec![UserEvent::ProfileUpdated { display_name, username, bio, avatar_file_id, at }]
                }
            }
            UserCommand::UpdateSettings { last_seen_visible_to, notifications, at } => {
                let next = Settings {
                    last_seen_visible_to: last_seen_visible_to.unwrap_or(self.settings.last_seen_visible_to),
                    notifications: notifications.unwrap_or(self.settings.notifications),
                };
                if next == self.settings {
                    Vec::new()
                } else {
                    vec![UserEvent::SettingsUpdated {
                        last_seen_visible_to: next.last_seen_visible_to,
                        notifications: next.notifications,
                        at,
                    }]
                }
            }
            UserCommand::AddDevice { device_id, name, device_limit, at } => {
                if self.devices.contains(device_id) {
                    Vec::new()
                } else if self.devices.len() >= device_limit {
                    return Err(DomainError::DeviceLimitReached);
                } else {
                    vec![UserEvent::DeviceAdded { device_id, name, at }]
                }
            }
            UserCommand::RenameDevice { device_id, name, at } => {
                let device = self.devices.get(device_id).ok_or(DomainError::DeviceNotFound)?;
                if device.name.as_ref() == Some(&name) {
                    Vec::new()
                } else {
                    vec![UserEvent::DeviceRenamed { device_id, name, at }]
                }
            }
            UserCommand::RemoveDevice { device_id, at } => {
                self.devices.get(device_id).ok_or(DomainError::DeviceNotFound)?;
                vec![UserEvent::DeviceRemoved { device_id, at }]
            }
            UserCommand::PublishKeys {
                device_id,
                identity_key,
                signed_prekey,
                one_time_prekeys,
                pool_limit,
                at,
            } => {
                self.devices.get(device_id).ok_or(DomainError::DeviceNotFound)?;
                KeyDirectory::default().check_additions(&one_time_prekeys, pool_limit)?;
                vec![UserEvent::KeysPublished {
                    device_id,
                    identity_key,
                    signed_prekey,
                    one_time_prekeys,
                    at,
                }]
            }
            UserCommand::AddOneTimePrekeys { device_id, keys, pool_limit, at } => {
                let device = self.devices.get(device_id).ok_or(DomainError::DeviceNotFound)?;
                if !device.keys.is_published() {
                    return Err(DomainError::KeysNotPublished);
                }
                device.keys.check_additions(&keys, pool_limit)?;
                if keys.is_empty() {
                    Vec::new()
                } else {
                    vec![UserEvent::OneTimePrekeysAdded { device_id, keys, at }]
                }
            }
            UserCommand::ClaimOneTimePrekey { device_id, claimed_by, at } => {
                // Someone this user blocked gets no bundle, and cannot tell it
                // from a user (or device) that published none.
                let device = self
                    .devices
                    .get(device_id)
                    .filter(|device| device.keys.is_published() && !self.blocks.contains(&claimed_by))
                    .ok_or(DomainError::KeysNotPublished)?;
                claim(device, claimed_by, at).into_iter().collect()
            }
            UserCommand::ClaimPrekeyBundles { claimed_by, at } => {
                let mut published =
                    self.devices.iter().filter(|device| device.keys.is_published()).peekable();
                if published.peek().is_none() || self.blocks.contains(&claimed_by) {
                    return Err(DomainError::KeysNotPublished);
                }
                published.filter_map(|device| claim(device, claimed_by, at)).collect()
            }
            UserCommand::AddContact { contact, at } => {
                if contact == me {
                    return Err(DomainError::invalid("contact", "cannot add yourself"));
                }
                if self.contacts.contains(&contact) {
                    Vec::new()
                } else {
                    vec![UserEvent::ContactAdded { contact, at }]
                }
            }
            UserCommand::RemoveContact { contact, at } => {
                if self.contacts.contains(&contact) {
                    vec![UserEvent::ContactRemoved { contact, at }]
                } else {
                    Vec::new()
                }
            }
            UserCommand::BlockUser { blocked, at } => {
                if blocked == me {
                    return Err(DomainError::invalid("user_id", "cannot block yourself"));
                }
                if self.blocks.contains(&blocked) {
                    Vec::new()
                } else {
                    vec![UserEvent::UserBlocked { blocked, at }]
                }
            }
            UserCommand::UnblockUser { blocked, at } => {
                if self.blocks.contains(&blocked) {
                    vec![UserEvent::UserUnblocked { blocked, at }]
                } else {
                    Vec::new()
                }
            }
            UserCommand::GrantAdmin { by, at } => {
                // The configuration naming an admin someone promoted marks
                // them as named, so another admin cannot demote them.
                let named_anew = by.is_none() && !self.admin_by_configuration;
                if self.is_admin() && !named_anew {
                    Vec::new()
                } else {
                    vec![UserEvent::AdminGranted { by, at }]
                }
            }
            UserCommand::RevokeAdmin { by, at } => {
                let demotable = if by.is_some() {
                    self.is_admin() && !self.admin_by_configuration
                } else {
                    self.is_admin_by_configuration()
                };
                if demotable { vec![UserEvent::AdminRevoked { by, at }] } else { Vec::new() }
            }
            UserCommand::Suspend { by, reason, until, at } => {
                if by == me {
                    return Err(DomainError::invalid("user_id", "cannot suspend yourself"));
                }
                if until.is_some_and(|until| until <= at) {
                    return Err(DomainError::invalid("until", "must be in the future"));
                }
                vec![UserEvent::UserSuspended { by, reason, until, at }]
            }
            UserCommand::LiftSuspension { by, at } => {
                if self.suspension_at(at).is_some() {
                    vec![UserEvent::SuspensionLifted { by, at }]
                } else {
                    Vec::new()
                }
            }
            UserCommand::RegisterPush { device_id, target, at } => {
                let device = self.devices.get(device_id).ok_or(DomainError::DeviceNotFound)?;
                if device.push.as_ref() == Some(&target) {
                    Vec::new()
                } else {
                    vec![UserEvent::PushRegistered { device_id, target, at }]
                }
            }
            UserCommand::UnregisterPush { device_id, reason, only_if, at } => {
                let device = self.devices.get(device_id).ok_or(DomainError::DeviceNotFound)?;
                let current = device.push.as_ref();
                let still = only_if.as_ref().is_none_or(|expected| current == Some(expected));
                if current.is_some() && still {
                    vec![UserEvent::PushUnregistered { device_id, reason, at }]
                } else {
                    Vec::new()
                }
            }
            UserCommand::MuteRoom { room_id, until, at } => {
                if until.is_some_and(|until| until <= at) {
                    return Err(DomainError::invalid("until", "must be in the future"));
                }
                vec![UserEvent::RoomMuted { room_id, until, at }]
            }
            // Mutes are not kept in the aggregate (no rule needs them): an
            // unmute is recorded whatever came before, and readers treat an
            // unmute of an unmuted room as nothing.
            UserCommand::UnmuteRoom { room_id, at } => vec![UserEvent::RoomUnmuted { room_id, at }],
        };
        Ok(events)
    }
}

/// The claim of `device`'s oldest one-time prekey, if its pool has one. The
/// claim is an event and `apply` removes the key, so under optimistic
/// concurrency two claims can never get the same key.
fn claim(device: &Device, claimed_by: UserId, at: DateTime<Utc>) -> Option<UserEvent> {
    device.keys.next_claim().map(|key| UserEvent::OneTimePrekeyClaimed {
        device_id: device.device_id,
        key_id: key.key_id,
        public_key: key.public_key.clone(),
        claimed_by,
        at,
    })
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
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
            UserEvent::UserRegistered { user_id, email, phone, display_name, device_id, device_name, at } => {
                self.devices.add(Device::new(device_id, device_name, at));
                self.account = Some(Account {
                    user_id,
                    email,
                    phone,
                    username: None,
                    display_name,
                    bio: None,
                    avatar_file_id: None,
                    created_at: at,
                });
            }
            UserEvent::ProfileUpdated { display_name, username, bio, avatar_file_id, .. } => {
                if let Some(account) = self.account.as_mut() {
                    account.display_name = display_name;
                    account.username = username;
                    account.bio = bio;
                    account.avatar_file_id = avatar_file_id;
                }
            }
            UserEvent::SettingsUpdated { last_seen_visible_to, notifications, .. } => {
                self.settings = Settings { last_seen_visible_to, notifications };
            }
            UserEvent::DeviceAdded { device_id, name, at } => {
                self.devices.add(Device::new(device_id, name, at))
            }
            UserEvent::DeviceRenamed { device_id, name, .. } => {
                if let Some(device) = self.devices.get_mut(device_id) {
                    device.name = Some(name);
                }
            }
            UserEvent::DeviceRemoved { device_id, .. } => self.devices.remove(device_id),
            UserEvent::KeysPublished { device_id, identity_key, signed_prekey, one_time_prekeys, .. } => {
                if let Some(device) = self.devices.get_mut(device_id) {
                    device.keys = KeyDirectory {
                        identity_key: Some(identity_key),
                        signed_prekey: Some(signed_prekey),
                        one_time_prekeys: one_time_prekeys.into(),
                    };
                }
            }
            UserEvent::OneTimePrekeysAdded { device_id, keys, .. } => {
                if let Some(device) = self.devices.get_mut(device_id) {
                    device.keys.one_time_prekeys.extend(keys);
                }
            }
            UserEvent::OneTimePrekeyClaimed { device_id, key_id, .. } => {
                if let Some(device) = self.devices.get_mut(device_id) {
                    device.keys.claimed(key_id);
                }
            }
            UserEvent::ContactAdded { contact, .. } => {
                self.contacts.insert(contact);
            }
            UserEvent::ContactRemoved { contact, .. } => {
                self.contacts.remove(&contact);
            }
            UserEvent::UserBlocked { blocked, .. } => {
                self.blocks.insert(blocked);
            }
            UserEvent::UserUnblocked { blocked, .. } => {
                self.blocks.remove(&blocked);
            }
            UserEvent::AdminGranted { by, .. } => {
                self.role = InstanceRole::Admin;
                self.admin_by_configuration = by.is_none();
            }
            UserEvent::AdminRevoked { .. } => {
                self.role = InstanceRole::User;
                self.admin_by_configuration = false;
            }
            UserEvent::UserSuspended { by, reason, until, at } => {
                self.suspension = Some(Suspension { by, reason, since: at, until });
            }
            UserEvent::SuspensionLifted { .. } => self.suspension = None,
            UserEvent::PushRegistered { device_id, target, .. } => {
                if let Some(device) = self.devices.get_mut(device_id) {
                    device.push = Some(target);
                }
            }
            UserEvent::PushUnregistered { device_id, .. } => {
                if let Some(device) = self.devices.get_mut(device_id) {
                    device.push = None;
                }
            }
            UserEvent::RoomMuted { .. } | UserEvent::RoomUnmuted { .. } => {}
        }
    }
}
