//! The pusher: one durable consumer on CHAT_NOTIFY (shared by every gateway
//! that runs one) that wakes the devices the jobs are for.
//!
//! Grouping. Jobs of one user and room arriving within the coalesce window
//! of the first become one notification `{room_id, count, first_seq}`.
//!
//! Per device of the user with a push target, at push time: a device
//! connected right now (its presence marker, written by whichever gateway
//! holds its WebSocket) is skipped; otherwise the notification goes through
//! the device's provider, retried with exponential backoff, and
//! dead-lettered (`push_dead_letters`) after the last attempt or a refusal.
//! A target the service reports gone is unregistered (a command, so the
//! write model and the read model learn it).
//!
//! Never lost, never doubled. A job is acknowledged only once every device
//! has an outcome, and each outcome is stored (`push_outcomes`, per job and
//! device) as soon as the provider answered: a job redelivered after a
//! restart goes only to the devices that had none, counted by the jobs still
//! missing for each. Between a provider's answer and the outcome's commit
//! only a crash can fall; the push's key (the same for every attempt) lets
//! providers that can (Web Push `Topic`, webhook `Idempotency-Key`, FCM
//! `collapse_key`) drop that one duplicate.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, AckKind, Message};
use chrono::Utc;
use ciphertalk_commands::{CommandMetadata, WriteModel};
use ciphertalk_domain::user::{PushRemoval, PushTarget, UserCommand};
use ciphertalk_domain::{DeviceId, RoomId, UserId};
use ciphertalk_projections::notifications::Job;
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::{JetStreamError, WithKind, subjects};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Providers;
use super::provider::{Failure, Notification};
use crate::realtime::presence::Presence;

/// The durable consumer every pusher shares.
pub const DURABLE: &str = "pusher";

/// Timings and bounds (config section `push`).
#[derive(Debug, Clone)]
pub struct PusherSettings {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub coalesce: Duration,
    pub max_age: Duration,
    pub concurrency: usize,
    /// JetStream redelivers a job not acknowledged (nor kept alive) this long.
    pub ack_wait: Duration,
    /// How long outcomes are kept: at least as long as CHAT_NOTIFY keeps a job.
    pub outcomes_kept: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("CHAT_NOTIFY: {0}")]
    Stream(#[from] JetStreamError),
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    /// Shutting down mid-push: the job is handed back unacknowledged.
    #[error("abandoned at shutdown")]
    Abandoned,
}

pub struct Pusher {
    pub js: jetstream::Context,
    pub pool: PgPool,
    pub presence: Presence,
    pub write: Arc<WriteModel>,
    pub providers: Providers,
    pub settings: PusherSettings,
}

/// One job as received, with the message that acknowledges it.
struct Queued {
    id: String,
    job: Job,
    message: Message,
}

/// Copies of jobs that arrived again while a push of them was under way in
/// this process (a redelivery after a nak or an ack wait that ran out, say),
/// by job id: acknowledged as the push that holds the job ends, never pushed
/// a second time (that push's outcome may not be stored yet).
struct InFlight<M = Message>(Arc<std::sync::Mutex<HashMap<String, Vec<M>>>>);

impl<M> Clone for InFlight<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M> Default for InFlight<M> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<M> InFlight<M> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<M>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `message` with the push under way for `id`; hands it back if there is none.
    fn keep_copy(&self, id: &str, message: M) -> Option<M> {
        match self.lock().get_mut(id) {
            Some(copies) => {
                copies.push(message);
                None
            }
            None => Some(message),
        }
    }

    fn start<'a>(&self, jobs: impl IntoIterator<Item = &'a str>) {
        let mut ids = self.lock();
        for id in jobs {
            ids.entry(id.to_owned()).or_default();
        }
    }

    /// Ends the push of `jobs`: the copies that arrived meanwhile.
    fn end<'a>(&self, jobs: impl IntoIterator<Item = &'a str>) -> Vec<M> {
        let mut ids = self.lock();
        jobs.into_iter().flat_map(|id| ids.remove(id).unwrap_or_default()).collect()
    }
}

/// Jobs of one user and room waiting to go out together.
struct Group {
    user: UserId,
    room: RoomId,
    due: Instant,
    jobs: Vec<Queued>,
}

impl Group {
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.jobs.iter().map(|queued| queued.id.as_str())
    }

    fn messages(&self) -> Vec<&Message> {
        self.jobs.iter().map(|queued| &queued.message).collect()
    }
}

/// One push to one device, as a dead letter records it.
#[derive(Clone, Copy)]
struct DevicePush<'a> {
    device: DeviceId,
    platform: &'a str,
    notification: &'a Notification,
    ids: &'a [String],
}

/// A device's push target, as the notifications projection keeps it.
struct Registration {
    device: DeviceId,
    platform: String,
    target: serde_json::Value,
}

impl Pusher {
    /// Runs until `shutdown`, starting over after failures.
    pub async fn run(self, shutdown: CancellationToken) {
        let pusher = Arc::new(self);
        let mut backoff = Duration::from_millis(100);
        loop {
            // Not raced against the shutdown: `consume` sees it itself and
            // hands waiting jobs back and lets pushes under way finish (dropped
            // mid-request, one could go out unrecorded).
            match pusher.consume(&shutdown).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "pusher failed; restarting");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        tracing::info!("pusher stopped");
    }

    /// Pulls jobs, groups them and pushes each group when due; returns at shutdown.
    async fn consume(self: &Arc<Self>, shutdown: &CancellationToken) -> Result<(), PushError> {
        let stream =
            self.js.get_stream(subjects::NOTIFY_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
        let consumer = stream
            .get_or_create_consumer(
                DURABLE,
                pull::Config {
                    durable_name: Some(DURABLE.to_owned()),
                    description: Some("push-notification jobs".to_owned()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.settings.ack_wait,
                    max_ack_pending: 10_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| err.with_kind(Js::Consume))?;
        let mut messages = consumer.messages().await.map_err(|err| err.with_kind(Js::Consume))?;
        self.sweep_outcomes().await;
        let mut sweep = tokio::time::interval(Duration::from_secs(600));
        let mut waiting: HashMap<(UserId, RoomId), Group> = HashMap::new();
        let mut in_flight = JoinSet::new();
        let pushing = InFlight::default();
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let ended = loop {
            let next_due = waiting.values().map(|group| group.due).min();
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                message = messages.next() => match message {
                    None => break Err(JetStreamError::new(Js::Ended).into()),
                    Some(Err(err)) => break Err(err.with_kind(Js::Consume).into()),
                    Some(Ok(message)) => self.admit(&mut waiting, &pushing, message).await,
                },
                () = tokio::time::sleep_until(next_due.unwrap_or(far)) => {
                    let now = Instant::now();
                    let due: Vec<_> = waiting.iter().filter(|(_, g)| g.due <= now).map(|(key, _)| *key).collect();
                    for key in due {
                        let Some(group) = waiting.remove(&key) else { continue };
                        let Ok(slot) = slots.clone().acquire_owned().await else { continue };
                        pushing.start(group.ids());
                        in_flight.spawn(self.clone().deliver(group, pushing.clone(), slot, shutdown.clone()));
                    }
                }
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = sweep.tick() => self.sweep_outcomes().await,
            }
        };
        // Waiting jobs go back at once; pushes under way finish (or give up at
        // shutdown) rather than being dropped mid-request.
        for group in waiting.into_values() {
            nak_all(&group.messages()).await;
        }
        while in_flight.join_next().await.is_some() {}
        ended
    }

    /// Adds a received job to its group (a redelivery replaces its earlier
    /// copy), or to the push under way that holds it.
    async fn admit(
        &self,
        waiting: &mut HashMap<(UserId, RoomId), Group>,
        pushing: &InFlight,
        message: Message,
    ) {
        let Ok(job) = serde_json::from_slice::<Job>(&message.payload) else {
            tracing::error!(subject = %message.subject, "a push job cannot be read; dropped");
            metrics::counter!("ciphertalk_push_dropped_total", "provider" => "none", "reason" => "undecodable")
                .increment(1);
            let _ = message.ack().await;
            return;
        };
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|id| id.as_str().to_owned())
            .or_else(|| message.info().ok().map(|info| format!("seq:{}", info.stream_sequence)))
            .unwrap_or_default();
        let Some(message) = pushing.keep_copy(&id, message) else { return };
        let group = waiting.entry((job.user_id, job.room_id)).or_insert_with(|| Group {
            user: job.user_id,
            room: job.room_id,
            due: Instant::now() + self.settings.coalesce,
            jobs: Vec::new(),
        });
        group.jobs.retain(|queued| queued.id != id);
        group.jobs.push(Queued { id, job, message });
    }

    /// Pushes one group to every device concerned, then acknowledges its jobs.
    async fn deliver(
        self: Arc<Self>,
        group: Group,
        pushing: InFlight,
        _slot: OwnedSemaphorePermit,
        shutdown: CancellationToken,
    ) {
        // Retries may outlast the ack wait: tell JetStream the jobs are being worked on.
        let every = self.settings.ack_wait / 3;
        let alive = async {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                tick.tick().await;
                for queued in &group.jobs {
                    let _ = queued.message.ack_with(AckKind::Progress).await;
                }
            }
        };
        let outcome = tokio::select! {
            outcome = self.push_group(&group, &shutdown) => outcome,
            () = alive => Ok(()),
        };
        let copies = pushing.end(group.ids());
        let mut messages = group.messages();
        messages.extend(&copies);
        match outcome {
            Ok(()) => {
                for message in messages {
                    // Confirmed by the server: an ack lost here would mean a
                    // redelivery, which the stored outcomes turn into nothing.
                    if let Err(err) = message.double_ack().await {
                        tracing::debug!(error = %err, "push job ack failed; its redelivery changes nothing");
                    }
                }
            }
            Err(err) => {
                if !matches!(err, PushError::Abandoned) {
                    tracing::warn!(error = %err, "push failed; the jobs come again");
                }
                nak_all(&messages).await;
            }
        }
    }

    async fn push_group(&self, group: &Group, shutdown: &CancellationToken) -> Result<(), PushError> {
        let oldest = Utc::now() - self.settings.max_age;
        let (fresh, stale): (Vec<&Queued>, Vec<&Queued>) =
            group.jobs.iter().partition(|queued| queued.job.sent_at >= oldest);
        if !stale.is_empty() {
            metrics::counter!("ciphertalk_push_dropped_total", "provider" => "none", "reason" => "stale")
                .increment(stale.len() as u64);
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let registrations: Vec<(Uuid, String, serde_json::Value)> =
            sqlx::query_as("SELECT device_id, platform, target FROM push_registrations WHERE user_id = $1")
                .bind(group.user.as_uuid())
                .fetch_all(&self.pool)
                .await?;
        if registrations.is_empty() {
            metrics::counter!("ciphertalk_push_dropped_total", "provider" => "none", "reason" => "no_registration")
                .increment(fresh.len() as u64);
            return Ok(());
        }
        let ids: Vec<String> = fresh.iter().map(|queued| queued.id.clone()).collect();
        let done: HashSet<(String, Uuid)> = sqlx::query_as::<_, (String, Uuid)>(
            "SELECT job_id, device_id FROM push_outcomes WHERE job_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect();
        let pushes = registrations.into_iter().map(|(device, platform, target)| {
            let pending: Vec<&Queued> =
                fresh.iter().copied().filter(|queued| !done.contains(&(queued.id.clone(), device))).collect();
            let registration = Registration { device: DeviceId::from_uuid(device), platform, target };
            self.push_device(group, registration, pending, shutdown)
        });
        let outcomes = futures::future::join_all(pushes).await;
        outcomes.into_iter().collect::<Result<Vec<()>, PushError>>().map(drop)
    }

    /// The jobs of `pending` (those this device has no outcome for yet) as one push to it.
    async fn push_device(
        &self,
        group: &Group,
        registration: Registration,
        pending: Vec<&Queued>,
        shutdown: &CancellationToken,
    ) -> Result<(), PushError> {
        let Some(first) = pending.iter().min_by_key(|queued| queued.job.seq) else { return Ok(()) };
        let device = registration.device;
        let platform = registration.platform.as_str();
        let ids: Vec<String> = pending.iter().map(|queued| queued.id.clone()).collect();
        let dropped = |reason: &'static str| {
            let provider = provider_label(platform);
            metrics::counter!("ciphertalk_push_dropped_total", "provider" => provider, "reason" => reason)
                .increment(1);
        };
        let Ok(target) = serde_json::from_value::<PushTarget>(registration.target) else {
            dropped("undecodable");
            return self.record(&ids, device, "undecodable").await;
        };
        let Some(provider) = self.providers.get(platform) else {
            dropped("provider_disabled");
            return self.record(&ids, device, "disabled").await;
        };
        match self.presence.device_connected(group.user, device).await {
            Ok(true) => {
                dropped("connected");
                return self.record(&ids, device, "connected").await;
            }
            Ok(false) => {}
            // Better a push too many than a message nobody hears of.
            Err(err) => tracing::warn!(error = %err, "cannot tell whether a device is connected; pushing"),
        }
        let notification = Notification {
            room_id: group.room,
            count: u32::try_from(pending.len()).unwrap_or(u32::MAX),
            first_seq: first.job.seq,
        };
        let key = push_key(&first.id, device);
        let mut backoff = self.settings.backoff;
        for attempt in 1..=self.settings.attempts {
            let failure = match provider.send(&target, &notification, &key).await {
                Ok(()) => {
                    metrics::counter!("ciphertalk_push_sent_total", "provider" => provider.platform())
                        .increment(1);
                    return self.record(&ids, device, "sent").await;
                }
                Err(failure) => failure,
            };
            if failure == Failure::Gone {
                dropped("gone");
                self.unregister(group.user, device, target).await;
                return self.record(&ids, device, "gone").await;
            }
            let reason = failure.reason();
            metrics::counter!("ciphertalk_push_failed_total", "provider" => provider.platform(), "reason" => reason)
                .increment(1);
            let retry_after = match failure {
                Failure::Retry { retry_after, .. } if attempt < self.settings.attempts => retry_after,
                // Refused, or out of attempts.
                _ => {
                    let push = DevicePush { device, platform, notification: &notification, ids: &ids };
                    return self.dead_letter(group, &push, attempt, reason).await;
                }
            };
            let wait = retry_after.map_or(backoff, |after| after.max(backoff)).min(self.settings.max_backoff);
            tokio::select! {
                () = shutdown.cancelled() => return Err(PushError::Abandoned),
                () = tokio::time::sleep(wait) => {}
            }
            backoff = (backoff * 2).min(self.settings.max_backoff);
        }
        Ok(())
    }

    /// Stores that `device` is done with the jobs `ids` (and how).
    async fn record(&self, ids: &[String], device: DeviceId, outcome: &str) -> Result<(), PushError> {
        sqlx::query(
            "INSERT INTO push_outcomes (job_id, device_id, outcome) SELECT j, $2, $3 FROM unnest($1::text[]) AS j
             ON CONFLICT DO NOTHING",
        )
        .bind(ids)
        .bind(device.as_uuid())
        .bind(outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keeps a push that failed for good, then records it done.
    async fn dead_letter(
        &self,
        group: &Group,
        push: &DevicePush<'_>,
        attempts: u32,
        reason: &str,
    ) -> Result<(), PushError> {
        let DevicePush { device, platform, notification, ids } = *push;
        tracing::warn!(%device, platform, attempts, reason, "push dead-lettered");
        metrics::counter!("ciphertalk_push_dropped_total", "provider" => provider_label(platform), "reason" => "dead_lettered")
            .increment(1);
        sqlx::query(
            "INSERT INTO push_dead_letters (user_id, device_id, platform, room_id, count, first_seq, job_ids, attempts, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(group.user.as_uuid())
        .bind(device.as_uuid())
        .bind(platform)
        .bind(notification.room_id.as_uuid())
        .bind(i32::try_from(notification.count).unwrap_or(i32::MAX))
        .bind(i64::try_from(notification.first_seq).unwrap_or(i64::MAX))
        .bind(ids)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(reason)
        .execute(&self.pool)
        .await?;
        self.record(ids, device, "dead").await
    }

    /// Removes a target its push service reported gone, unless the device
    /// registered another since.
    async fn unregister(&self, user: UserId, device: DeviceId, target: PushTarget) {
        let command = UserCommand::UnregisterPush {
            device_id: device,
            reason: PushRemoval::Gone,
            only_if: Some(target),
            at: Utc::now(),
        };
        let metadata = CommandMetadata::system("pusher");
        if let Err(err) = self.write.users.execute(&user.to_string(), command, &metadata).await {
            tracing::warn!(error = %err, %device, "cannot remove a push target reported gone");
        } else {
            tracing::info!(%device, "push target reported gone; removed");
        }
    }

    /// Forgets outcomes of jobs CHAT_NOTIFY can no longer redeliver.
    async fn sweep_outcomes(&self) {
        let kept = self.settings.outcomes_kept.as_secs_f64();
        let swept = sqlx::query("DELETE FROM push_outcomes WHERE at < now() - make_interval(secs => $1)")
            .bind(kept)
            .execute(&self.pool)
            .await;
        if let Err(err) = swept {
            tracing::warn!(error = %err, "cannot sweep old push outcomes");
        }
    }
}

/// A metric label for a platform read from the database (bounded to the known ones).
fn provider_label(platform: &str) -> &'static str {
    match platform {
        "webpush" => "webpush",
        "fcm" => "fcm",
        "webhook" => "webhook",
        _ => "other",
    }
}

/// The push's key: the same for every attempt at pushing these jobs to this
/// device, and opaque (it names neither user nor device).
fn push_key(first_job: &str, device: DeviceId) -> String {
    let digest = Sha256::digest(format!("{first_job}:{device}"));
    digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// Hands jobs back for redelivery now.
async fn nak_all(messages: &[&Message]) {
    for message in messages {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_that_comes_again_while_it_is_pushed_waits_for_that_push_and_is_not_pushed_twice() {
        let pushing = InFlight::<u32>::default();
        assert_eq!(pushing.keep_copy("1:u", 10), Some(10), "nothing under way: it is grouped");
        pushing.start(["1:u", "2:u"]);
        assert_eq!(pushing.keep_copy("2:u", 20), None);
        assert_eq!(pushing.keep_copy("3:u", 30), Some(30), "not under way");
        assert_eq!(pushing.keep_copy("2:u", 21), None);
        assert_eq!(pushing.end(["1:u", "2:u"]), vec![20, 21], "acknowledged with the push");
        assert_eq!(pushing.keep_copy("2:u", 22), Some(22), "the push ended: its outcome is stored");
    }

    #[test]
    fn a_push_key_is_stable_opaque_and_fits_a_web_push_topic() {
        let device = DeviceId::from_uuid(Uuid::from_u128(7));
        let key = push_key("12:00000000-0000-0000-0000-000000000001", device);
        assert_eq!(key, push_key("12:00000000-0000-0000-0000-000000000001", device));
        assert_ne!(key, push_key("13:00000000-0000-0000-0000-000000000001", device));
        // RFC 8030: a topic is at most 32 characters of the base64url alphabet.
        assert_eq!(key.len(), 32);
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
