//! The projections CipherTalk keeps, and how one event reaches a read model.
//!
//! Each projection follows one aggregate type and owns its tables outright (no
//! table is written by two projections), so any one of them can be rebuilt on
//! its own. Events are applied at most once per aggregate sequence: the
//! [`Applier`] remembers the last sequence it applied per aggregate, which also
//! guards against one event stored twice in the stream.
//!
//! Messages are most of the stream and need nothing but inserts, so the
//! [`Applier`] gathers consecutive `MessageSent` events into a run that each
//! projection applies in a few statements (one round trip per table instead of
//! one per message); any other event first applies the run before it, so every
//! event still sees all earlier ones.
//!
//! `delivery` is the one projection with output besides its tables: messages
//! for users' delivery queues, collected while a batch is applied and
//! published by the projector before it commits.

use std::collections::{HashMap, HashSet};

use ciphertalk_domain::file::FileEvent;
use ciphertalk_domain::report::ReportEvent;
use ciphertalk_domain::room::RoomEvent;
use ciphertalk_domain::to_device::ToDeviceEvent;
use ciphertalk_domain::user::UserEvent;
use ciphertalk_streams::{EnvelopeError, WireEvent, subjects};
use cqrs_es::Aggregate;
use sqlx::PgConnection;

use crate::audit::{self, Audited};
use crate::delivery::{self, Fanout, Followed};
use crate::event::{Origin, Sent, Undecodable, decode, is_old_shape, to_i64, to_u64};
use crate::notifications::{self, Jobs};
use crate::publish::Outgoing;
use crate::{contacts, files, moderation, rooms, timeline};

/// One read model fed from CHAT_EVENTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Projection {
    /// Room settings, members and roles, each member's room list with unread counts.
    Rooms,
    /// Messages per room with edits, tombstones, per-user hides and receipts.
    Timeline,
    /// Contact lists, blocks, and the display names contacts sort by.
    Contacts,
    /// Each room event fanned out to its members' delivery queues; device
    /// events and to-device messages too.
    Delivery,
    /// Files: layout, status, expiry, chunks stored.
    Files,
    /// Push-notification jobs for each message, and where devices are woken.
    Notifications,
    /// Reports and their decisions.
    Moderation,
    /// Moderation-relevant events of every aggregate, with actor, time, subject and details.
    Audit,
}

const ROOM: &str = <ciphertalk_domain::room::Room as Aggregate>::TYPE;
/// The room events the audit log records (`audit::of_room` names the same):
/// its consumer is handed only these, not the message traffic that is the
/// bulk of the log.
pub(crate) const AUDIT_ROOM_EVENTS: &[&str] = &[
    "RoomCreated",
    "RoomUpdated",
    "MemberInvited",
    "MemberJoined",
    "MemberLeft",
    "MemberRoleChanged",
    "MessageDeleted",
    "MessageTakenDown",
];
const USER: &str = <ciphertalk_domain::user::User as Aggregate>::TYPE;
const TO_DEVICE: &str = <ciphertalk_domain::to_device::Outbox as Aggregate>::TYPE;
const FILE: &str = <ciphertalk_domain::file::File as Aggregate>::TYPE;
const REPORT: &str = <ciphertalk_domain::report::Report as Aggregate>::TYPE;

impl Projection {
    pub const ALL: [Self; 8] = [
        Self::Rooms,
        Self::Timeline,
        Self::Contacts,
        Self::Delivery,
        Self::Files,
        Self::Notifications,
        Self::Moderation,
        Self::Audit,
    ];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rooms => "rooms",
            Self::Timeline => "timeline",
            Self::Contacts => "contacts",
            Self::Delivery => "delivery",
            Self::Files => "files",
            Self::Notifications => "notifications",
            Self::Moderation => "moderation",
            Self::Audit => "audit",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|projection| projection.name() == name)
    }

    /// The tables this projection owns (and a rebuild replaces).
    #[must_use]
    pub const fn tables(self) -> &'static [&'static str] {
        match self {
            Self::Rooms => &["rooms", "room_members", "room_message_senders"],
            Self::Timeline => &["timeline_messages", "timeline_hidden", "timeline_receipts"],
            Self::Contacts => &["contact_profiles", "contacts", "blocks"],
            Self::Delivery => {
                &["delivery_members", "delivery_blocks", "delivery_removed_devices", "delivery_files"]
            }
            Self::Files => &["files", "file_chunks"],
            Self::Notifications => &[
                "notify_members",
                "notify_mutes",
                "notify_blocks",
                "notify_quiet_users",
                "push_registrations",
            ],
            Self::Moderation => &["moderation_reports"],
            Self::Audit => &["audit_log"],
        }
    }

    /// The aggregate types whose events this projection reads; others are skipped.
    #[must_use]
    pub const fn aggregate_types(self) -> &'static [&'static str] {
        match self {
            Self::Rooms | Self::Timeline => &[ROOM],
            Self::Contacts => &[USER],
            // Room and file events to deliver, user events for blocks and
            // devices, to-device batches.
            Self::Delivery => &[ROOM, USER, TO_DEVICE, FILE],
            Self::Files => &[FILE],
            // Members and messages; settings, mutes, blocks and push targets.
            Self::Notifications => &[ROOM, USER],
            Self::Moderation => &[REPORT],
            Self::Audit => &[ROOM, USER, FILE, REPORT],
        }
    }

    fn follows(self, aggregate_type: &str) -> bool {
        self.aggregate_types().contains(&aggregate_type)
    }

    /// Whether a CHAT_EVENTS message (by its subject) may concern this projection.
    /// A batch of messages none of which does is passed over undecoded.
    pub(crate) fn follows_subject(self, subject: &str) -> bool {
        let Some(aggregate_type) = subjects::event_aggregate_type(subject) else { return true };
        match subjects::event_type(subject) {
            Some(event_type) => self.follows_event(aggregate_type, event_type),
            None => self.follows(aggregate_type),
        }
    }

    /// Whether this projection applies events of this type (the others it
    /// passes over, counted as neither applied nor skipped).
    #[must_use]
    pub fn follows_event(self, aggregate_type: &str, event_type: &str) -> bool {
        let ignored =
            self == Self::Audit && aggregate_type == ROOM && !AUDIT_ROOM_EVENTS.contains(&event_type);
        !ignored && self.follows(aggregate_type)
    }

    /// The CHAT_EVENTS subjects this projection's consumer is handed, or none
    /// for the whole stream. Projections that follow a small part of the log
    /// are filtered by nats-server, so that room messages, the bulk of it,
    /// are not sent to them at all; the four that read room messages take
    /// every event.
    #[must_use]
    pub fn consumer_filter(self) -> Vec<String> {
        match self {
            _ if !self.is_filtered() => Vec::new(),
            Self::Audit => {
                let others = self.aggregate_types().iter().filter(|aggregate| **aggregate != ROOM);
                others
                    .map(|aggregate| subjects::aggregate_type_events(aggregate))
                    .chain(
                        AUDIT_ROOM_EVENTS.iter().map(|event_type| subjects::events_of_type(ROOM, event_type)),
                    )
                    .collect()
            }
            _ => self
                .aggregate_types()
                .iter()
                .map(|aggregate| subjects::aggregate_type_events(aggregate))
                .collect(),
        }
    }

    /// Whether this projection's consumer is filtered (see [`Self::consumer_filter`]).
    #[must_use]
    pub const fn is_filtered(self) -> bool {
        matches!(self, Self::Contacts | Self::Files | Self::Moderation | Self::Audit)
    }

    /// Whether applying this CHAT_EVENTS message writes nothing: an event
    /// this projection does not follow, or, for `delivery`, a `MessageSent`
    /// in its current shape (its recipients are read from memory) or a
    /// to-device batch (its refusals are read, nothing is written). A batch
    /// of such messages needs no transaction. `notifications` only reads
    /// for a `MessageSent` too.
    pub(crate) fn reads_only(self, envelope: &Envelope) -> bool {
        let Ok(event) = envelope else { return false };
        if !self.follows_event(&event.aggregate_type, &event.event_type) {
            return true;
        }
        let sent = event.aggregate_type == ROOM && event.event_type == "MessageSent";
        let current = !is_old_shape(&event.event_type, &event.event_version);
        match self {
            Self::Delivery => current && (sent || event.aggregate_type == TO_DEVICE),
            // A message's jobs are read from the tables; nothing is written.
            Self::Notifications => current && sent,
            _ => false,
        }
    }

    /// The JetStream durable consumer shared by every projector of this projection.
    #[must_use]
    pub fn durable_name(self) -> String {
        format!("projection_{}", self.name())
    }

    /// Decodes an event of an aggregate type this projection follows.
    fn decode(self, event: WireEvent) -> Result<Decoded, Undecodable> {
        // A report's id names its reporter and target, not a uuid.
        if event.aggregate_type == REPORT {
            return Ok(Decoded::Report(event.aggregate_id.clone(), decode(event)?));
        }
        let aggregate = event
            .aggregate_id
            .parse::<uuid::Uuid>()
            .map_err(|err| Undecodable(format!("aggregate id: {err}")))?;
        match event.aggregate_type.as_str() {
            ROOM => Ok(Decoded::Room(aggregate, decode(event)?)),
            TO_DEVICE => Ok(Decoded::ToDevice(aggregate, decode(event)?)),
            FILE => Ok(Decoded::File(aggregate, decode(event)?)),
            _ => Ok(Decoded::User(aggregate, decode(event)?)),
        }
    }

    async fn apply(
        self,
        conn: &mut PgConnection,
        event: Decoded,
        origin: Origin,
        fanout: &mut Fanout,
    ) -> Result<(), sqlx::Error> {
        match (self, event) {
            (Self::Notifications, Decoded::Room(room, event)) => {
                notifications::apply_room(conn, room, event).await
            }
            (Self::Notifications, Decoded::User(user, event)) => {
                notifications::apply_user(conn, user, event).await
            }
            (Self::Rooms, Decoded::Room(room, event)) => rooms::apply(conn, room, event).await,
            (Self::Timeline, Decoded::Room(room, event)) => timeline::apply(conn, room, event).await,
            (Self::Contacts, Decoded::User(user, event)) => contacts::apply(conn, user, event).await,
            (Self::Delivery, Decoded::Room(room, event)) => {
                delivery::apply(conn, room, Followed::Room(event), origin, fanout).await
            }
            (Self::Delivery, Decoded::User(user, event)) => {
                delivery::apply(conn, user, Followed::User(event), origin, fanout).await
            }
            (Self::Delivery, Decoded::ToDevice(outbox, event)) => {
                delivery::apply(conn, outbox, Followed::ToDevice(event), origin, fanout).await
            }
            (Self::Files, Decoded::File(file, event)) => files::apply(conn, file, event).await,
            (Self::Delivery, Decoded::File(file, event)) => {
                delivery::apply(conn, file, Followed::File(event), origin, fanout).await
            }
            (Self::Moderation, Decoded::Report(report, event)) => {
                moderation::apply(conn, &report, event).await
            }
            (Self::Audit, Decoded::Room(room, event)) => {
                audit::apply(conn, Audited::Room(room, event), origin).await
            }
            (Self::Audit, Decoded::User(user, event)) => {
                audit::apply(conn, Audited::User(user, event), origin).await
            }
            (Self::Audit, Decoded::File(file, event)) => {
                audit::apply(conn, Audited::File(file, event), origin).await
            }
            (Self::Audit, Decoded::Report(report, event)) => {
                audit::apply(conn, Audited::Report(report, event), origin).await
            }
            // `follows` keeps other aggregate types away.
            _ => Ok(()),
        }
    }

    /// Applies a run of consecutive `MessageSent` events in a few statements.
    async fn apply_run(
        self,
        conn: &mut PgConnection,
        run: &[Sent],
        fanout: &mut Fanout,
        jobs: &mut Jobs,
    ) -> Result<(), sqlx::Error> {
        match self {
            Self::Rooms => rooms::apply_sent(conn, run).await,
            Self::Timeline => timeline::apply_sent(conn, run).await,
            Self::Delivery => delivery::apply_sent(conn, run, fanout).await,
            Self::Notifications => notifications::apply_sent(conn, run, jobs).await,
            // Messages sent are neither moderation nor audit events.
            Self::Contacts | Self::Files | Self::Moderation | Self::Audit => Ok(()),
        }
    }
}

/// A CHAT_EVENTS message body read as an envelope, or why it could not be.
pub(crate) type Envelope = Result<WireEvent, EnvelopeError>;

/// A decoded event with its aggregate's id.
enum Decoded {
    Room(uuid::Uuid, RoomEvent),
    User(uuid::Uuid, UserEvent),
    /// The outbox's id is its sending device's.
    ToDevice(uuid::Uuid, ToDeviceEvent),
    File(uuid::Uuid, FileEvent),
    /// A report aggregate's id is `<reporter>_<kind>_<target>`.
    Report(String, ReportEvent),
}

impl std::fmt::Display for Projection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the per-aggregate sequences already applied come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KnownProgress {
    /// `projection_progress` (the live projector), written back on [`Applier::save_progress`].
    Stored,
    /// Only what this applier saw (a rebuild starting from nothing).
    InMemory,
}

/// A batch's move of a projection's offset (`projection_offsets`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OffsetMove {
    /// Where the leader left it.
    pub from: u64,
    pub to: u64,
    /// Events applied (not skipped) by the batch.
    pub applied_events: u64,
}

/// An aggregate, as `projection_progress` keys it: `(aggregate_type, aggregate_id)`.
type AggregateKey = (String, String);

/// Applies events of one projection inside the caller's transaction.
pub(crate) struct Applier {
    projection: Projection,
    source: KnownProgress,
    progress: HashMap<AggregateKey, u64>,
    touched: HashSet<AggregateKey>,
    /// Events applied (not skipped) since the last `take_applied`.
    applied: u64,
    /// The delivery projection's messages to publish, members and blocks.
    fanout: Fanout,
    /// The notifications projection's jobs to publish.
    jobs: Jobs,
    /// Consecutive `MessageSent` events not applied yet.
    run: Vec<Sent>,
    /// The bound of the fanout's memory (see [`Fanout`]).
    remembered: usize,
    /// Whether the delivery fanout produces messages to publish (the live
    /// projector, or a rebuild refilling CHAT_DELIVERY).
    publishes: bool,
}

impl Applier {
    /// `remembered`: the most rooms (and senders) the delivery fanout keeps in memory.
    pub(crate) fn new(projection: Projection, source: KnownProgress, remembered: usize) -> Self {
        Self {
            projection,
            source,
            progress: HashMap::new(),
            touched: HashSet::new(),
            applied: 0,
            fanout: Fanout::new(source == KnownProgress::Stored, remembered),
            jobs: Jobs::new(source == KnownProgress::Stored),
            publishes: source == KnownProgress::Stored,
            run: Vec::new(),
            remembered,
        }
    }

    /// Applies one stream message's body (stored at `stream_seq`) unless it
    /// was applied before. Returns an error only for database failures (the
    /// caller rolls back).
    pub(crate) async fn apply_body(
        &mut self,
        conn: &mut PgConnection,
        stream_seq: u64,
        body: &[u8],
    ) -> Result<(), sqlx::Error> {
        self.apply_envelope(conn, stream_seq, WireEvent::from_body(body)).await
    }

    /// [`Self::apply_body`] for a body already read as an envelope.
    pub(crate) async fn apply_envelope(
        &mut self,
        conn: &mut PgConnection,
        stream_seq: u64,
        envelope: Envelope,
    ) -> Result<(), sqlx::Error> {
        let event = match envelope {
            Ok(event) => event,
            Err(err) => {
                self.skip_undecodable(&err.to_string());
                return Ok(());
            }
        };
        if !self.projection.follows_event(&event.aggregate_type, &event.event_type) {
            return Ok(());
        }
        let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
        let last = self.last_applied(conn, &key).await?;
        if event.sequence <= last {
            metrics::counter!("ciphertalk_projection_duplicates_total", "projection" => self.projection.name())
                .increment(1);
            return Ok(());
        }
        let origin = Origin { stream_seq, sequence: event.sequence, recorded_at: event.recorded_at };
        let sequence = event.sequence;
        match self.projection.decode(event) {
            Ok(Decoded::Room(room, event @ RoomEvent::MessageSent { .. })) => {
                self.run.push(Sent { room, event, origin });
            }
            Ok(decoded) => {
                self.flush(conn).await?;
                self.projection.apply(conn, decoded, origin, &mut self.fanout).await?;
            }
            Err(Undecodable(reason)) => self.skip_undecodable(&reason),
        }
        self.progress.insert(key.clone(), sequence);
        self.touched.insert(key);
        self.applied += 1;
        Ok(())
    }

    /// Applies the pending run of `MessageSent` events. Done before any other
    /// event and before the batch's progress is saved.
    pub(crate) async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.run.is_empty() {
            return Ok(());
        }
        let run = std::mem::take(&mut self.run);
        self.projection.apply_run(conn, &run, &mut self.fanout, &mut self.jobs).await?;
        Ok(())
    }

    fn skip_undecodable(&self, reason: &str) {
        metrics::counter!("ciphertalk_projection_undecodable_total", "projection" => self.projection.name())
            .increment(1);
        tracing::error!(projection = self.projection.name(), %reason, "skipping an event that cannot be decoded");
    }

    /// Reads in one query the stored progress of every aggregate in
    /// `envelopes` this applier knows nothing of yet: the first batches after
    /// a start touch many aggregates at once, and a round trip for each, in
    /// turn, holds up the batch and every delivery behind it.
    pub(crate) async fn recall_progress(
        &mut self,
        conn: &mut PgConnection,
        envelopes: &[(u64, Envelope)],
    ) -> Result<(), sqlx::Error> {
        if self.source != KnownProgress::Stored {
            return Ok(());
        }
        let mut unknown: HashSet<AggregateKey> = HashSet::new();
        for (_, envelope) in envelopes {
            let Ok(event) = envelope else { continue };
            if !self.projection.follows_event(&event.aggregate_type, &event.event_type) {
                continue;
            }
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            if !self.progress.contains_key(&key) {
                unknown.insert(key);
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let (types, ids): (Vec<&str>, Vec<&str>) =
            unknown.iter().map(|(kind, id)| (kind.as_str(), id.as_str())).unzip();
        let stored: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT p.aggregate_type, p.aggregate_id, p.sequence
               FROM unnest($2::text[], $3::text[]) AS k(kind, id)
               JOIN projection_progress p
                 ON p.projection = $1 AND p.aggregate_type = k.kind AND p.aggregate_id = k.id",
        )
        .bind(self.projection.name())
        .bind(&types)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        for key in unknown {
            self.progress.insert(key, 0);
        }
        for (kind, id, sequence) in stored {
            self.progress.insert((kind, id), to_u64(sequence));
        }
        Ok(())
    }

    async fn last_applied(
        &mut self,
        conn: &mut PgConnection,
        key: &AggregateKey,
    ) -> Result<u64, sqlx::Error> {
        if let Some(seq) = self.progress.get(key) {
            return Ok(*seq);
        }
        let seq = match self.source {
            KnownProgress::InMemory => 0,
            KnownProgress::Stored => sqlx::query_scalar::<_, i64>(
                "SELECT sequence FROM projection_progress
                  WHERE projection = $1 AND aggregate_type = $2 AND aggregate_id = $3",
            )
            .bind(self.projection.name())
            .bind(&key.0)
            .bind(&key.1)
            .fetch_optional(&mut *conn)
            .await?
            .map_or(0, to_u64),
        };
        self.progress.insert(key.clone(), seq);
        Ok(seq)
    }

    /// Applies the pending run, then, in one statement, writes the sequences
    /// applied since the last call and moves the projection's offset to
    /// `offset.to`, only from `offset.from` (where this leader left it; anyone
    /// else moving it means another leader). Returns the progress written, or
    /// `None` when the offset was not where expected (the caller rolls back).
    pub(crate) async fn save_progress(
        &mut self,
        conn: &mut PgConnection,
        offset: OffsetMove,
    ) -> Result<Option<Vec<(String, u64)>>, sqlx::Error> {
        self.flush(conn).await?;
        let mut types = Vec::with_capacity(self.touched.len());
        let mut ids = Vec::with_capacity(self.touched.len());
        let mut seqs = Vec::with_capacity(self.touched.len());
        for key in self.touched.drain() {
            seqs.push(to_i64(self.progress.get(&key).copied().unwrap_or(0)));
            types.push(key.0);
            ids.push(key.1);
        }
        let moved = sqlx::query(
            "WITH progress AS (
                 INSERT INTO projection_progress (projection, aggregate_type, aggregate_id, sequence)
                 SELECT $1, t.kind, t.id, t.seq FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t(kind, id, seq)
                 ON CONFLICT (projection, aggregate_type, aggregate_id)
                 DO UPDATE SET sequence = GREATEST(projection_progress.sequence, excluded.sequence)
             )
             UPDATE projection_offsets SET stream_seq = $5, applied_events = applied_events + $6, updated_at = now()
              WHERE name = $1 AND stream_seq = $7",
        )
        .bind(self.projection.name())
        .bind(&types)
        .bind(&ids)
        .bind(&seqs)
        .bind(to_i64(offset.to))
        .bind(to_i64(offset.applied_events))
        .bind(to_i64(offset.from))
        .execute(conn)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(None);
        }
        Ok(Some(ids.into_iter().zip(seqs.into_iter().map(to_u64)).collect()))
    }

    /// Forgets cached progress, members and blocks after a rolled-back
    /// transaction (they may be wrong now).
    pub(crate) fn reset(&mut self) {
        if self.source == KnownProgress::Stored {
            self.progress.clear();
        }
        self.touched.clear();
        self.applied = 0;
        self.fanout = Fanout::new(self.publishes, self.remembered);
        self.jobs = Jobs::new(self.publishes);
        self.run.clear();
    }

    /// An applier whose delivery fanout publishes although it rebuilds from
    /// nothing ([`crate::rebuild::republish_deliveries`]).
    pub(crate) fn publishing(mut self) -> Self {
        self.fanout = Fanout::new(true, self.remembered);
        self.publishes = true;
        self
    }

    /// Events applied since the last call.
    pub(crate) fn take_applied(&mut self) -> u64 {
        std::mem::take(&mut self.applied)
    }

    /// Delivery messages produced since the last call, in stream order.
    pub(crate) fn take_outgoing(&mut self) -> Vec<Outgoing> {
        self.fanout.take_outgoing()
    }

    /// Push-notification jobs produced since the last call, in stream order.
    pub(crate) fn take_jobs(&mut self) -> Vec<(String, notifications::Job)> {
        self.jobs.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_passes_over_message_traffic_by_subject_and_the_others_do_not() {
        let subject = |event_type: &str| subjects::event(ROOM, "r1", event_type).expect("valid tokens");
        for ignored in ["MessageSent", "MessageEdited", "MessageHidden", "ReceiptUpdated"] {
            assert!(!Projection::Audit.follows_subject(&subject(ignored)), "{ignored}");
            assert!(Projection::Timeline.follows_subject(&subject(ignored)), "{ignored}");
        }
        for recorded in ["MemberJoined", "MessageDeleted", "MessageTakenDown", "RoomCreated"] {
            assert!(Projection::Audit.follows_subject(&subject(recorded)), "{recorded}");
        }
        assert!(Projection::Notifications.follows_subject(&subject("MessageSent")));
    }

    /// NATS subject matching: `*` is one token, a final `>` one or more.
    fn matches(pattern: &str, subject: &str) -> bool {
        let (mut pattern, mut subject) = (pattern.split('.'), subject.split('.'));
        loop {
            match (pattern.next(), subject.next()) {
                (Some(">"), Some(_)) => return true,
                (Some(p), Some(s)) if p == "*" || p == s => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    /// nats-server hands a filtered consumer the subjects its filter matches:
    /// every event the projection follows and none it passes over.
    #[test]
    fn a_consumer_filter_matches_exactly_the_events_its_projection_follows() {
        let room_events = ["RoomCreated", "MemberJoined", "MemberLeft", "MessageSent", "MessageEdited"]
            .into_iter()
            .chain(["MessageHidden", "ReceiptUpdated", "MessageDeleted", "MessageTakenDown", "RoomUpdated"]);
        let events = room_events
            .map(|event_type| (ROOM, event_type))
            .chain([(USER, "UserRegistered"), (USER, "DeviceAdded"), (FILE, "FileRegistered")])
            .chain([(REPORT, "ReportFiled"), (TO_DEVICE, "ToDeviceSent")]);
        for (aggregate, event_type) in events {
            let subject = subjects::event(aggregate, "a-1", event_type).expect("valid tokens");
            for projection in Projection::ALL {
                let filter = projection.consumer_filter();
                if filter.is_empty() {
                    continue;
                }
                let matched = filter.iter().any(|pattern| matches(pattern, &subject));
                assert_eq!(
                    matched,
                    projection.follows_event(aggregate, event_type),
                    "{projection} {subject}"
                );
            }
        }
    }
}
