//! CipherTalk's read side: projections that turn CHAT_EVENTS into Postgres
//! read models, the queries the gateway answers from, read-your-writes waits,
//! and replay.
//!
//! - [`projector`]: durable JetStream consumers applying events exactly once.
//! - [`rooms`], [`timeline`], [`contacts`], [`blocks`], [`files`], [`moderation`], [`audit`]:
//!   read models and their queries.
//! - [`delivery`]: each room event fanned out to its members' delivery queues
//!   ([`client_event`] is what clients receive).
//! - [`publish`]: a batch's delivery messages into CHAT_DELIVERY, in order, once.
//! - [`freshness`]: how far each projection has got, and bounded waits on it.
//! - [`backlog`]: how far the projections trail the stream, for holding senders back.
//! - [`rebuild`]: rebuilding one read model from sequence 1 beside the live one.
//!
//! Modules use only those below them: `event` (the events as read, decoding)
//! and `error` (the projector's) use none; the read models use `event`;
//! `projection` routes an event to them; the projector drives it all.

pub mod audit;
pub mod backlog;
pub mod blocks;
pub mod client_event;
pub mod contacts;
pub mod delivery;
mod error;
mod event;
pub mod files;
pub mod freshness;
pub mod handoff;
pub mod moderation;
pub mod page;
mod projection;
pub mod projector;
mod publish;
pub mod rebuild;
pub mod rooms;
pub mod timeline;

pub use backlog::Backlog;
pub use ciphertalk_streams::headers::HEADER_DELIVERY_ID;
pub use error::ProjectorError;
pub use freshness::{Freshness, ProjectionStatus};
pub use page::{Page, QueryError};
pub use projection::Projection;
pub use projector::{Projector, ProjectorOptions};
pub use publish::DeliveryId;
pub use rebuild::{RebuildError, RebuildProgress, RebuildReport, rebuild, republish_deliveries};
