//! CipherTalk's domain: aggregates, commands, events and the rules between
//! them. Pure: no I/O, no clock, no randomness inside `handle` (ids and
//! times arrive on commands), so every decision is replayable and testable.
//!
//! Aggregates: [`user::User`], [`room::Room`], [`file::File`],
//! [`report::Report`], each on cqrs-es 0.5.

pub mod clock;
pub mod error;
pub mod file;
pub mod ids;
pub mod report;
pub mod room;
pub mod testing;
pub mod upcast;
pub mod user;
pub mod values;

pub use error::{DomainError, ErrorKind, LookupError, ValidationError};
pub use ids::{FileId, MessageId, ReportId, RoomId, UserId};

/// The version every event type is stored with today (`DomainEvent::event_version`).
pub const EVENT_VERSION: &str = "1";
