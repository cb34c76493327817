//! Replay: rebuilds one read model from CHAT_EVENTS sequence 1 while the live
//! one keeps answering.
//!
//! The rebuild writes into copies of the projection's tables in a schema of
//! its own (`rebuild_<name>`, same table names, found through `search_path`,
//! so the projection's SQL is used unchanged). It only ever applies up to the
//! live projection's stored offset. When it is close, it locks the live
//! projection's offset row (the live projector's next batch waits on that
//! lock), applies the last few events up to that offset, and in the same
//! transaction drops the live tables and moves the rebuilt ones into their
//! place. Readers see the old tables or the new ones, both at the same offset,
//! never a half-built read model; the live projector then continues from the
//! offset, which has not moved.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::{self, consumer::pull::Ordered};
use bytes::Bytes;
use ciphertalk_streams::JetStreamErrorKind as Js;
use ciphertalk_streams::{JetStreamError, WithKind, subjects};
use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};

use crate::error::ProjectorError;
use crate::freshness;
use crate::projection::{Applier, KnownProgress, Projection};
use crate::publish::DeliveryPublisher;

/// Advisory-lock class of rebuilds ("rbld"): one rebuild per projection at a time.
const REBUILD_LOCK_CLASS: i32 = 0x7262_6c64;
/// Events applied per transaction while catching up.
const BATCH: usize = 1000;
/// How far behind the live offset the rebuild may be when it takes the lock
/// (the live projector waits while these are applied).
const SWAP_WITHIN: u64 = 200;
/// How long to wait for the stream to deliver a message the offset says exists.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// The stream sequence the rebuild has reached.
    pub applied: u64,
    /// The stream sequence it is heading for (the live offset; it moves).
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// The stream sequence the swapped-in read model stands at.
    pub stream_seq: u64,
    /// Events the rebuild applied.
    pub applied_events: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("a rebuild of {0} is already running")]
    AlreadyRunning(Projection),
    #[error("the stream did not deliver sequence {0} within {DELIVERY_TIMEOUT:?}")]
    Stalled(u64),
    #[error(transparent)]
    Projector(#[from] ProjectorError),
}

impl From<sqlx::Error> for RebuildError {
    fn from(err: sqlx::Error) -> Self {
        Self::Projector(err.into())
    }
}

impl From<JetStreamError> for RebuildError {
    fn from(err: JetStreamError) -> Self {
        Self::Projector(err.into())
    }
}

/// Rebuilds `projection` from stream sequence 1 and swaps it in.
pub async fn rebuild(
    pool: &PgPool,
    js: &jetstream::Context,
    projection: Projection,
    on_progress: impl FnMut(RebuildProgress),
) -> Result<RebuildReport, RebuildError> {
    rebuild_with(pool, js, projection, None, on_progress).await
}

/// Rebuilds the delivery projection and publishes its messages again into a
/// CHAT_DELIVERY that lost them (see [`ProjectorError::OutputBehind`]): the
/// events are the same, applied in the same order from nothing, so the
/// messages come out in the order they had and take the stream sequences
/// they had; the devices' acknowledged cursors stay true. What the stream
/// still holds is not published twice (the publisher resumes after its last
/// message). The live delivery projector publishes nothing meanwhile: it
/// refuses the short stream until this has refilled it.
pub async fn republish_deliveries(
    pool: &PgPool,
    js: &jetstream::Context,
    on_progress: impl FnMut(RebuildProgress),
) -> Result<RebuildReport, RebuildError> {
    let publisher = DeliveryPublisher::new(js.clone(), None);
    rebuild_with(pool, js, Projection::Delivery, Some(publisher), on_progress).await
}

async fn rebuild_with(
    pool: &PgPool,
    js: &jetstream::Context,
    projection: Projection,
    mut publisher: Option<DeliveryPublisher>,
    mut on_progress: impl FnMut(RebuildProgress),
) -> Result<RebuildReport, RebuildError> {
    let schema = format!("rebuild_{}", projection.name());
    let mut conn = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(REBUILD_LOCK_CLASS)
        .bind(projection.name())
        .fetch_one(&mut conn)
        .await?;
    if !locked {
        return Err(RebuildError::AlreadyRunning(projection));
    }
    sqlx::query("INSERT INTO projection_offsets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(projection.name())
        .execute(&mut conn)
        .await?;
    // Where the live tables are; from here on the connection resolves names in the shadow schema.
    let live: String =
        sqlx::query_scalar("SELECT quote_ident(current_schema())").fetch_one(&mut conn).await?;
    // Publishing reads what the projection does not own (the event store) from the live schema.
    prepare_shadow(&mut conn, projection, &live, &schema, publisher.is_some()).await?;

    let stream = js.get_stream(subjects::EVENTS_STREAM).await.map_err(|err| err.with_kind(Js::Stream))?;
    let mut messages = stream
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .map_err(|err| err.with_kind(Js::Consume))?
        .messages()
        .await
        .map_err(|err| err.with_kind(Js::Consume))?;
    let mut replay = Replay { messages: &mut messages, pending: None, reached: 0 };
    let mut applier = Applier::new(projection, KnownProgress::InMemory, crate::delivery::DEFAULT_REMEMBERED);
    if publisher.is_some() {
        applier = applier.publishing();
    }
    let mut applied_events = 0;

    // Catch up with the live projection, batch by batch, without blocking it.
    loop {
        let target = freshness::offset(pool, projection).await?;
        if target.saturating_sub(replay.reached) <= SWAP_WITHIN {
            break;
        }
        while replay.reached < target {
            let mut tx = conn.begin().await?;
            replay.apply(&mut tx, &mut applier, target, BATCH).await?;
            publish(&mut publisher, &mut applier).await?;
            tx.commit().await?;
            applied_events += applier.take_applied();
            on_progress(RebuildProgress { applied: replay.reached, total: target });
        }
    }

    // Catch up the rest under the live projection's lock and swap.
    let mut tx = conn.begin().await?;
    let target: i64 = sqlx::query_scalar(&format!(
        "SELECT stream_seq FROM {live}.projection_offsets WHERE name = $1 FOR UPDATE"
    ))
    .bind(projection.name())
    .fetch_one(&mut *tx)
    .await?;
    let target = crate::event::to_u64(target);
    replay.apply(&mut tx, &mut applier, target, usize::MAX).await?;
    publish(&mut publisher, &mut applier).await?;
    applied_events += applier.take_applied();
    for table in projection.tables() {
        let renames = index_names(&mut tx, &format!("{live}.{table}"), &format!("{schema}.{table}")).await?;
        sqlx::query(&format!("DROP TABLE {live}.{table}")).execute(&mut *tx).await?;
        sqlx::query(&format!("ALTER TABLE {schema}.{table} SET SCHEMA {live}")).execute(&mut *tx).await?;
        for (copy, original) in renames {
            sqlx::query(&format!("ALTER INDEX {live}.{copy} RENAME TO {original}")).execute(&mut *tx).await?;
        }
    }
    sqlx::query(&format!("DROP SCHEMA {schema}")).execute(&mut *tx).await?;
    tx.commit().await?;
    on_progress(RebuildProgress { applied: target, total: target });
    conn.close().await?;
    tracing::info!(projection = projection.name(), stream_seq = target, applied_events, "rebuild swapped in");
    Ok(RebuildReport { stream_seq: target, applied_events })
}

/// Publishes what the batch produced, when the rebuild publishes; JetStream
/// holds it before the batch commits (as in the live projector).
async fn publish(
    publisher: &mut Option<DeliveryPublisher>,
    applier: &mut Applier,
) -> Result<(), RebuildError> {
    if let Some(publisher) = publisher {
        publisher.publish(applier.take_outgoing()).await?;
    }
    Ok(())
}

/// A fresh schema with empty copies of the projection's tables, and the
/// connection pointed at it (and, for `live_after`, at the live schema
/// behind it for tables the projection does not own).
async fn prepare_shadow(
    conn: &mut PgConnection,
    projection: Projection,
    live: &str,
    schema: &str,
    live_after: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut *conn).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut *conn).await?;
    for table in projection.tables() {
        sqlx::query(&format!("CREATE TABLE {schema}.{table} (LIKE {live}.{table} INCLUDING ALL)"))
            .execute(&mut *conn)
            .await?;
    }
    // Unqualified names now resolve to the copies only (the rebuild names the live schema itself).
    let path = if live_after { format!("{schema}, {live}") } else { schema.to_owned() };
    sqlx::query(&format!("SET search_path TO {path}")).execute(conn).await?;
    Ok(())
}

/// `(copy, original)` names of the copy's indexes whose names differ from the
/// live table's index with the same definition: `LIKE` names copied indexes
/// itself, and migrations may refer to ours by name.
async fn index_names(
    conn: &mut PgConnection,
    live_table: &str,
    copy_table: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT quote_ident(c.relname), quote_ident(o.relname)
           FROM pg_index oi JOIN pg_class o ON o.oid = oi.indexrelid,
                pg_index ci JOIN pg_class c ON c.oid = ci.indexrelid
          WHERE oi.indrelid = $1::regclass AND ci.indrelid = $2::regclass
            AND oi.indisunique = ci.indisunique
            AND substring(pg_get_indexdef(oi.indexrelid) FROM ' USING .*')
              = substring(pg_get_indexdef(ci.indexrelid) FROM ' USING .*')
            AND o.relname <> c.relname",
    )
    .bind(live_table)
    .bind(copy_table)
    .fetch_all(conn)
    .await
}

/// Reads CHAT_EVENTS in order, one message ahead where needed.
struct Replay<'a> {
    messages: &'a mut Ordered,
    pending: Option<(u64, Bytes)>,
    reached: u64,
}

impl Replay<'_> {
    /// Applies messages up to stream sequence `target` (at most `max` of them).
    async fn apply(
        &mut self,
        conn: &mut PgConnection,
        applier: &mut Applier,
        target: u64,
        max: usize,
    ) -> Result<(), RebuildError> {
        let mut count = 0;
        while self.reached < target && count < max {
            let (seq, body) = match self.pending.take() {
                Some(next) => next,
                None => self.next().await?,
            };
            if seq > target {
                // Belongs to a later round; the offset has not got there yet.
                self.pending = Some((seq, body));
                self.reached = target;
                break;
            }
            applier.apply_body(conn, seq, &body).await?;
            self.reached = seq;
            count += 1;
        }
        applier.flush(conn).await?;
        Ok(())
    }

    async fn next(&mut self) -> Result<(u64, Bytes), RebuildError> {
        match tokio::time::timeout(DELIVERY_TIMEOUT, self.messages.next()).await {
            Err(_) | Ok(None) => Err(RebuildError::Stalled(self.reached + 1)),
            Ok(Some(message)) => {
                let message = message.map_err(|err| err.with_kind(Js::Consume))?;
                let seq = message.info().map_err(|err| err.with_kind(Js::Consume))?.stream_sequence;
                Ok((seq, message.payload.clone()))
            }
        }
    }
}
