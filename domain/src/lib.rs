//! CipherTalk's domain: aggregates, commands, events and the rules between
//! them. Pure: no I/O, no clock, no randomness inside `handle` (ids and
//! times arrive on commands), so every decision is replayable and testable.
//!
//! Aggregates: [`user::User`], [`room::Room`], [`file::File`],
//! [`report::Report`], [`to_device::Outbox`], each on cqrs-es 0.5. Also the
//! per-device delivery contract as a pure model ([`delivery`]).

pub mod clock;
pub mod delivery;
pub mod error;
pub mod file;
pub mod ids;
pub mod report;
pub mod room;
pub mod testing;
pub mod to_device;
pub mod upcast;
pub mod user;
pub mod values;

pub use error::{DomainError, ErrorKind, LookupError, ValidationError};
pub use ids::{DeviceId, FileId, MessageId, ReportId, RoomId, UserId};

/// The version event types are stored with unless their shape changed since
/// (`DomainEvent::event_version`; see [`user::DEVICE_EVENT_VERSION`]).
pub const EVENT_VERSION: &str = "1";
