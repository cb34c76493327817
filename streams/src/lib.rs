//! The JetStream side of CipherTalk: the topology (streams, subjects, KV buckets),
//! the event envelope and the headers as they travel on the wire, the helpers
//! that publish it, and the errors (with their kinds) of talking to JetStream.
//!
//! Operators see exactly this topology with the NATS CLI (`nats stream ls`,
//! `nats kv ls`); `ciphertalk streams` compares it with the live server.

pub mod chain;
pub mod connect;
pub mod envelope;
pub mod error;
pub mod headers;
pub mod stall;
pub mod subjects;
pub mod topology;

pub use chain::{ChainError, ChainErrorKind, Link};
pub use envelope::{EnvelopeError, LogPosition, WireEvent};
pub use error::{JetStreamError, JetStreamErrorKind, WithKind};
pub use stall::{StallTracker, Stalls};
pub use topology::{Topology, TopologyError, TopologySettings, TopologyStatus};
