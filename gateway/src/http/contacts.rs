//! `/v1/contacts` and `/v1/blocks`: the caller's contact list (sorted by
//! display name) and block list, as commands on their User aggregate and
//! reads from the `contacts` read model. Removing a contact touches nothing
//! else: rooms and history stay.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_domain::UserId;
use ciphertalk_domain::clock::now;
use ciphertalk_domain::user::UserCommand;
use ciphertalk_projections::{Projection, blocks, contacts};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, AuthUser, Limit, parse_cursor};
use super::shared::{execute_and_settle, metadata, require_registered};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/contacts", get(list_contacts))
        .route("/v1/contacts/{user_id}", put(add_contact).delete(remove_contact))
        .route("/v1/blocks", get(list_blocks))
        .route("/v1/blocks/{user_id}", put(block).delete(unblock))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactJson {
    pub user_id: Uuid,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_file_id: Option<Uuid>,
    pub added_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPage {
    /// Sorted by display name.
    pub items: Vec<ContactJson>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlockJson {
    pub user_id: Uuid,
    pub blocked_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockPage {
    /// Most recent first.
    pub items: Vec<BlockJson>,
    pub next: Option<String>,
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

/// One page of an in-memory list. Contact and block lists are per user and
/// small, so the cursor is simply how many entries came before.
fn paginate<T>(items: Vec<T>, query: &ListQuery) -> Result<(Vec<T>, Option<String>), ApiError> {
    let skip: usize = match &query.cursor {
        None => 0,
        Some(cursor) => parse_cursor(cursor)?,
    };
    let limit = query.limit.as_usize();
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(skip).take(limit).collect();
    let end = skip.saturating_add(page.len());
    Ok((page, (end < total).then(|| end.to_string())))
}

/// Runs a command on the caller's User aggregate and waits for the contacts
/// read model. The other user must exist.
async fn execute(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    other: UserId,
    command: UserCommand,
) -> Result<StatusCode, ApiError> {
    require_registered(state, &[other], "no such user").await?;
    let id = user.user_id.to_string();
    let metadata = metadata(user, headers);
    execute_and_settle(state, &state.write.users, &id, command, &metadata, &[Projection::Contacts], |_| ())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/contacts", tag = "contacts", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = ContactPage), (status = 422, description = "invalid_cursor, or invalid_value (limit)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn list_contacts(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ContactPage>, ApiError> {
    let all = contacts::list(&state.db, user.user_id).await?;
    let (items, next) = paginate(all, &query)?;
    let items = items
        .into_iter()
        .map(|c| ContactJson {
            user_id: c.user_id.as_uuid(),
            display_name: c.display_name,
            username: c.username,
            avatar_file_id: c.avatar_file_id.map(|id| id.as_uuid()),
            added_at: c.added_at,
        })
        .collect();
    Ok(Json(ContactPage { items, next }))
}

#[utoipa::path(put, path = "/v1/contacts/{user_id}", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "user to add")),
    responses((status = 204, description = "in the contact list (idempotent)"),
        (status = 404, description = "no such user", body = ErrorBody),
        (status = 422, description = "yourself", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, contact = %other))]
pub async fn add_contact(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(other): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::AddContact { contact: other, at: now() };
    execute(&state, &user, &headers, other, command).await
}

#[utoipa::path(delete, path = "/v1/contacts/{user_id}", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "user to remove")),
    responses((status = 204, description = "not in the contact list (idempotent); rooms and history stay"),
        (status = 404, description = "no such user", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, contact = %other))]
pub async fn remove_contact(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(other): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::RemoveContact { contact: other, at: now() };
    execute(&state, &user, &headers, other, command).await
}

#[utoipa::path(get, path = "/v1/blocks", tag = "contacts", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = BlockPage), (status = 422, description = "invalid_cursor, or invalid_value (limit)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn list_blocks(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<BlockPage>, ApiError> {
    let all = blocks::list(&state.db, user.user_id).await?;
    let (items, next) = paginate(all, &query)?;
    let items = items
        .into_iter()
        .map(|b| BlockJson { user_id: b.user_id.as_uuid(), blocked_at: b.blocked_at })
        .collect();
    Ok(Json(BlockPage { items, next }))
}

#[utoipa::path(put, path = "/v1/blocks/{user_id}", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "user to block")),
    responses((status = 204, description = "blocked (idempotent): they cannot open a direct room with you"),
        (status = 404, description = "no such user", body = ErrorBody),
        (status = 422, description = "yourself", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, blocked = %other))]
pub async fn block(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(other): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::BlockUser { blocked: other, at: now() };
    execute(&state, &user, &headers, other, command).await
}

#[utoipa::path(delete, path = "/v1/blocks/{user_id}", tag = "contacts", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "user to unblock")),
    responses((status = 204, description = "not blocked (idempotent)"),
        (status = 404, description = "no such user", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, blocked = %other))]
pub async fn unblock(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(other): ApiPath<UserId>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::UnblockUser { blocked: other, at: now() };
    execute(&state, &user, &headers, other, command).await
}
