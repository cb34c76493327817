//! The per-device delivery contract, as a pure model the gateway is held to:
//! one user's queue (room events for every device, to-device messages for
//! one) and each device's acknowledged cursor. A model, not storage: the real
//! queue is a JetStream stream and a position is its stream sequence.
//!
//! The rules: a connection starts just after its device's own cursor (or an
//! explicit `since`); a new device starts at the end of the queue; an ack
//! moves only its own device's cursor, never backwards and never past the
//! end; a removed device's cursor and sessions are gone.

use std::collections::BTreeMap;

use crate::ids::DeviceId;

/// A position in a user's queue; 0 is before the first entry.
pub type Position = u64;

/// Which of the user's devices an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every device of the user (room events, device events).
    EveryDevice,
    /// One device (a to-device message).
    Device(DeviceId),
}

impl Audience {
    /// Whether `device` receives entries for this audience.
    #[must_use]
    pub fn includes(self, device: DeviceId) -> bool {
        match self {
            Self::EveryDevice => true,
            Self::Device(only) => only == device,
        }
    }
}

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<E> {
    pub position: Position,
    pub audience: Audience,
    pub event: E,
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckRefused {
    /// The device is not the user's (any more).
    #[error("unknown device")]
    UnknownDevice,
    /// The position is past the end of the queue: acknowledging it would
    /// skip entries not yet appended.
    #[error("cursor past the end of the queue")]
    PastTheEnd,
}

/// A user's queue and their devices' cursors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryQueue<E> {
    entries: Vec<Entry<E>>,
    cursors: BTreeMap<DeviceId, Position>,
}

impl<E> Default for DeliveryQueue<E> {
    fn default() -> Self {
        Self { entries: Vec::new(), cursors: BTreeMap::new() }
    }
}

/// One connection of one device: where it has read up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    device: DeviceId,
    position: Position,
}

impl Session {
    #[must_use]
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The last position this session delivered (or started after).
    #[must_use]
    pub fn position(&self) -> Position {
        self.position
    }
}

impl<E> DeliveryQueue<E> {
    /// The position of the last entry (0 when empty).
    #[must_use]
    pub fn end(&self) -> Position {
        self.entries.last().map_or(0, |entry| entry.position)
    }

    /// Appends an entry at the next position and returns that position.
    pub fn append(&mut self, audience: Audience, event: E) -> Position {
        let position = self.end() + 1;
        self.entries.push(Entry { position, audience, event });
        position
    }

    /// Every entry, in order.
    #[must_use]
    pub fn entries(&self) -> &[Entry<E>] {
        &self.entries
    }

    /// A new device starts at the end of the queue: history is read from the
    /// rooms, not replayed from the queue. Adding a known device keeps its cursor.
    pub fn add_device(&mut self, device: DeviceId) {
        let end = self.end();
        self.cursors.entry(device).or_insert(end);
    }

    /// Forgets the device's cursor; its sessions read nothing more.
    pub fn remove_device(&mut self, device: DeviceId) {
        self.cursors.remove(&device);
    }

    /// The device's acknowledged cursor, if it is the user's.
    #[must_use]
    pub fn cursor(&self, device: DeviceId) -> Option<Position> {
        self.cursors.get(&device).copied()
    }

    /// A connection of `device`, starting after `since` or else after its own cursor.
    #[must_use]
    pub fn connect(&self, device: DeviceId, since: Option<Position>) -> Option<Session> {
        let cursor = self.cursor(device)?;
        Some(Session { device, position: since.unwrap_or(cursor) })
    }

    /// The next entry for the session's device after where it stands (and
    /// moves it there); `None` when caught up or when the device was removed.
    pub fn next(&self, session: &mut Session) -> Option<&Entry<E>> {
        self.cursor(session.device)?;
        let entry = self
            .entries
            .iter()
            .find(|entry| entry.position > session.position && entry.audience.includes(session.device))?;
        session.position = entry.position;
        Some(entry)
    }

    /// Moves `device`'s cursor up to `position` (an earlier one changes
    /// nothing: acks arrive out of order) and returns the stored cursor.
    pub fn ack(&mut self, device: DeviceId, position: Position) -> Result<Position, AckRefused> {
        let end = self.end();
        let cursor = self.cursors.get_mut(&device).ok_or(AckRefused::UnknownDevice)?;
        if position > end {
            return Err(AckRefused::PastTheEnd);
        }
        *cursor = (*cursor).max(position);
        Ok(*cursor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use uuid::Uuid;

    use super::*;

    const PHONE: DeviceId = DeviceId::from_uuid(Uuid::from_u128(1));
    const LAPTOP: DeviceId = DeviceId::from_uuid(Uuid::from_u128(2));

    #[test]
    fn a_new_device_starts_at_the_end_and_to_device_entries_reach_one_device() {
        let mut queue = DeliveryQueue::default();
        queue.add_device(PHONE);
        queue.append(Audience::EveryDevice, "before");
        queue.add_device(LAPTOP);
        queue.append(Audience::Device(PHONE), "for the phone");
        queue.append(Audience::EveryDevice, "after");
        let mut laptop = queue.connect(LAPTOP, None).unwrap();
        assert_eq!(queue.next(&mut laptop).map(|entry| entry.event), Some("after"));
        assert_eq!(queue.next(&mut laptop), None);
        let mut phone = queue.connect(PHONE, None).unwrap();
        let seen: Vec<&str> =
            std::iter::from_fn(|| queue.next(&mut phone).map(|entry| entry.event)).collect();
        assert_eq!(seen, ["before", "for the phone", "after"]);
    }

    #[test]
    fn acks_move_only_their_device_forward_and_never_past_the_end() {
        let mut queue = DeliveryQueue::default();
        queue.add_device(PHONE);
        queue.add_device(LAPTOP);
        queue.append(Audience::EveryDevice, 1);
        queue.append(Audience::EveryDevice, 2);
        assert_eq!(queue.ack(PHONE, 2), Ok(2));
        assert_eq!(queue.ack(PHONE, 1), Ok(2));
        assert_eq!(queue.cursor(LAPTOP), Some(0));
        assert_eq!(queue.ack(PHONE, 3), Err(AckRefused::PastTheEnd));
        queue.remove_device(LAPTOP);
        assert_eq!(queue.ack(LAPTOP, 1), Err(AckRefused::UnknownDevice));
        assert!(queue.connect(LAPTOP, None).is_none());
    }
}
