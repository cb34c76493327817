//! The JetStream topology CipherTalk runs on, provisioned idempotently.
//!
//! | name            | kind                      | subjects              |
//! |-----------------|---------------------------|-----------------------|
//! | `CHAT_EVENTS`   | stream, limits retention  | `chat.evt.>`          |
//! | `CHAT_DELIVERY` | stream, limits retention  | `chat.dlv.>`          |
//! | `CHAT_NOTIFY`   | stream, work queue        | `chat.notify.>`       |
//! | `presence`      | KV bucket, per-key TTL    | `$KV.presence.>`      |
//!
//! A live stream whose settings differ from the configured ones is updated;
//! when JetStream refuses the update (a storage or retention change, replicas
//! beyond the cluster size), start-up fails naming every difference rather
//! than running on a topology nobody asked for.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context, ErrorCode, context::GetStreamErrorKind};

use crate::subjects;

/// The knobs operators turn; everything else about the topology is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologySettings {
    /// 1 on a single server, 3 in a cluster.
    pub replicas: usize,
    /// How long CHAT_EVENTS keeps events; zero keeps them forever.
    pub events_max_age: Duration,
    /// JetStream de-duplication window for `Nats-Msg-Id` (at least two minutes).
    pub duplicate_window: Duration,
    /// How long an undelivered message waits in a user's inbox.
    pub delivery_max_age: Duration,
    /// How long a push-notification job may wait for a worker.
    pub notify_max_age: Duration,
    /// How long a last-seen entry survives without being refreshed.
    pub presence_max_age: Duration,
    /// Consumers a stream may have. Every WebSocket follows its user's queue
    /// with one consumer on CHAT_DELIVERY, and nats-server otherwise caps a
    /// stream at 1,000 (an unset limit is replaced by that default).
    pub max_consumers: i32,
}

impl Default for TopologySettings {
    fn default() -> Self {
        Self {
            replicas: 1,
            events_max_age: Duration::ZERO,
            duplicate_window: Duration::from_secs(120),
            delivery_max_age: Duration::from_secs(30 * 24 * 3600),
            notify_max_age: Duration::from_secs(24 * 3600),
            presence_max_age: Duration::from_secs(30 * 24 * 3600),
            max_consumers: 100_000,
        }
    }
}

/// The smallest per-key TTL granularity the presence bucket accepts.
const PRESENCE_MARKER_TTL: Duration = Duration::from_secs(1);

/// The desired topology, built from settings.
#[derive(Debug, Clone)]
pub struct Topology {
    settings: TopologySettings,
}

/// A setting whose live value is not the configured one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: &'static str,
    pub live: String,
    pub desired: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: live {} != configured {}", self.field, self.live, self.desired)
    }
}

/// What `ensure` did to, or `inspect` found about, one stream or bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Missing,
    Matches,
    Differs(Vec<Difference>),
    Created,
    Updated(Vec<Difference>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyStatus {
    pub name: String,
    pub kind: &'static str,
    pub subjects: String,
    pub state: State,
}

impl fmt::Display for TopologyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<14} {:<7} {:<16} ", self.name, self.kind, self.subjects)?;
        match &self.state {
            State::Missing => write!(f, "missing"),
            State::Matches => write!(f, "matches"),
            State::Created => write!(f, "created"),
            State::Differs(diffs) => write!(f, "DIFFERS ({})", join(diffs)),
            State::Updated(diffs) => write!(f, "updated ({})", join(diffs)),
        }
    }
}

fn join(diffs: &[Difference]) -> String {
    diffs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read stream {name}: {source}")]
    Inspect { name: String, source: async_nats::Error },
    #[error("cannot create {name}: {source}")]
    Create { name: String, source: async_nats::Error },
    #[error("{name} differs from the configuration and JetStream refused the update ({}): {source}", join(.differences))]
    Update { name: String, differences: Vec<Difference>, source: async_nats::Error },
    #[error("replicas must be at least 1")]
    Replicas,
    #[error("max_consumers must be positive")]
    MaxConsumers,
}

impl Topology {
    pub fn new(settings: TopologySettings) -> Result<Self, TopologyError> {
        if settings.replicas == 0 {
            return Err(TopologyError::Replicas);
        }
        if settings.max_consumers <= 0 {
            return Err(TopologyError::MaxConsumers);
        }
        Ok(Self { settings })
    }

    pub fn settings(&self) -> &TopologySettings {
        &self.settings
    }

    /// The three streams, as JetStream configurations.
    pub fn streams(&self) -> Vec<Config> {
        let s = &self.settings;
        let stream = |name: &str, subjects: &str, retention, max_age| Config {
            name: name.to_owned(),
            subjects: vec![subjects.to_owned()],
            retention,
            storage: StorageType::File,
            num_replicas: s.replicas,
            max_age,
            // JetStream refuses a window longer than max age.
            duplicate_window: if max_age.is_zero() {
                s.duplicate_window
            } else {
                s.duplicate_window.min(max_age)
            },
            discard: DiscardPolicy::Old,
            allow_direct: true,
            max_consumers: s.max_consumers,
            ..Default::default()
        };
        vec![
            stream(
                subjects::EVENTS_STREAM,
                subjects::EVENTS_SUBJECTS,
                RetentionPolicy::Limits,
                s.events_max_age,
            ),
            stream(
                subjects::DELIVERY_STREAM,
                subjects::DELIVERY_SUBJECTS,
                RetentionPolicy::Limits,
                s.delivery_max_age,
            ),
            stream(
                subjects::NOTIFY_STREAM,
                subjects::NOTIFY_SUBJECTS,
                RetentionPolicy::WorkQueue,
                s.notify_max_age,
            ),
        ]
    }

    /// The presence bucket: one value per user, per-key TTLs for online markers.
    pub fn presence_bucket(&self) -> jetstream::kv::Config {
        jetstream::kv::Config {
            bucket: subjects::PRESENCE_BUCKET.to_owned(),
            history: 1,
            max_age: self.settings.presence_max_age,
            storage: StorageType::File,
            num_replicas: self.settings.replicas,
            limit_markers: Some(PRESENCE_MARKER_TTL),
            ..Default::default()
        }
    }

    /// Creates what is missing and updates what differs. Idempotent: a second
    /// call against an unchanged configuration reports `Matches` everywhere.
    pub async fn ensure(&self, js: &Context) -> Result<Vec<TopologyStatus>, TopologyError> {
        let mut report = Vec::new();
        for desired in self.streams() {
            let name = desired.name.clone();
            let state = match live_config(js, &name).await? {
                None => {
                    js.create_stream(desired.clone())
                        .await
                        .map_err(|e| TopologyError::Create { name: name.clone(), source: e.into() })?;
                    State::Created
                }
                Some(live) => {
                    let differences = stream_differences(&live, &desired);
                    if differences.is_empty() {
                        State::Matches
                    } else {
                        js.update_stream(desired.clone()).await.map_err(|e| TopologyError::Update {
                            name: name.clone(),
                            differences: differences.clone(),
                            source: e.into(),
                        })?;
                        State::Updated(differences)
                    }
                }
            };
            report.push(status(&desired, "stream", state));
        }
        report.push(self.ensure_presence(js).await?);
        Ok(report)
    }

    async fn ensure_presence(&self, js: &Context) -> Result<TopologyStatus, TopologyError> {
        let desired = self.presence_bucket();
        let stream_name = format!("KV_{}", desired.bucket);
        let state = match live_config(js, &stream_name).await? {
            None => {
                js.create_key_value(desired.clone())
                    .await
                    .map_err(|e| TopologyError::Create { name: desired.bucket.clone(), source: e.into() })?;
                State::Created
            }
            Some(live) => {
                let differences = bucket_differences(&live, &desired);
                if differences.is_empty() {
                    State::Matches
                } else {
                    js.update_key_value(desired.clone()).await.map_err(|e| TopologyError::Update {
                        name: desired.bucket.clone(),
                        differences: differences.clone(),
                        source: e.into(),
                    })?;
                    State::Updated(differences)
                }
            }
        };
        Ok(TopologyStatus {
            name: desired.bucket.clone(),
            kind: "kv",
            subjects: format!("$KV.{}.>", desired.bucket),
            state,
        })
    }

    /// Compares the live topology with the configuration without changing anything.
    pub async fn inspect(&self, js: &Context) -> Result<Vec<TopologyStatus>, TopologyError> {
        let mut report = Vec::new();
        for desired in self.streams() {
            let state = match live_config(js, &desired.name).await? {
                None => State::Missing,
                Some(live) => verdict(stream_differences(&live, &desired)),
            };
            report.push(status(&desired, "stream", state));
        }
        let bucket = self.presence_bucket();
        let state = match live_config(js, &format!("KV_{}", bucket.bucket)).await? {
            None => State::Missing,
            Some(live) => verdict(bucket_differences(&live, &bucket)),
        };
        report.push(TopologyStatus {
            name: bucket.bucket.clone(),
            kind: "kv",
            subjects: format!("$KV.{}.>", bucket.bucket),
            state,
        });
        Ok(report)
    }
}

fn verdict(differences: Vec<Difference>) -> State {
    if differences.is_empty() { State::Matches } else { State::Differs(differences) }
}

fn status(config: &Config, kind: &'static str, state: State) -> TopologyStatus {
    TopologyStatus { name: config.name.clone(), kind, subjects: config.subjects.join(","), state }
}

async fn live_config(js: &Context, name: &str) -> Result<Option<Config>, TopologyError> {
    match js.get_stream(name).await {
        Ok(stream) => Ok(Some(stream.cached_info().config.clone())),
        Err(err) => match err.kind() {
            GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND => Ok(None),
            _ => Err(TopologyError::Inspect { name: name.to_owned(), source: err.into() }),
        },
    }
}

/// The settings CipherTalk owns on a stream; anything else an operator set by
/// hand (placement, compression, metadata) is left alone.
fn stream_differences(live: &Config, desired: &Config) -> Vec<Difference> {
    let mut out = Vec::new();
    compare(&mut out, "subjects", &live.subjects, &desired.subjects);
    compare(&mut out, "retention", &live.retention, &desired.retention);
    compare(&mut out, "storage", &live.storage, &desired.storage);
    compare(&mut out, "replicas", &live.num_replicas, &desired.num_replicas);
    compare(&mut out, "max_age", &live.max_age, &desired.max_age);
    compare(&mut out, "duplicate_window", &live.duplicate_window, &desired.duplicate_window);
    compare(&mut out, "discard", &live.discard, &desired.discard);
    compare(&mut out, "allow_direct", &live.allow_direct, &desired.allow_direct);
    compare(&mut out, "max_consumers", &live.max_consumers, &desired.max_consumers);
    out
}

fn bucket_differences(live: &Config, desired: &jetstream::kv::Config) -> Vec<Difference> {
    let mut out = Vec::new();
    compare(&mut out, "history", &live.max_messages_per_subject, &desired.history);
    compare(&mut out, "max_age", &live.max_age, &desired.max_age);
    compare(&mut out, "storage", &live.storage, &desired.storage);
    compare(&mut out, "replicas", &live.num_replicas, &desired.num_replicas);
    compare(&mut out, "per_key_ttl", &live.allow_message_ttl, &desired.limit_markers.is_some());
    out
}

fn compare<T: PartialEq + fmt::Debug>(out: &mut Vec<Difference>, field: &'static str, live: &T, desired: &T) {
    if live != desired {
        out.push(Difference { field, live: format!("{live:?}"), desired: format!("{desired:?}") });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stream_keeps_a_dedupe_window_of_at_least_two_minutes() {
        let topology = Topology::new(TopologySettings::default()).expect("valid settings");
        let events = &topology.streams()[0];
        assert_eq!(events.name, "CHAT_EVENTS");
        assert!(events.duplicate_window >= Duration::from_secs(120));
        assert_eq!(events.retention, RetentionPolicy::Limits);
        assert_eq!(topology.streams()[2].retention, RetentionPolicy::WorkQueue);
    }

    #[test]
    fn a_changed_max_age_is_a_difference() {
        let topology = Topology::new(TopologySettings::default()).expect("valid settings");
        let desired = topology.streams()[1].clone();
        let mut live = desired.clone();
        live.max_age = Duration::from_secs(60);
        let diffs = stream_differences(&live, &desired);
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].field, "max_age");
    }

    #[test]
    fn zero_replicas_are_refused() {
        let settings = TopologySettings { replicas: 0, ..TopologySettings::default() };
        assert!(Topology::new(settings).is_err());
    }
}
