//! `/v1/admin/*` and report resolution: instance admins list and resolve
//! reports, take messages and files down, promote and demote admins, suspend
//! users. Room owners and admins may resolve reports about their room's
//! messages and files.
//! Whether the caller is an instance admin is read from their User aggregate
//! on every request ([`AdminUser`]), never trusted from the token.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::ids::ReportId;
use ciphertalk_domain::report::{ReportAction, ReportCommand, ReportStatus, TargetKind};
use ciphertalk_domain::room::RoomCommand;
use ciphertalk_domain::user::{InstanceRole, UserCommand};
use ciphertalk_domain::values::ModeratorNote;
use ciphertalk_domain::{DomainError, FileId, MessageId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{AdminUser, ApiJson, ApiPath, ApiQuery, AuthUser};
use super::reports::{self, ReportJson, ReportPage, ReportQuery, Scope};
use super::shared::{execute_room, metadata, room_error};
use super::users::UserJson;
use crate::realtime::sessions::{self, Ending};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/reports", get(list_reports))
        .route("/v1/admin/reports/{id}/resolve", post(resolve))
        .route("/v1/admin/messages/{id}", delete(take_down_message))
        .route("/v1/admin/files/{id}", delete(take_down_file))
        .route("/v1/admin/users/{id}/role", put(set_role))
        .route("/v1/admin/users/{id}/suspend", post(suspend).delete(lift_suspension))
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

#[utoipa::path(get, path = "/v1/admin/reports", tag = "moderation", security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, body = ReportPage), (status = 403, description = "not an instance admin", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id))]
pub async fn list_reports(
    State(state): State<AppState>,
    admin: AdminUser,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    Ok(Json(reports::list(&state.db, Scope::Everyone, &query).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// `dismiss` or `takedown` (removes the reported message or file for everyone).
    #[schema(schema_with = super::openapi::report_action)]
    pub action: ReportAction,
    /// At most 1000 characters.
    #[schema(value_type = Option<String>)]
    pub note: Option<ModeratorNote>,
}

#[utoipa::path(post, path = "/v1/admin/reports/{id}/resolve", tag = "moderation", security(("bearer" = [])),
    request_body = ResolveBody, params(("id" = Uuid, Path, description = "report id")),
    responses((status = 200, body = ReportJson),
        (status = 403, description = "neither an instance admin nor the owner or an admin of the reported message's room", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already resolved", body = ErrorBody),
        (status = 422, description = "takedown of a user: suspend them instead", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, report_id = %id))]
pub async fn resolve(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<ReportId>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<Json<ReportJson>, ApiError> {
    let aggregate = reports::aggregate_of(&state.db, id).await?.ok_or_else(ApiError::not_found)?;
    let report = state.write.reports.read(&aggregate, Clone::clone).await?;
    let info = report.info().ok_or_else(ApiError::not_found)?;
    let target = info.target;
    if !user.is_admin {
        // Room moderators resolve reports about their room's content.
        let room = target.room_id.ok_or_else(|| forbidden("instance admins only"))?;
        reports::require_room_moderator(&state, room, user.user_id)
            .await
            .map_err(|_| forbidden("instance admins and the room's owner and admins only"))?;
    }
    if report.status() != ReportStatus::Open {
        return Err(DomainError::Conflict("the report is already resolved").into());
    }
    if body.action == ReportAction::Takedown {
        match (target.kind, target.room_id) {
            (TargetKind::Message, Some(room)) => {
                take_down(&state, &user, &headers, room, MessageId::from_uuid(target.id), Some(id)).await?;
            }
            (TargetKind::File, _) => {
                match super::files::take_down(&state, &user, &headers, FileId::from_uuid(target.id), Some(id))
                    .await
                {
                    // Deleted or expired meanwhile: nothing is left to remove.
                    Err(err) if err.status == StatusCode::GONE => {}
                    other => other?,
                }
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_value",
                    "action: only a message or a file can be taken down; suspend a user instead",
                ));
            }
        }
    }
    let command = ReportCommand::ResolveReport {
        moderator: user.user_id,
        action: body.action,
        note: body.note,
        at: now(),
    };
    let executed = state
        .write
        .reports
        .execute_and_read(&aggregate, command, &metadata(&user, &headers), Clone::clone)
        .await?;
    let json = ReportJson::of(&executed.read).ok_or_else(ApiError::not_found)?;
    Ok(Json(json))
}

/// Takes `message` of `room` down: a tombstone for every member, pushed as `message.deleted`.
async fn take_down(
    state: &AppState,
    moderator: &AuthUser,
    headers: &HeaderMap,
    room: RoomId,
    message: MessageId,
    report_id: Option<ReportId>,
) -> Result<(), ApiError> {
    let command = RoomCommand::TakeDownMessage {
        moderator: moderator.user_id,
        message_id: message,
        report_id,
        at: now(),
    };
    execute_room(state, moderator, headers, room, command, |_| ()).await.map_err(room_error)?;
    Ok(())
}

#[utoipa::path(delete, path = "/v1/admin/messages/{id}", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "message id")),
    responses((status = 204, description = "taken down: a tombstone for every member"),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id, message_id = %id))]
pub async fn take_down_message(
    State(state): State<AppState>,
    admin: AdminUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<MessageId>,
) -> Result<StatusCode, ApiError> {
    let room = reports::room_of_message(&state.db, id).await?.ok_or_else(ApiError::not_found)?;
    take_down(&state, &admin.0, &headers, room, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/admin/files/{id}", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "file id")),
    responses((status = 204, description = "taken down: gone for everyone (`file.deleted`, reason `taken_down`), its blobs deleted"),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 404, description = "file_not_found", body = ErrorBody),
        (status = 410, description = "already deleted, expired or taken down", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id, file_id = %id))]
pub async fn take_down_file(
    State(state): State<AppState>,
    admin: AdminUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<FileId>,
) -> Result<StatusCode, ApiError> {
    super::files::take_down(&state, &admin.0, &headers, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `admin` or `user`.
    #[schema(schema_with = super::openapi::instance_role)]
    pub role: InstanceRole,
}

/// A user as an admin sees them: the account and its instance role.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserJson {
    #[serde(flatten)]
    pub user: UserJson,
    /// `admin` or `user`.
    #[schema(schema_with = super::openapi::instance_role)]
    pub role: InstanceRole,
}

#[utoipa::path(put, path = "/v1/admin/users/{id}/role", tag = "moderation", security(("bearer" = [])),
    request_body = RoleBody, params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, description = "the user with their role (an admin named by configuration stays one)", body = AdminUserJson),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id, target = %id))]
pub async fn set_role(
    State(state): State<AppState>,
    admin: AdminUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<AdminUserJson>, ApiError> {
    let by = Some(admin.0.user_id);
    let command = match body.role {
        InstanceRole::Admin => UserCommand::GrantAdmin { by, at: now() },
        InstanceRole::User => UserCommand::RevokeAdmin { by, at: now() },
    };
    let executed = state
        .write
        .users
        .execute_and_read(&id.to_string(), command, &metadata(&admin.0, &headers), |user| {
            user.account().map(|account| (UserJson::public(account), user.role()))
        })
        .await
        .map_err(not_found_user)?;
    let (user, role) = executed.read.ok_or_else(ApiError::not_found)?;
    Ok(Json(AdminUserJson { user, role }))
}

fn not_found_user(err: ciphertalk_commands::CommandError<DomainError>) -> ApiError {
    match err {
        ciphertalk_commands::CommandError::Rejected(DomainError::NotFound) => ApiError::not_found(),
        other => other.into(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// Until when; for good (until lifted) when absent.
    pub until: Option<DateTime<Utc>>,
    /// Why, 0 to 1000 characters.
    #[schema(value_type = String)]
    pub reason: ModeratorNote,
}

#[utoipa::path(post, path = "/v1/admin/users/{id}/suspend", tag = "moderation", security(("bearer" = [])),
    request_body = SuspendBody, params(("id" = Uuid, Path, description = "user id")),
    responses((status = 204, description = "suspended: their sessions ended, their commands refused with 403 suspended"),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "until not in the future, or the caller themself", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id, target = %id))]
pub async fn suspend(
    State(state): State<AppState>,
    admin: AdminUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<SuspendBody>,
) -> Result<StatusCode, ApiError> {
    let command =
        UserCommand::Suspend { by: admin.0.user_id, reason: body.reason, until: body.until, at: now() };
    state
        .write
        .users
        .execute(&id.to_string(), command, &metadata(&admin.0, &headers))
        .await
        .map_err(not_found_user)?;
    // Committed first, so a refresh racing this revocation is refused by the
    // suspension even if it rotated its token just before.
    state.auth.refresh.revoke_user(id).await?;
    sessions::end(&state.nats, id, Ending::All).await;
    tracing::info!(target = %id, "suspended");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/admin/users/{id}/suspend", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 204, description = "lifted (or was not suspended)"),
        (status = 403, description = "not an instance admin", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id, target = %id))]
pub async fn lift_suspension(
    State(state): State<AppState>,
    admin: AdminUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::LiftSuspension { by: admin.0.user_id, at: now() };
    state
        .write
        .users
        .execute(&id.to_string(), command, &metadata(&admin.0, &headers))
        .await
        .map_err(not_found_user)?;
    Ok(StatusCode::NO_CONTENT)
}
