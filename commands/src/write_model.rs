//! The command services of every aggregate, built once over one event store.

use std::sync::Arc;

use ciphertalk_domain::file::File;
use ciphertalk_domain::report::Report;
use ciphertalk_domain::room::{Franker, Room, RoomServices};
use ciphertalk_domain::to_device::Outbox;
use ciphertalk_domain::upcast::upcasters;
use ciphertalk_domain::user::User;
use sqlx::PgPool;

use crate::lookup::EventStoreLookup;
use crate::relay::RelayWake;
use crate::service::{CommandService, ServiceOptions};
use crate::store::AggregateStore;

/// Events between an outbox's snapshots. Its state is only its owner, but
/// each event is a whole to-device batch (up to hundreds of KiB): a load on a
/// cache miss reads at most this many batches, not a thousand.
const OUTBOX_SNAPSHOT_EVERY: usize = 16;

#[derive(Clone)]
pub struct WriteOptions {
    /// Events between snapshots. A room's snapshot is mostly its idempotency
    /// window (~65 KB as JSON): taken every 100 events it doubled the bytes a
    /// message writes; every 1,000, a load on a cache miss replays at most
    /// 1,000 events (a few milliseconds).
    pub snapshot_every: usize,
    pub service: ServiceOptions,
    /// Makes reporting tags for messages sent with a franking commitment;
    /// without one such sends are refused.
    pub franker: Option<Arc<dyn Franker>>,
    /// Most bytes one event may take on the wire (see [`AggregateStore::with_max_event_bytes`]).
    pub max_event_bytes: usize,
    /// Most members a room may have.
    pub room_max_members: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            snapshot_every: 1000,
            service: ServiceOptions::default(),
            franker: None,
            max_event_bytes: crate::store::DEFAULT_MAX_EVENT_BYTES,
            room_max_members: ciphertalk_domain::room::DEFAULT_MAX_MEMBERS,
        }
    }
}

impl std::fmt::Debug for WriteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteOptions")
            .field("snapshot_every", &self.snapshot_every)
            .field("service", &self.service)
            .field("franker", &self.franker.as_ref().map(|franker| franker.key_id().as_str()))
            .field("max_event_bytes", &self.max_event_bytes)
            .field("room_max_members", &self.room_max_members)
            .finish()
    }
}

pub struct WriteModel {
    pub store: AggregateStore,
    pub users: CommandService<User>,
    pub rooms: CommandService<Room>,
    pub files: CommandService<File>,
    pub reports: CommandService<Report>,
    /// To-device batches, one outbox per sending device (its id is the
    /// device's: ids of no other aggregate type, so read-your-writes waits
    /// keyed by aggregate id never mix an outbox with its owner's user).
    pub outboxes: CommandService<Outbox>,
}

impl WriteModel {
    pub fn new(pool: PgPool, wake: RelayWake, options: WriteOptions) -> Self {
        let store = AggregateStore::new(pool, options.snapshot_every, upcasters())
            .with_max_event_bytes(options.max_event_bytes);
        let mut room_services = RoomServices::new(Arc::new(EventStoreLookup::new(store.clone())))
            .with_max_members(options.room_max_members);
        if let Some(franker) = options.franker {
            room_services = room_services.with_franker(franker);
        }
        let outbox_store = AggregateStore::new(store.pool().clone(), OUTBOX_SNAPSHOT_EVERY, upcasters())
            .with_max_event_bytes(options.max_event_bytes);
        Self {
            outboxes: CommandService::new(outbox_store, (), wake.clone(), options.service.clone()),
            users: CommandService::new(store.clone(), (), wake.clone(), options.service.clone()),
            rooms: CommandService::new(store.clone(), room_services, wake.clone(), options.service.clone()),
            files: CommandService::new(store.clone(), (), wake.clone(), options.service.clone()),
            reports: CommandService::new(store.clone(), (), wake, options.service),
            store,
        }
    }
}
