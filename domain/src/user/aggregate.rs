//! The user aggregate's state and rules.

use std::collections::{BTreeSet, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::UserCommand;
use super::events::{InstanceRole, OneTimePrekey, Settings, SignedPrekey, UserEvent};
use crate::error::DomainError;
use crate::ids::{FileId, UserId};
use crate::values::{Base64Bytes, Bio, DisplayName, Email, PhoneNumber, Username};

/// The one-time prekey pool cap the gateway uses unless configured otherwise.
pub const DEFAULT_PREKEY_POOL_LIMIT: usize = 1000;

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

/// The public half of a user's Signal key material.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyDirectory {
    pub identity_key: Option<Base64Bytes>,
    pub signed_prekey: Option<SignedPrekey>,
    /// Oldest first: claims hand out the front.
    pub one_time_prekeys: VecDeque<OneTimePrekey>,
}

/// A user: account, settings, instance role, keys, contacts and blocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    account: Option<Account>,
    settings: Settings,
    role: InstanceRole,
    /// Whether the admin role came from the configuration's list (not from
    /// another admin): only such an admin is demoted when the list drops them.
    #[serde(default)]
    admin_by_configuration: bool,
    keys: KeyDirectory,
    contacts: BTreeSet<UserId>,
    blocks: BTreeSet<UserId>,
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

    /// The key directory (identity key, signed prekey, one-time pool).
    #[must_use]
    pub fn keys(&self) -> &KeyDirectory {
        &self.keys
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
        if let UserCommand::RegisterUser { user_id, email, phone, display_name, at } = command {
            if self.account.is_some() {
                return Err(DomainError::AlreadyExists);
            }
            if email.is_some() == phone.is_some() {
                return Err(DomainError::invalid("email", "exactly one of email and phone is required"));
            }
            return Ok(vec![UserEvent::UserRegistered { user_id, email, phone, display_name, at }]);
        }
        let account = self.account.as_ref().ok_or(DomainError::NotFound)?;
        let me = account.user_id;
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
            UserCommand::PublishKeys { identity_key, signed_prekey, one_time_prekeys, pool_limit, at } => {
                check_pool(&one_time_prekeys, [].iter(), pool_limit)?;
                vec![UserEvent::KeysPublished { identity_key, signed_prekey, one_time_prekeys, at }]
            }
            UserCommand::AddOneTimePrekeys { keys, pool_limit, at } => {
                if self.keys.identity_key.is_none() {
                    return Err(DomainError::KeysNotPublished);
                }
                check_pool(&keys, self.keys.one_time_prekeys.iter(), pool_limit)?;
                if keys.is_empty() { Vec::new() } else { vec![UserEvent::OneTimePrekeysAdded { keys, at }] }
            }
            UserCommand::ClaimOneTimePrekey { claimed_by, at } => {
                // Someone this user blocked gets no bundle, and cannot tell it
                // from a user who published none.
                if self.keys.identity_key.is_none() || self.blocks.contains(&claimed_by) {
                    return Err(DomainError::KeysNotPublished);
                }
                // The claim is an event and `apply` removes the key, so under
                // optimistic concurrency two claims can never get the same key.
                self.keys
                    .one_time_prekeys
                    .front()
                    .map(|key| UserEvent::OneTimePrekeyClaimed {
                        key_id: key.key_id,
                        public_key: key.public_key.clone(),
                        claimed_by,
                        at,
                    })
                    .into_iter()
                    .collect()
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
                if self.is_admin() {
                    Vec::new()
                } else {
                    vec![UserEvent::AdminGranted { by, at }]
                }
            }
            UserCommand::RevokeAdmin { by, at } => {
                let demotable = if by.is_some() { self.is_admin() } else { self.is_admin_by_configuration() };
                if demotable { vec![UserEvent::AdminRevoked { by, at }] } else { Vec::new() }
            }
        };
        Ok(events)
    }
}

/// Key ids are unique across the batch and the keys already pooled, and the
/// pool stays within `pool_limit`.
fn check_pool<'a>(
    batch: &[OneTimePrekey],
    pooled: impl ExactSizeIterator<Item = &'a OneTimePrekey>,
    pool_limit: usize,
) -> Result<(), DomainError> {
    if pooled.len() + batch.len() > pool_limit {
        return Err(DomainError::invalid(
            "one_time_prekeys",
            format!("the pool holds at most {pool_limit} keys"),
        ));
    }
    let mut seen: HashSet<u32> = pooled.map(|key| key.key_id).collect();
    if !batch.iter().all(|key| seen.insert(key.key_id)) {
        return Err(DomainError::invalid("one_time_prekeys", "duplicate key_id"));
    }
    Ok(())
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
            UserEvent::UserRegistered { user_id, email, phone, display_name, at } => {
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
            UserEvent::KeysPublished { identity_key, signed_prekey, one_time_prekeys, .. } => {
                self.keys = KeyDirectory {
                    identity_key: Some(identity_key),
                    signed_prekey: Some(signed_prekey),
                    one_time_prekeys: one_time_prekeys.into(),
                };
            }
            UserEvent::OneTimePrekeysAdded { keys, .. } => self.keys.one_time_prekeys.extend(keys),
            UserEvent::OneTimePrekeyClaimed { key_id, .. } => {
                self.keys.one_time_prekeys.retain(|key| key.key_id != key_id);
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
        }
    }
}
