//! `/v1/admin/audit` and `/v1/admin/rooms/{id}/state`: what instance admins
//! read about the past. The audit log is the `audit` projection (no route
//! writes it); a room's state as of a time is folded from the room's own
//! events in the event store up to that time, so it needs no read model.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_domain::RoomId;
use ciphertalk_domain::room::{JoinRule, Role, Room, RoomKind};
use ciphertalk_domain::upcast::{upcast, upcasters};
use ciphertalk_projections::audit::{self, AuditFilter};
use cqrs_es::Aggregate as _;
use cqrs_es::persist::SerializedEvent;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{AdminUser, ApiPath, ApiQuery, Limit, parse_cursor};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/audit", get(audit_log))
        .route("/v1/admin/rooms/{id}/state", get(room_state))
}

/// Longest `subject` or `actor` filter: ids and `system:<process>` names are far shorter.
const MAX_FILTER_CHARS: usize = 128;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries about this id (a user, message, file or report target), in this room,
    /// or of this report (its filing, its decision, the takedown it caused).
    pub subject: Option<String>,
    /// Entries by this actor: a user id, or `system:configuration`, `system:expiry`.
    pub actor: Option<String>,
    /// Entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries at or before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Page size, default 50, 1 to 200.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Limit,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    pub at: DateTime<Utc>,
    /// A user id, or `system:<process>`.
    pub actor_id: String,
    /// `report.filed`, `report.resolved`, `message.taken_down`, `message.deleted`,
    /// `file.taken_down`, `file.deleted`, `file.expired`, `user.suspended`,
    /// `user.suspension_lifted`, `user.admin_granted`, `user.admin_revoked`,
    /// `room.created`, `room.updated`, `member.invited`, `member.joined`,
    /// `member.left`, `member.removed`, `member.role_changed`.
    pub action: String,
    /// What the action concerns: a takedown's is the removed message or file.
    pub subject: String,
    /// The room it happened in, if any.
    pub room_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditItem>,
    pub next: Option<String>,
}

fn bounded(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(value) if value.chars().count() > MAX_FILTER_CHARS => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            format!("{field}: at most {MAX_FILTER_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

#[utoipa::path(get, path = "/v1/admin/audit", tag = "moderation", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "the audit log, newest first (no route edits it)", body = AuditPage),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id))]
pub async fn audit_log(
    State(state): State<AppState>,
    admin: AdminUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        subject: bounded("subject", query.subject)?,
        actor: bounded("actor", query.actor)?,
        since: query.since,
        until: query.until,
        before: query.cursor.as_deref().map(parse_cursor::<u64>).transpose()?,
    };
    let limit = query.limit.get();
    let mut entries = audit::query(&state.db, &filter, limit + 1).await?;
    let more = entries.len() > query.limit.as_usize();
    entries.truncate(query.limit.as_usize());
    let next = more.then(|| entries.last().map(|last| last.stream_seq.to_string())).flatten();
    let items = entries
        .into_iter()
        .map(|entry| AuditItem {
            at: entry.at,
            actor_id: entry.actor_id,
            action: entry.action,
            subject: entry.subject,
            room_id: entry.room_id,
            details: entry.details,
        })
        .collect();
    Ok(Json(AuditPage { items, next }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// The time (RFC 3339); now when absent.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomAsOf {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub kind: RoomKind,
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = String)]
    pub join_rule: JoinRule,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberAsOf {
    pub user_id: Uuid,
    /// `owner`, `admin` or `member`.
    #[schema(value_type = String)]
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomState {
    /// The time the state is of.
    pub at: DateTime<Utc>,
    pub room: RoomAsOf,
    /// In user id order.
    pub members: Vec<MemberAsOf>,
    /// Invited, not joined yet.
    pub invited: Vec<Uuid>,
}

#[utoipa::path(get, path = "/v1/admin/rooms/{id}/state", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id"), StateQuery),
    responses((status = 200, description = "the room's settings and members as they stood at `at`, from the event log", body = RoomState),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 404, description = "no such room at that time", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id, room_id = %id))]
pub async fn room_state(
    State(state): State<AppState>,
    admin: AdminUser,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(query): ApiQuery<StateQuery>,
) -> Result<Json<RoomState>, ApiError> {
    let at = query.at.unwrap_or_else(Utc::now);
    let room = room_as_of(&state.db, id, at).await?;
    let created_at = room.created_at().ok_or_else(ApiError::not_found)?;
    let members = room
        .members()
        .iter()
        .map(|(user, member)| MemberAsOf {
            user_id: user.as_uuid(),
            role: member.role,
            joined_at: member.joined_at,
        })
        .collect();
    Ok(Json(RoomState {
        at,
        room: RoomAsOf {
            id: id.as_uuid(),
            kind: room.kind(),
            name: room.name().map(ToString::to_string),
            description: room.description().map(ToString::to_string),
            join_rule: room.join_rule(),
            created_at,
        },
        members,
        invited: room.invited().iter().map(|user| user.as_uuid()).collect(),
    }))
}

/// `room` folded from its settings and membership events committed at or
/// before `at` (messages change neither).
async fn room_as_of(pool: &PgPool, room: RoomId, at: DateTime<Utc>) -> Result<Room, ApiError> {
    let rows: Vec<(i64, String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, event_type, event_version, payload::jsonb FROM events
          WHERE aggregate_type = 'room' AND aggregate_id = $1 AND recorded_at <= $2
            AND event_type IN ('RoomCreated', 'RoomUpdated', 'MemberInvited', 'MemberJoined', 'MemberLeft', 'MemberRoleChanged')
          ORDER BY sequence",
    )
    .bind(room.to_string())
    .bind(at)
    .fetch_all(pool)
    .await?;
    let upcasters = upcasters();
    let mut folded = Room::default();
    for (sequence, event_type, event_version, payload) in rows {
        let stored = SerializedEvent {
            aggregate_id: room.to_string(),
            sequence: usize::try_from(sequence).unwrap_or(usize::MAX),
            aggregate_type: "room".to_owned(),
            event_type,
            event_version,
            payload,
            metadata: serde_json::Value::Null,
        };
        let current = upcast(stored, &upcasters);
        folded.apply(serde_json::from_value(current.payload).map_err(ApiError::internal)?);
    }
    Ok(folded)
}
