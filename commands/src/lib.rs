//! The write side of CipherTalk.
//!
//! A command is handled by its aggregate (`ciphertalk-domain`), the events it
//! produces are appended to the Postgres event store (postgres-es) under
//! optimistic concurrency, and the relay then moves every committed event into
//! JetStream CHAT_EVENTS exactly once, in order.
//!
//! cqrs-es's `CqrsFramework::execute` is not used on the hot path: it replays an
//! aggregate's whole history on every command, returns no sequence numbers, and
//! its snapshot stores apply new events twice. [`store::AggregateStore`] drives
//! the same steps (load, handle, commit) over postgres-es's repository with a
//! correct snapshot path, and [`service::CommandService`] adds caching, retries
//! and metadata.

mod appender;
pub mod lookup;
pub mod metadata;
pub mod relay;
pub mod service;
pub mod store;
pub mod unique_key;
pub mod write_model;

pub use metadata::CommandMetadata;
pub use relay::{Relay, RelayOptions, RelayWake};
pub use service::{CommandError, CommandService, Executed, ServiceOptions};
pub use store::{AggregateStore, Loaded, StoreError};
pub use unique_key::UniqueKey;
pub use write_model::{WriteModel, WriteOptions};
