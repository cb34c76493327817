//! The idempotency window: a room's last [`IDEMPOTENCY_WINDOW`] sends, so
//! that a send retried with the same `(sender, client_msg_id)` gets the
//! message it produced instead of a second one.
//!
//! The room is cloned for every command it decides, so both parts are
//! persistent collections: a clone shares them but for the few nodes the
//! next command changes. The index answers a lookup without scanning the
//! window (a scan compared up to 1,024 client ids per send).

use std::sync::Arc;

use imbl::{HashMap, Vector};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{MessageId, UserId};

/// How many recent `(sender, client_msg_id)` pairs a room remembers to make
/// sends idempotent. Fixed, so the room's size does not grow with traffic.
pub const IDEMPOTENCY_WINDOW: usize = 1024;

/// One entry of the idempotency window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentMessage {
    pub sender: UserId,
    /// Shared, not owned: clones of the room share it.
    pub client_msg_id: Arc<str>,
    pub message_id: MessageId,
    pub seq: u64,
}

type Key = (UserId, Arc<str>);

/// The window, oldest first, and an index of it. Serialized as the list of
/// entries alone (the shape snapshots have always had); the index is rebuilt.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyWindow {
    entries: Vector<RecentMessage>,
    /// The newest entry's message and sequence for each key in `entries`.
    index: HashMap<Key, (MessageId, u64)>,
}

impl IdempotencyWindow {
    /// Adds the newest send; the oldest leaves once the window is full.
    pub fn push(&mut self, entry: RecentMessage) {
        let key = (entry.sender, entry.client_msg_id.clone());
        self.index.insert(key, (entry.message_id, entry.seq));
        self.entries.push_back(entry);
        while self.entries.len() > IDEMPOTENCY_WINDOW {
            let Some(oldest) = self.entries.pop_front() else { break };
            let key = (oldest.sender, oldest.client_msg_id);
            // A key sent again later points at the later entry: keep it.
            if self.index.get(&key).is_some_and(|(_, seq)| *seq == oldest.seq) {
                self.index.remove(&key);
            }
        }
    }

    /// The message and sequence of the newest send with this key, while it
    /// is in the window.
    #[must_use]
    pub fn find(&self, sender: UserId, client_msg_id: &str) -> Option<(MessageId, u64)> {
        self.index.get(&(sender, Arc::from(client_msg_id))).copied()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The oldest entry.
    #[must_use]
    pub fn front(&self) -> Option<&RecentMessage> {
        self.entries.front()
    }
}

impl PartialEq for IdempotencyWindow {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Serialize for IdempotencyWindow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.entries.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for IdempotencyWindow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<RecentMessage>::deserialize(deserializer)?;
        let mut window = Self::default();
        for entry in entries {
            window.push(entry);
        }
        Ok(window)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(sender: u128, client_msg_id: &str, seq: u64) -> RecentMessage {
        RecentMessage {
            sender: UserId::from_uuid(uuid::Uuid::from_u128(sender)),
            client_msg_id: Arc::from(client_msg_id),
            message_id: MessageId::from_uuid(uuid::Uuid::from_u128(u128::from(seq))),
            seq,
        }
    }

    fn find(window: &IdempotencyWindow, sender: u128, client_msg_id: &str) -> Option<u64> {
        window.find(UserId::from_uuid(uuid::Uuid::from_u128(sender)), client_msg_id).map(|(_, seq)| seq)
    }

    #[test]
    fn a_key_is_found_until_it_leaves_the_window_and_the_newest_send_wins() {
        let mut window = IdempotencyWindow::default();
        window.push(entry(1, "a", 1));
        window.push(entry(2, "a", 2));
        assert_eq!(
            (find(&window, 1, "a"), find(&window, 2, "a"), find(&window, 1, "b")),
            (Some(1), Some(2), None)
        );

        // The same key again (possible once its first send has left a
        // window; replayed here): the newer entry answers, and the older
        // one's eviction does not forget it.
        window.push(entry(1, "a", 3));
        for seq in 4..=(IDEMPOTENCY_WINDOW as u64 + 1) {
            window.push(entry(3, &format!("x{seq}"), seq));
        }
        assert_eq!(window.len(), IDEMPOTENCY_WINDOW);
        assert_eq!(window.front().map(|e| e.seq), Some(2));
        assert_eq!(find(&window, 1, "a"), Some(3));

        window.push(entry(3, "y", IDEMPOTENCY_WINDOW as u64 + 2));
        assert_eq!((find(&window, 2, "a"), find(&window, 1, "a")), (None, Some(3)));
        window.push(entry(3, "z", IDEMPOTENCY_WINDOW as u64 + 3));
        assert_eq!(find(&window, 1, "a"), None);
    }

    #[test]
    fn it_serializes_as_its_entries_and_comes_back_with_its_index() {
        let mut window = IdempotencyWindow::default();
        window.push(entry(1, "a", 1));
        window.push(entry(2, "b", 2));
        let json = serde_json::to_value(&window).unwrap();
        assert!(json.as_array().is_some_and(|entries| entries.len() == 2));
        let back: IdempotencyWindow = serde_json::from_value(json).unwrap();
        assert_eq!(back, window);
        assert_eq!((find(&back, 1, "a"), find(&back, 2, "b")), (Some(1), Some(2)));
    }
}
