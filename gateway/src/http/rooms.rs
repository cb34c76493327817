//! `/v1/rooms`: create (direct rooms deduplicated per pair), list, read,
//! settings, join, leave and members.
//!
//! Writes are commands on the Room aggregate and answer from the committed
//! aggregate; reads come from the `rooms` read model. Every write waits
//! (bounded) for the read models before answering, so the caller's next read
//! reflects it. Rooms the caller is not in are 404, as if they did not exist.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_commands::CommandError;
use ciphertalk_domain::clock::now;
use ciphertalk_domain::room::{JoinRule, Role, Room, RoomCommand, RoomKind};
use ciphertalk_domain::values::{RoomDescription, RoomName};
use ciphertalk_domain::{DomainError, FileId, RoomId, UserId};
use ciphertalk_projections::{Projection, rooms as read};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, Limit, OptionalJson};
use super::shared::{
    ROOM_PROJECTIONS, execute_room, require_member, require_registered, require_settled_rooms, room_error,
    settle, settle_rooms,
};
use crate::directory;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/rooms", post(create).get(list))
        .route("/v1/rooms/{id}", get(show).patch(update))
        .route("/v1/rooms/{id}/join", post(join))
        .route("/v1/rooms/{id}/leave", post(leave))
        .route("/v1/rooms/{id}/members/{user_id}", put(put_member).delete(remove_member))
}

/// A room as API.md shows it. `members` on single-room answers, `unread` in
/// the caller's room list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoomJson {
    pub id: Uuid,
    /// `direct` or `group`.
    #[schema(schema_with = super::openapi::room_kind)]
    pub kind: RoomKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_file_id: Option<Uuid>,
    /// `open` or `invite`.
    #[schema(schema_with = super::openapi::join_rule)]
    pub join_rule: JoinRule,
    pub created_at: DateTime<Utc>,
    /// Sequence number of the latest message (0 before the first).
    pub last_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberJson>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberJson {
    pub user_id: Uuid,
    /// `owner`, `admin` or `member`.
    #[schema(schema_with = super::openapi::role)]
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomPage {
    pub items: Vec<RoomJson>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next: Option<String>,
}

impl RoomJson {
    fn from_view(view: read::RoomView) -> Self {
        Self {
            id: view.id.as_uuid(),
            kind: view.kind,
            name: view.name,
            description: view.description,
            photo_file_id: view.photo_file_id.map(|id| id.as_uuid()),
            join_rule: view.join_rule,
            created_at: view.created_at,
            last_seq: view.last_seq,
            unread: view.unread,
            members: view.members.map(|members| {
                members
                    .into_iter()
                    .map(|m| MemberJson {
                        user_id: m.user_id.as_uuid(),
                        role: m.role,
                        joined_at: m.joined_at,
                    })
                    .collect()
            }),
        }
    }

    /// The room as committed, members included (owner first, then by joining).
    fn from_aggregate(room: &Room) -> Self {
        let mut members: Vec<_> = room.members().iter().collect();
        members.sort_by_key(|(id, member)| (member.role != Role::Owner, member.seniority, **id));
        Self {
            id: room.id().unwrap_or_default().as_uuid(),
            kind: room.kind(),
            name: room.name().map(|name| name.as_str().to_owned()),
            description: room.description().map(|d| d.as_str().to_owned()),
            photo_file_id: room.photo_file_id().map(|id| id.as_uuid()),
            join_rule: room.join_rule(),
            created_at: room.created_at().unwrap_or_default(),
            last_seq: room.last_seq(),
            unread: None,
            members: Some(
                members
                    .into_iter()
                    .map(|(id, member)| MemberJson {
                        user_id: id.as_uuid(),
                        role: member.role,
                        joined_at: member.joined_at,
                    })
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoomBody {
    /// `direct` (exactly one other member) or `group`.
    #[schema(schema_with = super::openapi::room_kind)]
    pub kind: RoomKind,
    #[schema(value_type = Option<String>)]
    pub name: Option<RoomName>,
    #[schema(value_type = Option<String>)]
    pub description: Option<RoomDescription>,
    /// Groups only: `invite` (default) or `open`.
    #[schema(schema_with = super::openapi::join_rule_or_null)]
    pub join_rule: Option<JoinRule>,
    /// The other members (the creator is added as owner).
    #[serde(default)]
    #[schema(value_type = Vec<Uuid>)]
    pub members: Vec<UserId>,
}

#[utoipa::path(post, path = "/v1/rooms", tag = "rooms", security(("bearer" = [])), request_body = CreateRoomBody,
    responses((status = 201, body = RoomJson, description = "created; the creator is owner"),
        (status = 200, body = RoomJson, description = "the existing direct room of this pair"),
        (status = 403, description = "blocked", body = ErrorBody),
        (status = 404, description = "a member is not a registered user", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateRoomBody>,
) -> Result<impl IntoResponse, ApiError> {
    let mut seen = std::collections::HashSet::from([user.user_id]);
    let others: Vec<UserId> = body.members.iter().copied().filter(|id| seen.insert(*id)).collect();
    require_registered(&state, &others, "a member is not a registered user").await?;
    let room_id = match body.kind {
        RoomKind::Group => RoomId::new_v7(),
        RoomKind::Direct => {
            let [other] = others.as_slice() else {
                return Err(
                    DomainError::invalid("members", "a direct room has exactly one other member").into()
                );
            };
            if blocked_either_way(&state, user.user_id, *other).await? {
                return Err(DomainError::Blocked.into());
            }
            directory::claim_direct_room(&state.db, user.user_id, *other).await?
        }
    };
    let command = RoomCommand::CreateRoom {
        room_id,
        kind: body.kind,
        name: body.name,
        description: body.description,
        join_rule: body.join_rule.unwrap_or_default(),
        creator: user.user_id,
        members: others,
        at: now(),
    };
    match execute_room(&state, &user, &headers, room_id, command, RoomJson::from_aggregate).await {
        Ok(executed) => Ok((StatusCode::CREATED, Json(executed.read))),
        // Someone (either of the pair) created this direct room first: it is the answer.
        Err(CommandError::Rejected(DomainError::AlreadyExists)) if body.kind == RoomKind::Direct => {
            let loaded = state.write.rooms.load(&room_id.to_string()).await?;
            let room = &loaded.aggregate;
            if room.direct_pair().is_some_and(|pair| pair.iter().any(|member| !room.is_member(*member))) {
                // One of the pair had left: opening it again brings them back.
                let command = RoomCommand::JoinRoom { user: user.user_id, at: now() };
                let executed =
                    execute_room(&state, &user, &headers, room_id, command, RoomJson::from_aggregate)
                        .await
                        .map_err(room_error)?;
                return Ok((StatusCode::OK, Json(executed.read)));
            }
            settle(&state, &ROOM_PROJECTIONS, &room_id.to_string(), loaded.sequence).await;
            Ok((StatusCode::OK, Json(RoomJson::from_aggregate(room))))
        }
        Err(err) => Err(room_error(err)),
    }
}

/// Whether either user blocked the other, from their aggregates (always current).
async fn blocked_either_way(state: &AppState, a: UserId, b: UserId) -> Result<bool, ApiError> {
    let lookup = state.lookup();
    Ok(lookup.has_blocked_per_aggregate(a, b).await? || lookup.has_blocked_per_aggregate(b, a).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, default 50, 1 to 200.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Limit,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/rooms", tag = "rooms", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = RoomPage, description = "my rooms, most recent activity first"),
        (status = 422, description = "invalid_cursor, or invalid_value (limit)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<RoomPage>, ApiError> {
    let rooms = read::room_ids_of(&state.db, user.user_id).await?;
    settle_rooms(&state, &[Projection::Rooms], &rooms).await;
    let page =
        read::list_for_user(&state.db, user.user_id, query.limit.get(), query.cursor.as_deref()).await?;
    Ok(Json(RoomPage { items: page.items.into_iter().map(RoomJson::from_view).collect(), next: page.next }))
}

#[utoipa::path(get, path = "/v1/rooms/{id}", tag = "rooms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id")),
    responses((status = 200, body = RoomJson, description = "the room with its members"),
        (status = 404, description = "no such room, or not a member", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<RoomJson>, ApiError> {
    require_settled_rooms(&state, &[Projection::Rooms], &[id]).await?;
    require_member(&state, id, user.user_id).await?;
    let view = read::get_with_members(&state.db, id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(RoomJson::from_view(view)))
}

/// `null` in a patch clears the field; a missing field keeps it.
fn patch_field<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    #[schema(value_type = Option<String>)]
    pub name: Option<RoomName>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<RoomDescription>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "patch_field")]
    #[schema(value_type = Option<Uuid>)]
    pub photo_file_id: Option<Option<FileId>>,
    /// `open` or `invite`.
    #[schema(schema_with = super::openapi::join_rule_or_null)]
    pub join_rule: Option<JoinRule>,
}

#[utoipa::path(patch, path = "/v1/rooms/{id}", tag = "rooms", security(("bearer" = [])), request_body = RoomPatch,
    params(("id" = Uuid, Path, description = "room id")),
    responses((status = 200, body = RoomJson),
        (status = 403, description = "not an admin or the owner, or a direct room", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(body): ApiJson<RoomPatch>,
) -> Result<Json<RoomJson>, ApiError> {
    let command = RoomCommand::UpdateRoom {
        actor: user.user_id,
        name: body.name,
        description: body.description,
        photo_file_id: body.photo_file_id,
        join_rule: body.join_rule,
        at: now(),
    };
    let executed = execute_room(&state, &user, &headers, id, command, RoomJson::from_aggregate)
        .await
        .map_err(room_error)?;
    Ok(Json(executed.read))
}

#[utoipa::path(post, path = "/v1/rooms/{id}/join", tag = "rooms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id")),
    responses((status = 200, body = RoomJson, description = "joined"),
        (status = 404, description = "no such room, or invite-only without an invite", body = ErrorBody),
        (status = 409, description = "already_member, or room_full", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn join(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<Json<RoomJson>, ApiError> {
    let command = RoomCommand::JoinRoom { user: user.user_id, at: now() };
    let executed = execute_room(&state, &user, &headers, id, command, RoomJson::from_aggregate)
        .await
        .map_err(|err| match err {
            // Rooms one may not join are rooms one may not see; a room
            // everyone has left is one of them (410 would say it existed).
            CommandError::Rejected(DomainError::Forbidden(_) | DomainError::Gone) => ApiError::not_found(),
            other => room_error(other),
        })?;
    Ok(Json(executed.read))
}

#[utoipa::path(post, path = "/v1/rooms/{id}/leave", tag = "rooms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id")),
    responses((status = 204, description = "left; an owner hands ownership on first"),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn leave(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    let command = RoomCommand::LeaveRoom { user: user.user_id, at: now() };
    execute_room(&state, &user, &headers, id, command, |_| ()).await.map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    /// `member` (default when adding) or `admin`.
    #[schema(schema_with = super::openapi::role_or_null)]
    pub role: Option<Role>,
}

#[utoipa::path(put, path = "/v1/rooms/{id}/members/{user_id}", tag = "rooms", security(("bearer" = [])),
    request_body = MemberBody,
    params(("id" = Uuid, Path, description = "room id"), ("user_id" = Uuid, Path, description = "user to add or change")),
    responses((status = 200, body = MemberJson, description = "added, or role changed"),
        (status = 403, description = "not an admin or the owner, or not above the member", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "room_full, or the membership kept changing (retry)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id, member = %member))]
pub async fn put_member(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath((id, member)): ApiPath<(RoomId, UserId)>,
    OptionalJson(body): OptionalJson<MemberBody>,
) -> Result<Json<MemberJson>, ApiError> {
    // The body is optional: none means "add as a member".
    let role = body.and_then(|body| body.role).unwrap_or(Role::Member);
    let loaded = state.write.rooms.load(&id.to_string()).await?;
    if !loaded.aggregate.is_member(user.user_id) {
        return Err(ApiError::not_found());
    }
    let mut is_member = loaded.aggregate.is_member(member);
    if !is_member {
        require_registered(&state, &[member], "no such user").await?;
    }
    // The member may join or leave between the load and the command: the
    // second attempt takes the other command.
    for _ in 0..2 {
        let at = now();
        let command = if is_member {
            RoomCommand::ChangeRole { actor: user.user_id, user: member, role, at }
        } else {
            RoomCommand::AddMember { actor: user.user_id, user: member, role, at }
        };
        let read = |room: &Room| {
            room.member(member).map(|m| MemberJson {
                user_id: member.as_uuid(),
                role: m.role,
                joined_at: m.joined_at,
            })
        };
        match execute_room(&state, &user, &headers, id, command, read).await {
            Ok(executed) => return executed.read.map(Json).ok_or_else(ApiError::not_found),
            Err(CommandError::Rejected(DomainError::AlreadyMember | DomainError::MemberNotFound)) => {
                is_member = !is_member;
            }
            Err(err) => return Err(room_error(err)),
        }
    }
    Err(ApiError::new(StatusCode::CONFLICT, "conflict", "the membership kept changing; retry"))
}

#[utoipa::path(delete, path = "/v1/rooms/{id}/members/{user_id}", tag = "rooms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id"), ("user_id" = Uuid, Path, description = "member to remove")),
    responses((status = 204, description = "removed"),
        (status = 403, description = "not an admin or the owner, or not above the member", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id, member = %member))]
pub async fn remove_member(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath((id, member)): ApiPath<(RoomId, UserId)>,
) -> Result<StatusCode, ApiError> {
    let command = RoomCommand::RemoveMember { actor: user.user_id, user: member, at: now() };
    execute_room(&state, &user, &headers, id, command, |_| ()).await.map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}
