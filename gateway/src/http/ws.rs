//! `GET /v1/ws`: the WebSocket. Authenticates with the `Authorization` header
//! or a single-use `?ticket=` (browsers), picks the start cursor (`?since=` or
//! the acknowledged one of the session's device) and hands the socket to
//! [`crate::realtime::connection`].

use axum::Router;
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiQuery, AuthUser, ClientIp, parse_cursor};
use crate::auth::consume_ticket;
use crate::auth::tickets::TicketHolder;
use crate::realtime::{connection, cursor};
use crate::state::AppState;
use crate::throttle::Action;

/// Socket buffers per connection (frames larger than these still work; the
/// buffers only grow for them).
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/ws", get(connect))
}

#[derive(Debug, Deserialize)]
pub struct WsParams {
    /// From `POST /v1/ws/ticket`; good once, for a few seconds.
    pub ticket: Option<String>,
    /// Start after this cursor instead of the acknowledged one.
    pub since: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn connect(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<WsParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let (mut parts, _body) = request.into_parts();
    let Ok(ClientIp(ip)) = ClientIp::from_request_parts(&mut parts, &state).await;
    state.throttle.check(Action::WsConnect, None, ip)?;
    let holder = if parts.headers.contains_key(header::AUTHORIZATION) {
        let user = AuthUser::from_request_parts(&mut parts, &state).await?;
        TicketHolder {
            user_id: user.user_id,
            session: user.session,
            device: user.device,
            token_expires_at: Some(user.expires_at),
        }
    } else if let Some(ticket) = params.ticket.as_deref() {
        redeem(&state, ticket).await?
    } else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a bearer access token or a ticket is required",
        ));
    };
    let user = holder.user_id;
    state.throttle.check(Action::WsConnect, Some(user), None)?;
    let realtime = state.realtime.clone();
    let admission = realtime.admit(user, holder.device).ok_or_else(|| {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "this user has as many WebSockets open as allowed; close one",
        );
        error.retry_after = Some(1);
        error
    })?;
    let peer = connection::Peer {
        user,
        device: holder.device,
        ip,
        session: holder.session,
        token_expires_at: holder.token_expires_at,
    };
    let start = match params.since.as_deref() {
        Some(since) => super::inbox::issued(&state, user, holder.device, parse_cursor(since)?).await?,
        None => cursor::acknowledged(&state.db, user, holder.device).await?,
    };
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state).await.map_err(|rejection| {
        ApiError::new(StatusCode::BAD_REQUEST, "websocket_required", rejection.body_text())
    })?;
    // Twice the frame limit: a frame above the limit gets an error frame, one
    // far above it ends the connection.
    let max_message = realtime.settings.max_frame_bytes.saturating_mul(2);
    Ok(upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        // Clients send small frames; tungstenite's 128 KiB default read buffer
        // per socket would dominate memory with thousands of idle connections.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| connection::serve(realtime, socket, peer, start, admission)))
}

async fn redeem(state: &AppState, ticket: &str) -> Result<TicketHolder, ApiError> {
    match consume_ticket(&state.db, ticket).await {
        Ok(Some(holder)) if holder.token_expires_at.is_some_and(|at| at <= connection::unix_now()) => {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the access token this ticket was issued for has expired",
            )
            .with_details(serde_json::json!({"reason": "token_expired"})))
        }
        Ok(Some(holder)) => {
            // The session may have ended since the ticket was bought (logout, a
            // removed device); its end was announced before this socket existed.
            if let Some(session) = holder.session
                && !state.auth.refresh.is_live(session).await?
            {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "the session this ticket was issued for has ended",
                ));
            }
            Ok(holder)
        }
        Ok(None) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the ticket is unknown, used or expired",
        )),
        Err(err) => Err(err.into()),
    }
}
