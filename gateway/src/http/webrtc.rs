//! Calls (WebRTC): `POST /v1/webrtc/{offer,answer,candidate,playback}`
//! relay a signal to a member of a shared room as a WebSocket `signal`
//! frame (see `realtime::signaling` for the rules), and `GET /v1/webrtc/turn`
//! hands out TURN credentials (see `turn`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use ciphertalk_domain::{DeviceId, RoomId, UserId};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser};
use crate::realtime::frames::SignalKind;
use crate::realtime::signaling::{self, Signal, SignalError};
use crate::state::AppState;
use crate::turn::TurnCredentials;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webrtc/offer", post(offer))
        .route("/v1/webrtc/answer", post(answer))
        .route("/v1/webrtc/candidate", post(candidate))
        .route("/v1/webrtc/playback", post(playback))
        .route("/v1/webrtc/turn", get(turn))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalBody {
    /// A room both users are members of.
    #[schema(value_type = Uuid)]
    pub room_id: RoomId,
    /// The user it is for.
    #[schema(value_type = Uuid)]
    pub to: UserId,
    /// Only this device of `to` (the one that called or answered); without
    /// it, every connected device of theirs.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// Opaque to the server (an SDP, an ICE candidate), up to
    /// `webrtc.max_payload_bytes` of JSON (default 16384).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybackBody {
    #[schema(value_type = Uuid)]
    pub room_id: RoomId,
    /// One member (answering a late joiner's request); without it, every
    /// other connected member of the room.
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub to: Option<UserId>,
    #[schema(value_type = Option<Uuid>)]
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    #[schema(value_type = crate::realtime::playback::Playback)]
    pub payload: serde_json::Value,
}

/// The routes of the call signals: one per kind, the same body and answers.
macro_rules! call_signal_route {
    ($name:ident, $path:tt, $kind:expr) => {
        #[utoipa::path(post, path = $path, tag = "calls", security(("bearer" = [])),
            request_body = SignalBody,
            responses((status = 204, description = "a connected device of `to` has taken it, as a `signal` frame of the route's kind; signals sent one after the other arrive in that order"),
                (status = 403, description = "not_allowed: `to` is not a member of the room, or one of you blocked the other", body = ErrorBody),
                (status = 404, description = "not_found: no such room (or you are not a member)", body = ErrorBody),
                (status = 409, description = "peer_offline: no device of `to` (or not the named one) is connected", body = ErrorBody),
                (status = 413, description = "too_large: the payload is over `webrtc.max_payload_bytes`", body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            user: AuthUser,
            ApiJson(body): ApiJson<SignalBody>,
        ) -> Result<StatusCode, ApiError> {
            call_signal(&state, user, $kind, body).await
        }
    };
}

call_signal_route!(offer, "/v1/webrtc/offer", SignalKind::Offer);
call_signal_route!(answer, "/v1/webrtc/answer", SignalKind::Answer);
call_signal_route!(candidate, "/v1/webrtc/candidate", SignalKind::Candidate);

#[utoipa::path(post, path = "/v1/webrtc/playback", tag = "calls", security(("bearer" = [])),
    request_body = PlaybackBody,
    responses((status = 204, description = "relayed as a `signal` frame of kind `playback`: to `to` (taken by a connected device), or to every other connected member"),
        (status = 403, description = "not_allowed: `to` is not a member of the room, or one of you blocked the other", body = ErrorBody),
        (status = 404, description = "not_found: no such room (or you are not a member)", body = ErrorBody),
        (status = 409, description = "peer_offline: `to` is named and none of their devices is connected", body = ErrorBody),
        (status = 413, description = "too_large: the payload is over `webrtc.max_payload_bytes`", body = ErrorBody)))]
pub async fn playback(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<PlaybackBody>,
) -> Result<StatusCode, ApiError> {
    let signal = Signal {
        from: user.user_id,
        from_device: user.device,
        room: body.room_id,
        kind: SignalKind::Playback,
        to: body.to,
        device: body.device_id,
        payload: &body.payload,
    };
    relay(&state, signal).await
}

async fn call_signal(
    state: &AppState,
    user: AuthUser,
    kind: SignalKind,
    body: SignalBody,
) -> Result<StatusCode, ApiError> {
    let signal = Signal {
        from: user.user_id,
        from_device: user.device,
        room: body.room_id,
        kind,
        to: Some(body.to),
        device: body.device_id,
        payload: &body.payload,
    };
    relay(state, signal).await
}

async fn relay(state: &AppState, signal: Signal<'_>) -> Result<StatusCode, ApiError> {
    signaling::relay(&state.realtime, signal).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<SignalError> for ApiError {
    fn from(err: SignalError) -> Self {
        let status = match &err {
            SignalError::NotFound => StatusCode::NOT_FOUND,
            SignalError::NotAllowed => StatusCode::FORBIDDEN,
            SignalError::PeerOffline => StatusCode::CONFLICT,
            SignalError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SignalError::TooLarge { limit } => {
                return Self::new(StatusCode::PAYLOAD_TOO_LARGE, err.code(), err.to_string())
                    .with_details(json!({"limit_bytes": limit}));
            }
            SignalError::Unavailable(cause) => return Self::unavailable("signalling", cause),
        };
        Self::new(status, err.code(), err.to_string())
    }
}

#[utoipa::path(get, path = "/v1/webrtc/turn", tag = "calls", security(("bearer" = [])),
    responses((status = 200, body = TurnCredentials, description = "TURN credentials for me, in coturn's REST (shared secret) scheme, valid for `ttl` seconds"),
        (status = 404, description = "turn_not_configured: this server has no TURN server", body = ErrorBody)))]
pub async fn turn(State(state): State<AppState>, user: AuthUser) -> Result<Json<TurnCredentials>, ApiError> {
    let turn = state.turn.as_ref().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "turn_not_configured", "this server has no TURN server")
    })?;
    metrics::counter!("ciphertalk_turn_credentials_issued_total").increment(1);
    Ok(Json(turn.issue(user.user_id)))
}
