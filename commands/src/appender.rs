//! Group commit across aggregates: events that command services append while
//! earlier appends are being written are gathered and inserted together, in
//! one statement (its own transaction: one round trip, one WAL flush) into
//! postgres-es's `events` table.
//!
//! Each aggregate's events stay all-or-nothing. A statement fails whole; when
//! it fails on a unique key (another process took one of the sequences), each
//! request is written again on its own, so only the one that lost the race
//! sees the conflict.

use std::sync::{Arc, OnceLock};

use sqlx::{PgConnection, PgPool};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::StoreError;

/// The unique index over `events.unique_key` (migration 0009): its violation
/// is [`StoreError::Duplicate`], not a conflict.
const UNIQUE_KEY_INDEX: &str = "events_unique_key";

/// Statements in flight at once.
const WRITERS: usize = 4;
/// Most appends gathered into one statement.
const MOST_PER_STATEMENT: usize = 256;

/// One row of `events`.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// JSON text.
    pub payload: String,
    /// JSON text.
    pub metadata: String,
    /// What must not be stored twice in the aggregate ([`crate::UniqueKey`]).
    pub unique_key: Option<String>,
}

struct Append {
    rows: Vec<EventRow>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Clone)]
pub(crate) struct Appender {
    pool: PgPool,
    /// Started on first use, inside the runtime.
    queue: Arc<OnceLock<mpsc::Sender<Append>>>,
}

impl Appender {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool, queue: Arc::default() }
    }

    /// Appends `rows` (one aggregate's events); [`StoreError::Conflict`] when
    /// another writer took one of their sequences first.
    pub(crate) async fn append(&self, rows: Vec<EventRow>) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| start(self.pool.clone()));
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Batch("the event writer stopped".into());
        queue.send(Append { rows, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn start(pool: PgPool) -> mpsc::Sender<Append> {
    let (queue, pending) = mpsc::channel(MOST_PER_STATEMENT * WRITERS);
    let pending = Arc::new(Mutex::new(pending));
    for _ in 0..WRITERS {
        tokio::spawn(write_batches(pool.clone(), pending.clone()));
    }
    queue
}

/// Takes whatever is queued (waiting for one if none is) and writes it, until
/// every [`Appender`] is gone.
async fn write_batches(pool: PgPool, pending: Arc<Mutex<mpsc::Receiver<Append>>>) {
    let mut writer = Writer { pool, conn: None };
    loop {
        let batch = {
            let mut pending = pending.lock().await;
            let Some(first) = pending.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MOST_PER_STATEMENT
                && let Ok(next) = pending.try_recv()
            {
                batch.push(next);
            }
            batch
        };
        writer.write(batch).await;
    }
}

/// One writer's connection: its own, not the pool's (sqlx pings a pooled
/// connection on every release: a second round trip per append).
struct Writer {
    pool: PgPool,
    conn: Option<PgConnection>,
}

impl Writer {
    async fn write(&mut self, batch: Vec<Append>) {
        if batch.len() > 1 {
            metrics::histogram!("ciphertalk_event_store_commit_appends").record(batch.len() as f64);
            let rows: Vec<&EventRow> = batch.iter().flat_map(|append| &append.rows).collect();
            match self.insert(&rows).await {
                Ok(()) => {
                    for append in batch {
                        let _ = append.reply.send(Ok(()));
                    }
                    return;
                }
                // Someone else's sequence, or a repeated send: find out whose, one by one.
                Err(StoreError::Conflict | StoreError::Duplicate) => {}
                Err(err) => {
                    let reason = err.to_string();
                    for append in batch {
                        let _ = append.reply.send(Err(StoreError::Batch(reason.clone())));
                    }
                    return;
                }
            }
        }
        for append in batch {
            let rows: Vec<&EventRow> = append.rows.iter().collect();
            let _ = append.reply.send(self.insert(&rows).await);
        }
    }

    /// Inserts on this writer's connection, opened on first use and dropped
    /// after any failure but a unique key's (the next insert opens another).
    async fn insert(&mut self, rows: &[&EventRow]) -> Result<(), StoreError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot => slot.insert(self.pool.acquire().await?.detach()),
        };
        let inserted = insert(conn, rows).await;
        if matches!(inserted, Err(ref err) if !matches!(err, StoreError::Conflict | StoreError::Duplicate)) {
            self.conn = None;
        }
        inserted
    }
}

async fn insert(conn: &mut PgConnection, rows: &[&EventRow]) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                             unique_key)
         SELECT t.kind, t.id, t.seq, t.event, t.version, t.payload::json, t.metadata::json, t.unique_key
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[])
             AS t(kind, id, seq, event, version, payload, metadata, unique_key)",
    )
    .bind(rows.iter().map(|row| row.aggregate_type).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.aggregate_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.sequence).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.event_type.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.event_version.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.payload.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.metadata.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|row| row.unique_key.as_deref()).collect::<Vec<_>>())
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            if err.constraint() == Some(UNIQUE_KEY_INDEX) {
                Err(StoreError::Duplicate)
            } else {
                Err(StoreError::Conflict)
            }
        }
        Err(err) => Err(err.into()),
    }
}
