//! What can be asked of a user aggregate. Values arrive already validated;
//! ids and times are supplied by the caller so `handle` stays deterministic.

use chrono::{DateTime, Utc};

use super::devices::DeviceName;
use super::events::{LastSeenVisibility, OneTimePrekey, SignedPrekey};
use super::push::{PushRemoval, PushTarget};
use crate::ids::{DeviceId, FileId, RoomId, UserId};
use crate::values::{Base64Bytes, Bio, DisplayName, Email, ModeratorNote, PhoneNumber, Username};

/// Commands of the [`crate::user::User`] aggregate.
///
/// Fields typed `Option<Option<T>>` are patches: `None` keeps the current
/// value, `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// Create the account on its first device (`device_id`, usually
    /// [`DeviceId::first_of`] the user); exactly one of `email` and `phone` is required.
    RegisterUser {
        user_id: UserId,
        email: Option<Email>,
        phone: Option<PhoneNumber>,
        display_name: DisplayName,
        device_id: DeviceId,
        device_name: Option<DeviceName>,
        at: DateTime<Utc>,
    },
    /// Add a device (a login on it); the user may have at most `device_limit`.
    /// Adding a device the user has already changes nothing (a retried login).
    AddDevice { device_id: DeviceId, name: Option<DeviceName>, device_limit: usize, at: DateTime<Utc> },
    /// Rename one of the user's devices.
    RenameDevice { device_id: DeviceId, name: DeviceName, at: DateTime<Utc> },
    /// Remove one of the user's devices (sign-out or removal), its keys with it.
    RemoveDevice { device_id: DeviceId, at: DateTime<Utc> },
    /// Change profile fields. Username uniqueness is the caller's check.
    UpdateProfile {
        display_name: Option<DisplayName>,
        username: Option<Username>,
        bio: Option<Option<Bio>>,
        avatar_file_id: Option<Option<FileId>>,
        at: DateTime<Utc>,
    },
    /// Change settings; `None` keeps the current value.
    UpdateSettings {
        last_seen_visible_to: Option<LastSeenVisibility>,
        notifications: Option<bool>,
        at: DateTime<Utc>,
    },
    /// Replace the device's whole key bundle. `pool_limit` caps the one-time pool.
    PublishKeys {
        device_id: DeviceId,
        identity_key: Base64Bytes,
        signed_prekey: SignedPrekey,
        one_time_prekeys: Vec<OneTimePrekey>,
        pool_limit: usize,
        at: DateTime<Utc>,
    },
    /// Top up the device's one-time pool; the pool may not exceed `pool_limit`.
    AddOneTimePrekeys { device_id: DeviceId, keys: Vec<OneTimePrekey>, pool_limit: usize, at: DateTime<Utc> },
    /// Hand the device's oldest one-time prekey to `claimed_by` (nothing when its pool is empty).
    ClaimOneTimePrekey { device_id: DeviceId, claimed_by: UserId, at: DateTime<Utc> },
    /// Hand `claimed_by` one bundle per device that published keys: each
    /// such device's oldest one-time prekey, where its pool has one. One
    /// command, so every claim commits together or none does.
    ClaimPrekeyBundles { claimed_by: UserId, at: DateTime<Utc> },
    /// Add `contact` to the contact list (idempotent).
    AddContact { contact: UserId, at: DateTime<Utc> },
    /// Remove `contact` from the contact list (idempotent).
    RemoveContact { contact: UserId, at: DateTime<Utc> },
    /// Block `blocked` (idempotent).
    BlockUser { blocked: UserId, at: DateTime<Utc> },
    /// Unblock `blocked` (idempotent).
    UnblockUser { blocked: UserId, at: DateTime<Utc> },
    /// Make this user an instance admin. The caller checks that `by` is an
    /// admin; `None` means named by configuration.
    GrantAdmin { by: Option<UserId>, at: DateTime<Utc> },
    /// Make this admin a user again. `None`: their address left the
    /// configuration's list, which demotes only an admin it had named; an
    /// admin the list names stays one whatever another admin asks.
    RevokeAdmin { by: Option<UserId>, at: DateTime<Utc> },
    /// Suspend the user until `until` (or until lifted). The caller checks
    /// that `by` is an admin.
    Suspend { by: UserId, reason: ModeratorNote, until: Option<DateTime<Utc>>, at: DateTime<Utc> },
    /// End the user's suspension (nothing when they are not suspended).
    LiftSuspension { by: UserId, at: DateTime<Utc> },
    /// Wake `device_id` at `target` while it is offline.
    RegisterPush { device_id: DeviceId, target: PushTarget, at: DateTime<Utc> },
    /// Stop waking `device_id` (nothing when it has no target). With
    /// `only_if`, only while that is still its target: a push service's
    /// "gone" must not remove a registration made since.
    UnregisterPush {
        device_id: DeviceId,
        reason: PushRemoval,
        only_if: Option<PushTarget>,
        at: DateTime<Utc>,
    },
    /// No pushes for `room_id` until `until` (for good when `None`). The
    /// caller checks the user is a member.
    MuteRoom { room_id: RoomId, until: Option<DateTime<Utc>>, at: DateTime<Utc> },
    /// Push `room_id`'s messages again.
    UnmuteRoom { room_id: RoomId, at: DateTime<Utc> },
}

impl UserCommand {
    /// When the user themself issues this command, its time: such commands
    /// are refused while the user is suspended. `None` for commands others
    /// issue on this aggregate (registration, roles, suspension, claims of
    /// the user's prekeys) and for removing a device or its push target
    /// (signing out stays possible).
    #[must_use]
    pub fn by_the_user_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::AddDevice { at, .. }
            | Self::RenameDevice { at, .. }
            | Self::UpdateProfile { at, .. }
            | Self::UpdateSettings { at, .. }
            | Self::PublishKeys { at, .. }
            | Self::AddOneTimePrekeys { at, .. }
            | Self::AddContact { at, .. }
            | Self::RemoveContact { at, .. }
            | Self::BlockUser { at, .. }
            | Self::UnblockUser { at, .. }
            | Self::RegisterPush { at, .. }
            | Self::MuteRoom { at, .. }
            | Self::UnmuteRoom { at, .. } => Some(*at),
            Self::RegisterUser { .. }
            | Self::RemoveDevice { .. }
            | Self::ClaimOneTimePrekey { .. }
            | Self::ClaimPrekeyBundles { .. }
            | Self::GrantAdmin { .. }
            | Self::RevokeAdmin { .. }
            | Self::Suspend { .. }
            | Self::LiftSuspension { .. }
            | Self::UnregisterPush { .. } => None,
        }
    }
}
