//! A to-device batch as a client sends it, validated once at the edge: a
//! batch id, and 1 to `max_messages` messages whose ciphertext totals at most
//! `max_bytes`; and who a batch may reach.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ValidationError};
use crate::ids::{DeviceId, UserId};
use crate::values::{Ciphertext, printable_ascii_id, string_value};

string_value!(
    /// The client's id for a batch, making a retry deliver nothing twice:
    /// 1 to 64 printable ASCII characters, taken exactly as sent.
    #[derive(Debug)]
    BatchId,
    validate_batch_id
);

string_value!(
    /// What a to-device message is for, as the clients agree on it (the
    /// server only routes it): 1 to 64 of `A-Z a-z 0-9 . _ : / -`.
    #[derive(Debug)]
    ToDeviceKind,
    validate_kind
);

fn validate_batch_id(raw: &str) -> Result<String, ValidationError> {
    printable_ascii_id("batch_id", raw)
}

fn validate_kind(raw: &str) -> Result<String, ValidationError> {
    let valid = (1..=64).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    if !valid {
        return Err(ValidationError::new("kind", "must be 1 to 64 of A-Z a-z 0-9 . _ : / -"));
    }
    Ok(raw.to_owned())
}

/// How large a batch may be; configurable, passed by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToDeviceLimits {
    /// Messages per batch (a sender key for a group goes to every member's devices).
    pub max_messages: usize,
    /// Decoded ciphertext bytes per batch, all messages together; keeps the
    /// batch's one event well within the event store's size limit.
    pub max_bytes: usize,
}

impl Default for ToDeviceLimits {
    fn default() -> Self {
        Self { max_messages: 500, max_bytes: 512 * 1024 }
    }
}

/// One message of a batch, for one device of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToDeviceMessage {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub kind: ToDeviceKind,
    pub ciphertext: Ciphertext,
}

/// A validated batch: its id and its messages, in the order sent (which is
/// the order each target device receives them in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToDeviceBatch {
    batch_id: BatchId,
    messages: Vec<ToDeviceMessage>,
}

impl ToDeviceBatch {
    /// Checks the count and size of `messages` against `limits`.
    pub fn parse(
        batch_id: BatchId,
        messages: Vec<ToDeviceMessage>,
        limits: &ToDeviceLimits,
    ) -> Result<Self, DomainError> {
        if messages.is_empty() {
            return Err(DomainError::invalid("messages", "must hold at least one message"));
        }
        if messages.len() > limits.max_messages {
            return Err(DomainError::TooLarge("a to-device batch holds too many messages"));
        }
        let bytes: usize = messages.iter().map(|message| message.ciphertext.decoded_len()).sum();
        if bytes > limits.max_bytes {
            return Err(DomainError::TooLarge("a to-device batch holds too many ciphertext bytes"));
        }
        Ok(Self { batch_id, messages })
    }

    #[must_use]
    pub fn batch_id(&self) -> &BatchId {
        &self.batch_id
    }

    #[must_use]
    pub fn messages(&self) -> &[ToDeviceMessage] {
        &self.messages
    }

    /// The users the batch goes to, each once.
    #[must_use]
    pub fn recipients(&self) -> BTreeSet<UserId> {
        self.messages.iter().map(|message| message.user_id).collect()
    }

    /// Every recipient must be `sender` (their own other devices) or someone
    /// `may_reach` accepts (shares a room with them or is their contact, as
    /// the caller's read model knows); else nothing is sent.
    pub fn authorise(&self, sender: UserId, may_reach: impl Fn(UserId) -> bool) -> Result<(), DomainError> {
        if self.recipients().into_iter().all(|user| user == sender || may_reach(user)) {
            Ok(())
        } else {
            Err(DomainError::NotAllowed)
        }
    }

    pub(super) fn into_parts(self) -> (BatchId, Vec<ToDeviceMessage>) {
        (self.batch_id, self.messages)
    }
}
