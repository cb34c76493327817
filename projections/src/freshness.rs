//! Read-your-writes: how far each projection has got, and a bounded wait until
//! it has applied a given aggregate sequence.
//!
//! The gateway knows the aggregate sequence a command committed, not the stream
//! sequence the relay will give it later, so projectors record the last
//! sequence they applied per aggregate (`projection_progress`) in the same
//! transaction as the change. A waiter is woken by projectors in this process
//! and polls as well, for projectors running in other processes.
//!
//! Projectors in this process also hand what they committed to the waiters
//! in memory: when the leader of a projection runs here, a waiter reads the
//! table once and is then answered from memory, rather than every waiter
//! querying Postgres on every commit of every projector. Each aggregate has
//! its own watch, so a commit wakes only those waiting on what it advanced.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::watch;

use crate::event::to_u64;
use crate::projection::Projection;

/// How often a waiter reads the table when the projection's leader runs elsewhere.
const POLL: Duration = Duration::from_millis(25);
/// How often it still reads the table when the leader runs here (a safety net).
const POLL_LEADING_HERE: Duration = Duration::from_millis(250);
/// Aggregates remembered per process; beyond it the memory starts afresh
/// (waiters then read the table, which is always right).
const REMEMBERED: usize = 100_000;

/// Per aggregate id, the last sequence applied by a projector in this process.
type AppliedHere = HashMap<String, watch::Sender<u64>>;

/// Shared by the projectors (which announce commits) and the readers (which wait).
#[derive(Debug, Clone)]
pub struct Freshness {
    pool: PgPool,
    /// Last sequence applied per projection and aggregate id, by projectors
    /// here, as watches that waiters subscribe to.
    applied_here: Arc<Mutex<HashMap<Projection, AppliedHere>>>,
    /// Projections whose leader runs in this process.
    leading_here: Arc<Mutex<HashSet<Projection>>>,
}

/// Marks a projection as led here until dropped.
#[derive(Debug)]
pub(crate) struct Leading {
    freshness: Freshness,
    projection: Projection,
}

impl Drop for Leading {
    fn drop(&mut self) {
        self.freshness.leading_here.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.projection);
    }
}

impl Freshness {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, applied_here: Arc::default(), leading_here: Arc::default() }
    }

    /// Called by a projector when it becomes the leader of `projection`.
    pub(crate) fn leading(&self, projection: Projection) -> Leading {
        self.leading_here.lock().unwrap_or_else(PoisonError::into_inner).insert(projection);
        Leading { freshness: self.clone(), projection }
    }

    fn leads_here(&self, projection: Projection) -> bool {
        self.leading_here.lock().unwrap_or_else(PoisonError::into_inner).contains(&projection)
    }

    /// The aggregate's last sequence applied here, as a watch. Forgotten
    /// (the memory started afresh) when `changed` fails: subscribe again.
    fn watch(&self, projection: Projection, aggregate_id: &str) -> watch::Receiver<u64> {
        self.with_sender(projection, aggregate_id.to_owned(), |sender| sender.subscribe())
    }

    fn remember(&self, projection: Projection, aggregate_id: String, sequence: u64) {
        self.with_sender(projection, aggregate_id, |sender| {
            sender.send_if_modified(|applied| {
                let advanced = sequence > *applied;
                *applied = (*applied).max(sequence);
                advanced
            });
        });
    }

    /// Runs `f` on the aggregate's watch, made at 0 if new (when memory holds
    /// [`REMEMBERED`] aggregates, the watches nobody waits on are dropped first).
    fn with_sender<T>(
        &self,
        projection: Projection,
        aggregate_id: String,
        f: impl FnOnce(&watch::Sender<u64>) -> T,
    ) -> T {
        let mut applied = self.applied_here.lock().unwrap_or_else(PoisonError::into_inner);
        let aggregates = applied.entry(projection).or_default();
        if !aggregates.contains_key(&aggregate_id) && aggregates.len() >= REMEMBERED {
            // Only the watches nobody waits on: a waiter's would end and it
            // would miss the commit that made room (until a poll of the table).
            aggregates.retain(|_, sender| sender.receiver_count() > 0);
        }
        f(aggregates.entry(aggregate_id).or_insert_with(|| watch::Sender::new(0)))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Called by a projector after each commit, with the aggregates it advanced.
    pub(crate) fn committed(&self, projection: Projection, progress: Vec<(String, u64)>) {
        for (aggregate_id, sequence) in progress {
            self.remember(projection, aggregate_id, sequence);
        }
    }

    /// The last sequence of the aggregate that `projection` has applied (0 = none).
    pub async fn applied(&self, projection: Projection, aggregate_id: &str) -> Result<u64, sqlx::Error> {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT sequence FROM projection_progress
              WHERE projection = $1 AND aggregate_type = ANY($2) AND aggregate_id = $3",
        )
        .bind(projection.name())
        .bind(projection.aggregate_types())
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.map_or(0, to_u64))
    }

    /// Waits until `projection` has applied `sequence` of the aggregate, or
    /// `timeout` passes. Returns whether it got there.
    pub async fn wait_for(
        &self,
        projection: Projection,
        aggregate_id: &str,
        sequence: u64,
        timeout: Duration,
    ) -> Result<bool, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut applied_here = self.watch(projection, aggregate_id);
        // With the leader here, memory answers: the table is read only as a
        // safety net (progress applied by an earlier leader elsewhere).
        let mut next_read = tokio::time::Instant::now();
        if self.leads_here(projection) {
            next_read += POLL_LEADING_HERE;
        }
        loop {
            // Subscribed before the check: a commit between the check and the wait still wakes us.
            if *applied_here.borrow_and_update() >= sequence {
                return Ok(true);
            }
            let now = tokio::time::Instant::now();
            if now >= next_read {
                let applied = self.applied(projection, aggregate_id).await?;
                self.remember(projection, aggregate_id.to_owned(), applied);
                if applied >= sequence {
                    return Ok(true);
                }
                next_read = now + if self.leads_here(projection) { POLL_LEADING_HERE } else { POLL };
            }
            if now >= deadline {
                metrics::counter!("ciphertalk_projection_wait_timeouts_total", "projection" => projection.name())
                    .increment(1);
                return Ok(false);
            }
            tokio::select! {
                changed = applied_here.changed() => {
                    if changed.is_err() {
                        applied_here = self.watch(projection, aggregate_id);
                    }
                }
                () = tokio::time::sleep_until(deadline.min(next_read)) => {}
            }
        }
    }

    /// Waits until `projections` have applied every event committed so far to
    /// each of `aggregate_ids` (of `aggregate_type`), or `timeout` passes.
    /// Returns whether they got there.
    ///
    /// What a read waits for when the writes it must reflect answered at
    /// their commit, without waiting for the read models themselves: the
    /// event store says how far each aggregate is, wherever it was written,
    /// and one query finds the aggregates a projection is still behind on
    /// (none, almost always).
    pub async fn settle_committed(
        &self,
        projections: &[Projection],
        aggregate_type: &str,
        aggregate_ids: &[String],
        timeout: Duration,
    ) -> Result<bool, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let names: Vec<&str> = projections.iter().map(|projection| projection.name()).collect();
        let behind: Vec<(String, String, i64)> = sqlx::query_as(
            "WITH committed AS (
                 SELECT k.id, (SELECT max(e.sequence) FROM events e
                                WHERE e.aggregate_type = $2 AND e.aggregate_id = k.id) AS sequence
                   FROM unnest($3::text[]) AS k(id)
             )
             SELECT proj.name, c.id, c.sequence
               FROM committed c CROSS JOIN unnest($1::text[]) AS proj(name)
               LEFT JOIN projection_progress p
                 ON p.projection = proj.name AND p.aggregate_type = $2 AND p.aggregate_id = c.id
              WHERE c.sequence > COALESCE(p.sequence, 0)",
        )
        .bind(&names)
        .bind(aggregate_type)
        .bind(aggregate_ids)
        .fetch_all(&self.pool)
        .await?;
        for (name, aggregate_id, sequence) in behind {
            let Some(projection) = Projection::from_name(&name) else { continue };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !self.wait_for(projection, &aggregate_id, to_u64(sequence), left).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Waits for several projections at once (a write that several read models reflect).
    pub async fn wait_for_all(
        &self,
        projections: &[Projection],
        aggregate_id: &str,
        sequence: u64,
        timeout: Duration,
    ) -> Result<bool, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        for projection in projections {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !self.wait_for(*projection, aggregate_id, sequence, left).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Where one projection stands (for `ciphertalk projections list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    pub projection: Projection,
    /// The last CHAT_EVENTS sequence applied (0 = none).
    pub stream_seq: u64,
    /// Events applied (not skipped) since the projection began.
    pub applied_events: u64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every projection's offset, including ones that have not started yet.
pub async fn status(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, stream_seq, applied_events, updated_at FROM projection_offsets")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::new();
    for projection in Projection::ALL {
        let row =
            rows.iter().find(|row| row.try_get::<String, _>("name").is_ok_and(|n| n == projection.name()));
        out.push(match row {
            Some(row) => ProjectionStatus {
                projection,
                stream_seq: to_u64(row.try_get("stream_seq")?),
                applied_events: to_u64(row.try_get("applied_events")?),
                updated_at: row.try_get("updated_at")?,
            },
            None => ProjectionStatus { projection, stream_seq: 0, applied_events: 0, updated_at: None },
        });
    }
    Ok(out)
}

/// The stream sequence `projection` has applied.
pub async fn offset(pool: &PgPool, projection: Projection) -> Result<u64, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT stream_seq FROM projection_offsets WHERE name = $1")
        .bind(projection.name())
        .fetch_optional(pool)
        .await?;
    Ok(seq.map_or(0, to_u64))
}

/// The last sequence of the projection's output stream its committed batches
/// produced (see migration 0019_lost_streams).
pub async fn output_seq(pool: &PgPool, projection: Projection) -> Result<u64, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT output_seq FROM projection_offsets WHERE name = $1")
        .bind(projection.name())
        .fetch_optional(pool)
        .await?;
    Ok(seq.map_or(0, to_u64))
}

/// Records, in the batch's transaction, how far the output stream got.
pub(crate) async fn save_output_seq(
    conn: &mut PgConnection,
    projection: Projection,
    seq: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projection_offsets SET output_seq = GREATEST(output_seq, $2) WHERE name = $1")
        .bind(projection.name())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn making_room_keeps_the_watches_someone_waits_on() {
        let freshness = Freshness::new(PgPool::connect_lazy("postgres://localhost/unused").unwrap());
        let mut waiting = freshness.watch(Projection::Rooms, "waited on");
        for n in 0..REMEMBERED {
            freshness.remember(Projection::Rooms, n.to_string(), 1);
        }
        freshness.remember(Projection::Rooms, "waited on".to_owned(), 7);
        assert!(waiting.has_changed().unwrap(), "the waiter's watch was dropped");
        assert_eq!(*waiting.borrow_and_update(), 7);
    }
}
