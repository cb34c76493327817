//! What several route groups share: running a command and waiting for the
//! read models to reflect it (read-your-writes), the waits before reads of
//! rooms (sends answer at their commit), holding sends back while the read
//! side is behind, who is a member of a room and who is a registered user.

use axum::http::{HeaderMap, StatusCode};
use ciphertalk_commands::unique_key::UniqueKey;
use ciphertalk_commands::{CommandError, CommandMetadata, CommandService, Executed};
use ciphertalk_domain::room::{Role, Room, RoomCommand};
use ciphertalk_domain::{DomainError, RoomId, UserId};
use ciphertalk_projections::Projection;
use ciphertalk_projections::rooms::role_of;
use cqrs_es::Aggregate;

use super::error::ApiError;
use super::extract::AuthUser;
use super::request_id::request_id;
use crate::state::AppState;

/// Both read models a room command can change.
pub const ROOM_PROJECTIONS: [Projection; 2] = [Projection::Rooms, Projection::Timeline];

/// Metadata naming the caller and the request.
pub fn metadata(user: &AuthUser, headers: &HeaderMap) -> CommandMetadata {
    CommandMetadata::new(user.user_id.to_string(), request_id(headers))
}

/// Runs `command` on aggregate `id`, then waits for `projections` to
/// reflect it (see [`settle`]).
pub async fn execute_and_settle<A, R>(
    state: &AppState,
    service: &CommandService<A>,
    id: &str,
    command: A::Command,
    metadata: &CommandMetadata,
    projections: &[Projection],
    read: impl FnOnce(&A) -> R,
) -> Result<Executed<A, R>, CommandError<A::Error>>
where
    A: Aggregate<Event: UniqueKey> + Clone,
    A::Command: Clone,
{
    let executed = service.execute_and_read(id, command, metadata, read).await?;
    settle(state, projections, id, executed.sequence).await;
    Ok(executed)
}

/// Runs the caller's room command and waits for both room read models to
/// reflect it.
pub async fn execute_room<R>(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    room: RoomId,
    command: RoomCommand,
    read: impl FnOnce(&Room) -> R,
) -> Result<Executed<Room, R>, CommandError<DomainError>> {
    let id = room.to_string();
    let metadata = metadata(user, headers);
    execute_and_settle(state, &state.write.rooms, &id, command, &metadata, &ROOM_PROJECTIONS, read).await
}

/// A refused room command. Not being a member is 404: rooms the caller may
/// not see do not exist for them.
pub fn room_error(err: CommandError<DomainError>) -> ApiError {
    match err {
        CommandError::Rejected(DomainError::NotAMember | DomainError::RoomNotFound) => ApiError::not_found(),
        other => other.into(),
    }
}

/// The caller's role in a room from the read model; 404 when not a member.
pub async fn require_member(state: &AppState, room: RoomId, user: UserId) -> Result<Role, ApiError> {
    role_of(&state.db, room, user).await?.ok_or_else(ApiError::not_found)
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
    metrics::counter!("ciphertalk_message_sends_held_back_total").increment(1);
    if !backlog.wait_within(limit, state.config.projections.read_your_writes()).await {
        tracing::debug!(backlog = backlog.events(), "the read side is still behind; the send goes ahead");
    }
}

/// 404 `user_not_found` unless every one of `users` is registered.
pub async fn require_registered(state: &AppState, users: &[UserId], message: &str) -> Result<(), ApiError> {
    if state.lookup().all_registered(users).await? {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "user_not_found", message))
    }
}
