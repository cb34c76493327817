//! What can be asked of a user aggregate. Values arrive already validated;
//! ids and times are supplied by the caller so `handle` stays deterministic.

use chrono::{DateTime, Utc};

use super::events::{LastSeenVisibility, OneTimePrekey, SignedPrekey};
use crate::ids::{FileId, UserId};
use crate::values::{Base64Bytes, Bio, DisplayName, Email, PhoneNumber, Username};

/// Commands of the [`crate::user::User`] aggregate.
///
/// Fields typed `Option<Option<T>>` are patches: `None` keeps the current
/// value, `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// Create the account; exactly one of `email` and `phone` is required.
    RegisterUser {
        user_id: UserId,
        email: Option<Email>,
        phone: Option<PhoneNumber>,
        display_name: DisplayName,
        at: DateTime<Utc>,
    },
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
    /// Replace the whole key bundle. `pool_limit` caps the one-time pool.
    PublishKeys {
        identity_key: Base64Bytes,
        signed_prekey: SignedPrekey,
        one_time_prekeys: Vec<OneTimePrekey>,
        pool_limit: usize,
        at: DateTime<Utc>,
    },
    /// Top up the one-time pool; the pool may not exceed `pool_limit`.
    AddOneTimePrekeys { keys: Vec<OneTimePrekey>, pool_limit: usize, at: DateTime<Utc> },
    /// Hand the oldest one-time prekey to `claimed_by` (nothing when the pool is empty).
    ClaimOneTimePrekey { claimed_by: UserId, at: DateTime<Utc> },
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
    /// configuration's list, which demotes only an admin it had named.
    RevokeAdmin { by: Option<UserId>, at: DateTime<Utc> },
}
