//! Presence: who is online and when they were last seen, in the `presence` KV
//! bucket, and who may see it.
//!
//! Two keys per user: `<user_id>` holds `{"last_seen"}` (kept for the bucket's
//! max age), and `<user_id>.online` is a marker written with a per-message TTL
//! and refreshed by every live connection of the user (heartbeats); and one
//! per connected device, `<user_id>.device.<device_id>`, refreshed the same
//! way, which tells the pusher on any gateway that a device needs no push. A gateway
//! that dies stops refreshing, so its users' markers expire by themselves and
//! their last-seen time is the last heartbeat's.
//!
//! A user's presence is shown as their `last_seen_visible_to` setting allows:
//! to everybody, to their contacts, or to nobody (then they look offline);
//! never to a user they blocked.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_commands::WriteModel;
use ciphertalk_domain::user::LastSeenVisibility;
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_streams::error::Error;
use ciphertalk_streams::{WithKind, subjects};
use serde::{Deserialize, Serialize};

/// Which side of presence failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceErrorKind {
    /// The `presence` bucket cannot be opened.
    Bucket,
    /// An online marker or last-seen time was not stored (or removed).
    Write,
    /// The stored presence cannot be read.
    Read,
    /// The user's visibility setting cannot be loaded (from the event store).
    Settings,
}

impl fmt::Display for PresenceErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bucket => "presence: opening the bucket",
            Self::Write => "presence: storing",
            Self::Read => "presence: reading",
            Self::Settings => "presence: loading the user's settings",
        })
    }
}

pub type PresenceError = Error<PresenceErrorKind>;

/// A user's presence as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub online: bool,
    pub last_seen: Option<DateTime<Utc>>,
}

impl Status {
    /// What a viewer who may not see it gets.
    pub const HIDDEN: Self = Self { online: false, last_seen: None };
}

#[derive(Serialize, Deserialize)]
struct LastSeen {
    last_seen: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Presence {
    js: jetstream::Context,
    kv: kv::Store,
    ttl: Duration,
}

impl Presence {
    /// `ttl`: how long an online marker outlives its last heartbeat.
    pub async fn open(js: &jetstream::Context, ttl: Duration) -> Result<Self, PresenceError> {
        let kv = js
            .get_key_value(subjects::PRESENCE_BUCKET)
            .await
            .map_err(|err| err.with_kind(PresenceErrorKind::Bucket))?;
        Ok(Self { js: js.clone(), kv, ttl })
    }

    /// How often a live connection should call [`Presence::heartbeat`].
    pub fn heartbeat_every(&self) -> Duration {
        self.ttl / 3
    }

    /// Marks the user and their device online (for `ttl`) and seen now.
    pub async fn heartbeat(&self, user: UserId, device: DeviceId) -> Result<(), PresenceError> {
        self.mark(online_key(user)).await?;
        self.mark(device_key(user, device)).await?;
        self.seen(user, Utc::now()).await
    }

    /// Writes a marker that lives for `ttl` unless refreshed.
    async fn mark(&self, key: String) -> Result<(), PresenceError> {
        // The KV client has no put with a TTL; a KV put is a publish on the key's subject.
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_TTL, self.ttl.as_secs().max(1).to_string().as_str());
        let subject = format!("$KV.{}.{key}", subjects::PRESENCE_BUCKET);
        self.js
            .publish_with_headers(subject, headers, Bytes::from_static(b"1"))
            .await
            .map_err(|err| err.with_kind(PresenceErrorKind::Write))?
            .await
            .map_err(|err| err.with_kind(PresenceErrorKind::Write))?;
        Ok(())
    }

    /// Marks one device's connection gone. Another connection of the same
    /// device marks it again at its next heartbeat.
    pub async fn device_offline(&self, user: UserId, device: DeviceId) -> Result<(), PresenceError> {
        self.kv.delete(device_key(user, device)).await.map_err(|err| err.with_kind(PresenceErrorKind::Write))
    }

    /// Whether `device` of `user` has a live connection on some gateway.
    pub async fn device_connected(&self, user: UserId, device: DeviceId) -> Result<bool, PresenceError> {
        let entry = self.kv.get(device_key(user, device)).await;
        Ok(entry.map_err(|err| err.with_kind(PresenceErrorKind::Read))?.is_some())
    }

    /// Marks the user offline, last seen now; returns that time.
    pub async fn offline(&self, user: UserId) -> Result<DateTime<Utc>, PresenceError> {
        let now = Utc::now();
        self.seen(user, now).await?;
        self.kv.delete(online_key(user)).await.map_err(|err| err.with_kind(PresenceErrorKind::Write))?;
        Ok(now)
    }

    async fn seen(&self, user: UserId, at: DateTime<Utc>) -> Result<(), PresenceError> {
        let value = serde_json::to_vec(&LastSeen { last_seen: at })
            .map_err(|err| err.with_kind(PresenceErrorKind::Write))?;
        self.kv
            .put(user.to_string(), value.into())
            .await
            .map_err(|err| err.with_kind(PresenceErrorKind::Write))?;
        Ok(())
    }

    /// The stored presence, whoever asks.
    pub async fn status(&self, user: UserId) -> Result<Status, PresenceError> {
        let read = |err: kv::EntryError| err.with_kind(PresenceErrorKind::Read);
        let online = self.kv.get(online_key(user)).await.map_err(read)?.is_some();
        let last_seen = self
            .kv
            .get(user.to_string())
            .await
            .map_err(read)?
            .and_then(|value| serde_json::from_slice::<LastSeen>(&value).ok())
            .map(|seen| seen.last_seen);
        Ok(Status { online, last_seen })
    }
}

fn online_key(user: UserId) -> String {
    format!("{user}.online")
}

fn device_key(user: UserId, device: DeviceId) -> String {
    format!("{user}.device.{device}")
}

/// Who may see `subject`'s presence, decided from their settings, contacts
/// and blocks: a user they blocked never does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    rule: Rule,
    blocked: BTreeSet<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Everybody,
    Contacts(BTreeSet<UserId>),
    Nobody,
}

impl Visibility {
    /// `subject`'s current setting (read from the event store: always current).
    pub async fn of(write: &WriteModel, subject: UserId) -> Result<Self, PresenceError> {
        let loaded = write
            .users
            .load(&subject.to_string())
            .await
            .map_err(|err| err.with_kind(PresenceErrorKind::Settings))?;
        let user = loaded.aggregate;
        let rule = match user.settings().last_seen_visible_to {
            LastSeenVisibility::Everybody => Rule::Everybody,
            LastSeenVisibility::Contacts => Rule::Contacts(user.contacts().clone()),
            LastSeenVisibility::Nobody => Rule::Nobody,
        };
        Ok(Self { rule, blocked: user.blocks().clone() })
    }

    /// Whether nobody may see it.
    pub fn is_nobody(&self) -> bool {
        self.rule == Rule::Nobody
    }

    pub fn allows(&self, viewer: UserId) -> bool {
        !self.blocked.contains(&viewer)
            && match &self.rule {
                Rule::Everybody => true,
                Rule::Contacts(contacts) => contacts.contains(&viewer),
                Rule::Nobody => false,
            }
    }
}
