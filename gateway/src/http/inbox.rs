//! The offline inbox over the same cursor as the WebSocket:
//! `GET /v1/inbox?after=<cursor>&limit=` and `POST /v1/inbox/ack {cursor}`,
//! for the caller's device: its user's events and its own to-device messages.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use ciphertalk_domain::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody, invalid_cursor};
use super::extract::{ApiJson, ApiQuery, AuthUser, Limit, parse_cursor};
use crate::realtime::{Cursor, cursor};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/inbox", get(list)).route("/v1/inbox/ack", post(ack))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxParams {
    /// Events after this cursor; default: the caller's device's acknowledged cursor.
    pub after: Option<String>,
    /// Default 50, 1 to 200.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Limit,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxItem {
    /// Decimal string.
    #[schema(value_type = String, example = "1234")]
    pub cursor: Cursor,
    /// The client event, as on the WebSocket: `type`, `room_id`, `at` and the fields of its subject.
    #[schema(value_type = Object)]
    pub event: Box<RawValue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Pass as `after` for the following page; `null` when nothing more is stored.
    #[schema(value_type = Option<String>)]
    pub next: Option<Cursor>,
}

#[utoipa::path(get, path = "/v1/inbox", tag = "delivery", security(("bearer" = [])), params(InboxParams),
    responses((status = 200, body = InboxPage), (status = 422, description = "invalid_cursor", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<InboxParams>,
) -> Result<Json<InboxPage>, ApiError> {
    let after = match params.after.as_deref() {
        Some(raw) => issued(&state, user.user_id, user.device, parse_cursor(raw)?).await?,
        None => cursor::acknowledged(&state.db, user.user_id, user.device).await?,
    };
    let (delivered, more) = state
        .realtime
        .queue
        .page(user.user_id, user.device, after, params.limit.as_usize())
        .await
        .map_err(|e| ApiError::unavailable("the delivery queue", e))?;
    let mut items = Vec::with_capacity(delivered.len());
    for item in delivered {
        match serde_json::from_slice::<Box<RawValue>>(&item.event) {
            Ok(event) => items.push(InboxItem { cursor: item.cursor, event }),
            Err(err) => {
                tracing::error!(cursor = %item.cursor, error = %err, "skipping a delivery that is not JSON")
            }
        }
    }
    let next = if more { items.last().map(|item| item.cursor) } else { None };
    Ok(Json(InboxPage { items, next }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AckBody {
    /// Everything up to this cursor has been received. Read as a cursor
    /// (not by serde), so that a bad one is `invalid_cursor` as everywhere.
    #[schema(schema_with = super::openapi::cursor_input)]
    pub cursor: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Acked {
    /// The stored acknowledged cursor (never lower than before).
    #[schema(value_type = String, example = "1234")]
    pub cursor: Cursor,
}

#[utoipa::path(post, path = "/v1/inbox/ack", tag = "delivery", security(("bearer" = [])), request_body = AckBody,
    responses((status = 200, body = Acked), (status = 422, description = "invalid_cursor", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn ack(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<Acked>, ApiError> {
    let cursor = Cursor::deserialize(&body.cursor).map_err(|err| invalid_cursor(&err.to_string()))?;
    let cursor = issued(&state, user.user_id, user.device, cursor).await?;
    let cursor = state
        .realtime
        .acks
        .acknowledge(user.user_id, user.device, cursor)
        .await
        .map_err(|e| ApiError::unavailable("the database", e))?;
    Ok(Json(Acked { cursor }))
}

/// `cursor`, if the device's queue has reached it: a cursor beyond the newest
/// event was never handed out (and would overflow the stream's start).
pub(super) async fn issued(
    state: &AppState,
    user: UserId,
    device: DeviceId,
    cursor: Cursor,
) -> Result<Cursor, ApiError> {
    let latest = state
        .realtime
        .queue
        .latest(user, device)
        .await
        .map_err(|e| ApiError::unavailable("the delivery queue", e))?;
    if cursor > latest {
        return Err(invalid_cursor("no event of yours has this cursor yet"));
    }
    Ok(cursor)
}
