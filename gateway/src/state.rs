//! The one application state, built once at start-up and shared by handlers.

use std::sync::Arc;

use ciphertalk_commands::WriteModel;
use ciphertalk_commands::lookup::EventStoreLookup;
use ciphertalk_projections::{Backlog, Freshness};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::auth::Auth;
use crate::config::Config;
use crate::realtime::Realtime;
use crate::storage::Storage;
use crate::throttle::Throttle;

/// Cheap to clone (one reference count): handlers and middleware take it by
/// value on every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub nats: async_nats::Client,
    pub jetstream: async_nats::jetstream::Context,
    pub metrics: PrometheusHandle,
    pub write: Arc<WriteModel>,
    /// Read-your-writes waits on the projections (which also hold the read pool).
    pub freshness: Freshness,
    /// How far the projections trail the stream; `None` when sends never wait for it.
    pub backlog: Option<Backlog>,
    pub auth: Arc<Auth>,
    /// WebSocket connections, delivery queues, presence.
    pub realtime: Arc<Realtime>,
    /// The relay and projectors of this process that cannot make progress.
    pub stalls: ciphertalk_streams::Stalls,
    /// Rate limits on writes and frames (this process's share).
    pub throttle: Arc<Throttle>,
    /// The blob store of file chunks and the URLs handed out for them.
    pub files: Arc<Storage>,
    /// The franking keys, current and previous, for verifying reports.
    pub franking: Arc<crate::franking::FrankingKeys>,
    /// The TURN server whose credentials are handed out; `None` when none is configured.
    pub turn: Option<crate::turn::Turn>,
}

impl Shared {
    /// The event store's answers to the routes' own questions (who is
    /// registered, facts about a message, who blocked whom).
    pub fn lookup(&self) -> EventStoreLookup {
        EventStoreLookup::new(self.write.store.clone())
    }
}
