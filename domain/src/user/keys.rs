//! One device's public Signal key material (identity key, signed prekey,
//! one-time prekey pool) and the rules of its pool.

use std::collections::HashSet;
use std::sync::LazyLock;

use imbl::Vector;
use serde::{Deserialize, Serialize};

use super::events::{OneTimePrekey, SignedPrekey};
use crate::error::DomainError;
use crate::values::Base64Bytes;

/// The one-time prekey pool cap the gateway uses unless configured otherwise.
pub const DEFAULT_PREKEY_POOL_LIMIT: usize = 1000;

/// What an unknown or removed device holds: nothing.
pub(super) static NO_KEYS: LazyLock<KeyDirectory> = LazyLock::new(KeyDirectory::default);

/// The public half of one device's key material.
///
/// The pool is a persistent vector: the user is cloned for every command it
/// decides, and a clone then shares the pools of all its devices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyDirectory {
    pub identity_key: Option<Base64Bytes>,
    pub signed_prekey: Option<SignedPrekey>,
    /// Oldest first: claims hand out the front.
    pub one_time_prekeys: Vector<OneTimePrekey>,
}

impl KeyDirectory {
    /// Whether a bundle was published (only then can keys be claimed or added).
    #[must_use]
    pub fn is_published(&self) -> bool {
        self.identity_key.is_some()
    }

    /// Key ids are unique across `batch` and the keys already pooled, and the
    /// pool stays within `pool_limit`.
    pub(super) fn check_additions(
        &self,
        batch: &[OneTimePrekey],
        pool_limit: usize,
    ) -> Result<(), DomainError> {
        if self.one_time_prekeys.len() + batch.len() > pool_limit {
            return Err(DomainError::invalid(
                "one_time_prekeys",
                format!("the pool holds at most {pool_limit} keys"),
            ));
        }
        let mut seen: HashSet<u32> = self.one_time_prekeys.iter().map(|key| key.key_id).collect();
        if !batch.iter().all(|key| seen.insert(key.key_id)) {
            return Err(DomainError::invalid("one_time_prekeys", "duplicate key_id"));
        }
        Ok(())
    }

    /// The key the next claim hands out.
    #[must_use]
    pub fn next_claim(&self) -> Option<&OneTimePrekey> {
        self.one_time_prekeys.front()
    }

    pub(super) fn claimed(&mut self, key_id: u32) {
        self.one_time_prekeys.retain(|key| key.key_id != key_id);
    }
}
