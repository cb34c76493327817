//! The `Room` aggregate: a direct or group conversation, its members and
//! roles, its settings, and the metadata of its message stream.
//!
//! The room stays bounded however many messages it has seen: it keeps the
//! last sequence number, receipts and a fixed-size idempotency window, and
//! reads facts about individual messages through [`RoomLookup`].

mod aggregate;
mod commands;
mod events;
pub mod franking;
mod services;
mod window;

pub use aggregate::{EDIT_WINDOW, MAX_FILES_PER_MESSAGE, Member, Receipt, Room};
pub use commands::{DeleteScope, RoomCommand};
pub use events::{JoinRule, MessageRef, ReceiptKind, Role, RoomEvent, RoomKind};
pub use services::{DEFAULT_MAX_MEMBERS, Franker, MessageFacts, RoomLookup, RoomServices};
pub use window::{IDEMPOTENCY_WINDOW, IdempotencyWindow, RecentMessage};
