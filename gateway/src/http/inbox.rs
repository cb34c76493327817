//! The offline inbox over the same cursor as the WebSocket:
//! `GET /v1/inbox?after=<cursor>&limit=` and `POST /v1/inbox/ack {cursor}`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::ws::invalid_cursor;
use super::{ApiJson, AuthUser};
use crate::realtime::{Cursor, cursor};
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/inbox", get(list)).route("/v1/inbox/ack", post(ack))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxParams {
    /// Events after this cursor; default: the acknowledged cursor.
    pub after: Option<String>,
    pub limit: Option<String>,
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
    Query(params): Query<InboxParams>,
) -> Result<Json<InboxPage>, ApiError> {
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => {
            raw.parse::<usize>().ok().filter(|n| *n > 0).map(|n| n.min(MAX_LIMIT)).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_value",
                    "limit must be a positive integer",
                )
            })?
        }
    };
    let after = match params.after.as_deref() {
        Some(raw) => raw.parse::<Cursor>().map_err(|err| invalid_cursor(&err.to_string()))?,
        None => cursor::acknowledged(&state.db, user.user_id)
            .await
            .map_err(|e| ApiError::unavailable("postgres", e))?,
    };
    let (delivered, more) = state
        .realtime
        .queue
        .page(user.user_id, after, limit)
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
    /// Everything up to this cursor has been received.
    #[schema(value_type = String, example = "1234")]
    pub cursor: Cursor,
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
    let latest = state
        .realtime
        .queue
        .latest(user.user_id)
        .await
        .map_err(|e| ApiError::unavailable("the delivery queue", e))?;
    if body.cursor > latest {
        return Err(invalid_cursor("no event of yours has this cursor yet"));
    }
    let cursor = state
        .realtime
        .acks
        .acknowledge(user.user_id, body.cursor)
        .await
        .map_err(|e| ApiError::unavailable("postgres", e))?;
    Ok(Json(Acked { cursor }))
}
