//! What the room, message and contact routes share around a command: its
//! metadata, the read-your-writes waits (after most commands; before reads
//! of rooms, for sends, which answer at their commit), holding sends back
//! while the read side is behind, and whether the users it names exist.

use axum::http::HeaderMap;
use chrono::{DateTime, SubsecRound, Utc};
use ciphertalk_commands::CommandMetadata;
use ciphertalk_domain::room::Room;
use ciphertalk_domain::user::User;
use ciphertalk_domain::{RoomId, UserId};
use ciphertalk_projections::Projection;
use cqrs_es::Aggregate;

use super::error::ApiError;
use super::{AuthUser, request_id};
use crate::state::AppState;

/// The time a command happens at, in microseconds: what Postgres keeps, so
/// an answer made from the event equals a later read of the read model, and
/// a franking tag recomputed from either matches.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Metadata naming the caller and the request.
pub fn metadata(user: &AuthUser, headers: &HeaderMap) -> CommandMetadata {
    CommandMetadata::new(user.user_id.to_string(), request_id(headers))
}

/// Waits (bounded by `projections.read_your_writes_ms`) until `projections`
/// have applied `sequence` of the aggregate, so that the caller's next read
/// reflects the write it was just answered. A timeout is not an error: the
/// write is committed, the read model is only late.
pub async fn settle(state: &AppState, projections: &[Projection], aggregate_id: &str, sequence: usize) {
    let timeout = state.config.projections.read_your_writes();
    let sequence = u64::try_from(sequence).unwrap_or(u64::MAX);
    match state.freshness.wait_for_all(projections, aggregate_id, sequence, timeout).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(aggregate_id, sequence, "read model did not catch up in time"),
        Err(err) => tracing::warn!(error = %err, "cannot check read-model progress"),
    }
}

/// Waits (bounded like [`settle`]) until `projections` hold every event
/// committed to `rooms` so far. Sends answer once committed, without waiting
/// for the read models (the hot path stays one commit long); every read of a
/// room's read models waits here instead, so it reflects every message
/// answered before it began: the caller's own, and those announced to them
/// over the WebSocket. A timeout is not an error: the read model is only late.
pub async fn settle_rooms(state: &AppState, projections: &[Projection], rooms: &[RoomId]) -> bool {
    let timeout = state.config.projections.read_your_writes();
    let ids: Vec<String> = rooms.iter().map(ToString::to_string).collect();
    match state.freshness.settle_committed(projections, Room::TYPE, &ids, timeout).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(rooms = ids.len(), "room read models did not catch up in time");
            false
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot check read-model progress");
            false
        }
    }
}

/// [`settle_rooms`] for a read that decides who may see it: a read model
/// still behind after the wait may not know of a removal yet, so the answer
/// is 503, never one made from stale membership.
pub async fn require_settled_rooms(
    state: &AppState,
    projections: &[Projection],
    rooms: &[RoomId],
) -> Result<(), ApiError> {
    if settle_rooms(state, projections, rooms).await {
        Ok(())
    } else {
        Err(ApiError::unavailable("the read models", "they did not catch up in time"))
    }
}

/// Holds a send back (bounded like [`settle`]) while a projection trails the
/// stream by more than `projections.max_backlog_events`. Sends answer at
/// their commit, so without this an overload would let the deliveries fall
/// ever further behind the accepted messages; with it, senders slow down.
pub async fn admit_send(state: &AppState) {
    let Some(backlog) = &state.backlog else { return };
    let limit = state.config.projections.max_backlog_events;
    if backlog.events() <= limit {
        return;
    }
    metrics::counter!("ciphertalk_sends_held_back_total").increment(1);
    if !backlog.wait_within(limit, state.config.projections.read_your_writes()).await {
        tracing::debug!(backlog = backlog.events(), "the read side is still behind; the send goes ahead");
    }
}

/// Whether every one of `users` is registered. The first event of a user
/// aggregate is its registration, so the event store answers exactly.
pub async fn all_registered(state: &AppState, users: &[UserId]) -> Result<bool, ApiError> {
    let mut ids: Vec<String> = users.iter().map(ToString::to_string).collect();
    ids.sort_unstable();
    ids.dedup();
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = $1 AND aggregate_id = ANY($2) AND sequence = 1",
    )
    .bind(User::TYPE)
    .bind(&ids)
    .fetch_one(&state.db)
    .await
    .map_err(|err| ApiError::unavailable("the database", err))?;
    Ok(usize::try_from(found).is_ok_and(|found| found == ids.len()))
}
