//! Realtime delivery: WebSocket connections that replay a user's delivery
//! queue from a cursor and continue live, acknowledged cursors, presence, and
//! ephemeral frames routed between gateways over core NATS.
//!
//! - [`queue`]: reading a user's queue in CHAT_DELIVERY (backlog and inbox).
//! - [`feed`]: the live events of CHAT_DELIVERY, routed to this process's connections.
//! - [`cursor`]: cursors and the acknowledged cursor per user.
//! - [`connection`]: one WebSocket connection.
//! - [`frames`]: the frames of API.md.
//! - [`presence`], [`signals`]: online/last seen, and typing/signal routing.
//! - [`membership`]: who may exchange typing and signal frames in a room.
//! - [`alerts`]: new reports pushed to connected moderators.
//! - [`signaling`], [`playback`]: call signals and co-watch, checked and relayed.
//!
//! Gateways keep no state another gateway needs: a user may connect to any of
//! them, and a gateway that dies loses nothing (its clients reconnect
//! elsewhere and resume from their cursor).

pub mod alerts;
pub mod connection;
pub mod cursor;
pub mod feed;
pub mod frames;
pub mod membership;
pub mod playback;
pub mod presence;
pub mod queue;
pub mod sessions;
pub mod signaling;
pub mod signals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ciphertalk_commands::WriteModel;
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_projections::delivery;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use cursor::Cursor;
use frames::ServerFrame;
use presence::{Presence, Status, Visibility};
use queue::DeliveryQueue;

use crate::config::Config;
use crate::throttle::Throttle;

/// Per-connection limits and timings (config section `realtime`).
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// Frames queued for one connection before it counts as slow.
    pub queue_frames: usize,
    /// How long a full queue may stay full before the client is disconnected.
    pub slow_client: Duration,
    /// A connection from which nothing (not even a pong) arrives for this long is closed.
    pub idle_timeout: Duration,
    /// How long an online marker outlives its connection's last heartbeat.
    pub presence_ttl: Duration,
    /// Largest client frame accepted.
    pub max_frame_bytes: usize,
    /// Bytes of frames queued for one connection before it counts as slow.
    pub queue_bytes: usize,
    /// Open connections of one user in this process.
    pub max_connections_per_user: usize,
    /// Largest call-signal or playback payload (`webrtc.max_payload_bytes`).
    pub max_signal_payload_bytes: usize,
}

impl From<&Config> for RealtimeSettings {
    fn from(all: &Config) -> Self {
        let config = &all.realtime;
        Self {
            queue_frames: config.queue_frames,
            slow_client: Duration::from_millis(config.slow_client_ms),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            presence_ttl: Duration::from_secs(config.presence_ttl_secs),
            max_frame_bytes: config.max_frame_bytes,
            queue_bytes: config.queue_bytes,
            max_connections_per_user: config.max_connections_per_user,
            max_signal_payload_bytes: all.webrtc.max_payload_bytes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error("delivery queue: {0}")]
    Queue(#[from] queue::QueueError),
    #[error(transparent)]
    Presence(#[from] presence::PresenceError),
}

/// The realtime service of one gateway process.
pub struct Realtime {
    pub settings: RealtimeSettings,
    pub queue: DeliveryQueue,
    pub feed: feed::Feed,
    pub presence: Presence,
    pub nats: async_nats::Client,
    pub db: PgPool,
    pub write: Arc<WriteModel>,
    /// Stores acknowledged cursors in batches.
    pub acks: cursor::AckWriter,
    /// Rate limits on client frames.
    pub throttle: Arc<Throttle>,
    /// Open connections per user and device in this process.
    local: Mutex<HashMap<UserId, HashMap<DeviceId, usize>>>,
    shutdown: CancellationToken,
}

impl Realtime {
    pub async fn new(
        settings: RealtimeSettings,
        throttle: Arc<Throttle>,
        nats: async_nats::Client,
        db: PgPool,
        write: Arc<WriteModel>,
        feed_signals: feed::Signals,
        shutdown: CancellationToken,
    ) -> Result<Self, RealtimeError> {
        let js = async_nats::jetstream::new(nats.clone());
        let queue = DeliveryQueue::open(&js).await?;
        let feed = feed::Feed::start(
            queue.stream().clone(),
            settings.queue_frames,
            feed_signals,
            shutdown.child_token(),
        )
        .await?;
        Ok(Self {
            queue,
            feed,
            presence: Presence::open(&js, settings.presence_ttl).await?,
            settings,
            nats,
            acks: cursor::AckWriter::spawn(db.clone()),
            throttle,
            db,
            write,
            local: Mutex::new(HashMap::new()),
            shutdown,
        })
    }

    /// Cancelled when the server stops: connections close so clients go elsewhere.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Counts a new connection of `user`, unless they have as many open here
    /// as they may; the count drops with the returned admission.
    pub fn admit(self: &Arc<Self>, user: UserId, device: DeviceId) -> Option<Admission> {
        let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let devices = local.entry(user).or_default();
        if devices.values().sum::<usize>() >= self.settings.max_connections_per_user {
            metrics::counter!("ciphertalk_ws_refused_total", "reason" => "too_many_connections").increment(1);
            return None;
        }
        *devices.entry(device).or_default() += 1;
        Some(Admission { rt: Some(self.clone()), user, device })
    }

    /// Counts a closed connection: which of the device's and the user's
    /// connections here it was the last of.
    fn disconnected(&self, user: UserId, device: DeviceId) -> Released {
        let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(devices) = local.get_mut(&user) else {
            return Released { device_last: true, user_last: true };
        };
        let device_last = match devices.get_mut(&device) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => {
                devices.remove(&device);
                true
            }
        };
        let user_last = devices.is_empty();
        if user_last {
            local.remove(&user);
        }
        Released { device_last, user_last }
    }

    /// `subject`'s presence as `viewer` may see it.
    pub async fn presence_for(&self, viewer: UserId, subject: UserId) -> Result<Status, RealtimeError> {
        if viewer != subject && !Visibility::of(&self.write, subject).await?.allows(viewer) {
            return Ok(Status::HIDDEN);
        }
        Ok(self.presence.status(subject).await?)
    }

    /// Tells everyone who follows `user` and may see their presence about it.
    async fn announce(&self, user: UserId, status: Status) {
        let visibility = match Visibility::of(&self.write, user).await {
            Ok(visibility) if visibility.is_nobody() => return,
            Ok(visibility) => visibility,
            Err(err) => {
                tracing::warn!(error = %err, "presence not announced");
                return;
            }
        };
        let watchers = match delivery::presence_watchers(&self.db, user).await {
            Ok(watchers) => watchers,
            Err(err) => {
                tracing::warn!(error = %err, "presence not announced");
                return;
            }
        };
        let allowed: Vec<UserId> = watchers.into_iter().filter(|w| visibility.allows(*w)).collect();
        let frame =
            ServerFrame::Presence { user_id: user, online: status.online, last_seen: status.last_seen };
        signals::send(&self.nats, &allowed, &frame.to_text()).await;
    }
}

/// One admitted connection of a user in this process; counted until dropped
/// (also when the upgrade never completes) or [`Admission::release`]d.
pub struct Admission {
    rt: Option<Arc<Realtime>>,
    user: UserId,
    device: DeviceId,
}

/// What a closed connection was the last of, in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Released {
    /// The device's last: its presence marker goes (another connection of it
    /// keeps the marker, so pushes still see the device connected).
    device_last: bool,
    /// The user's last: they go offline.
    user_last: bool,
}

impl Admission {
    /// Uncounts the connection.
    fn release(mut self) -> Released {
        match self.rt.take() {
            Some(rt) => rt.disconnected(self.user, self.device),
            None => Released { device_last: false, user_last: false },
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.disconnected(self.user, self.device);
        }
    }
}
