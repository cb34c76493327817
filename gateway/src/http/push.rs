//! Push notifications: where each of my devices is woken
//! (`PUT/DELETE /v1/devices/{device_id}/push`), the server's VAPID key for
//! browsers (`GET /v1/push/vapid-public-key`), and rooms muted for a while
//! (`PUT/DELETE /v1/rooms/{id}/mute`). Each is a command on my User aggregate.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::user::{
    FcmToken, P256dhKey, PushAuthSecret, PushRemoval, PushTarget, PushUrl, UserCommand,
};
use ciphertalk_domain::{DeviceId, RoomId, ValidationError};
use ciphertalk_projections::Projection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser, OptionalJson};
use super::shared::{execute_and_settle, metadata};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices/{device_id}/push", put(register_push).delete(unregister_push))
        .route("/v1/push/vapid-public-key", get(vapid_public_key))
        .route("/v1/rooms/{id}/mute", put(mute_room).delete(unmute_room))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// A browser's Web Push subscription (`subscription`).
    Webpush,
    /// An FCM registration token (`token`).
    Fcm,
    /// A bridge's URL (`token`), POSTed `{room_id, count, first_seq}`.
    Webhook,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// base64url P-256 point.
    pub p256dh: String,
    /// base64url 16-byte secret.
    pub auth: String,
}

/// `PushSubscription.toJSON()` of a browser.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Subscription {
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PushRegistration {
    pub platform: Platform,
    /// The FCM token, or the webhook's URL.
    pub token: Option<String>,
    /// The Web Push subscription.
    pub subscription: Option<Subscription>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// The uncompressed P-256 point, base64url: `applicationServerKey`.
    pub public_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MuteBody {
    /// Muted until then; absent or null: until unmuted.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MuteJson {
    #[schema(value_type = Uuid)]
    pub room_id: RoomId,
    pub until: Option<DateTime<Utc>>,
}

/// The registration as a target, refused (422) when malformed, over the
/// configured size, of a disabled platform, or a URL we would not call.
fn target_of(state: &AppState, body: PushRegistration) -> Result<PushTarget, ApiError> {
    let push = &state.config.push;
    let limit = push.max_target_chars;
    let sized = |field: &'static str, value: &str| {
        if value.chars().count() > limit {
            return Err(ValidationError::new(field, format!("must be at most {limit} characters")));
        }
        Ok(())
    };
    // The pusher's own rule for what it will call.
    let callable = |field: &'static str, url: &PushUrl| {
        crate::push::provider::callable(url.as_str(), push.allow_http)
            .map(drop)
            .map_err(|_| ValidationError::new(field, "must be an https URL of a public host"))
    };
    let target = match body.platform {
        Platform::Webpush => {
            let subscription = body
                .subscription
                .ok_or_else(|| ValidationError::new("subscription", "is required for webpush"))?;
            sized("subscription.endpoint", &subscription.endpoint)?;
            let endpoint = PushUrl::parse(&subscription.endpoint)?;
            callable("subscription.endpoint", &endpoint)?;
            PushTarget::WebPush {
                endpoint,
                p256dh: P256dhKey::parse(&subscription.keys.p256dh)?,
                auth: PushAuthSecret::parse(&subscription.keys.auth)?,
            }
        }
        Platform::Fcm => {
            let token = body.token.ok_or_else(|| ValidationError::new("token", "is required for fcm"))?;
            sized("token", &token)?;
            PushTarget::Fcm { token: FcmToken::parse(&token)? }
        }
        Platform::Webhook => {
            let url =
                body.token.ok_or_else(|| ValidationError::new("token", "is required: the webhook's URL"))?;
            sized("token", &url)?;
            let url = PushUrl::parse(&url)?;
            callable("token", &url)?;
            PushTarget::Webhook { url }
        }
    };
    if !push.enabled(target.platform()) {
        return Err(ValidationError::new("platform", "is not enabled on this server").into());
    }
    Ok(target)
}

#[utoipa::path(put, path = "/v1/devices/{device_id}/push", tag = "notifications", security(("bearer" = [])),
    request_body = PushRegistration, params(("device_id" = Uuid, Path, description = "one of my devices")),
    responses((status = 204, description = "the device is woken there from now on (replacing any earlier target)"),
        (status = 404, description = "device_not_found: not one of my devices", body = ErrorBody),
        (status = 422, description = "invalid_value: a malformed or oversized target, or a platform not enabled", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn register_push(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(device_id): ApiPath<DeviceId>,
    ApiJson(body): ApiJson<PushRegistration>,
) -> Result<StatusCode, ApiError> {
    let target = target_of(&state, body)?;
    let command = UserCommand::RegisterPush { device_id, target, at: now() };
    execute(&state, &user, &headers, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/devices/{device_id}/push", tag = "notifications", security(("bearer" = [])),
    params(("device_id" = Uuid, Path, description = "one of my devices")),
    responses((status = 204, description = "the device is woken no more (also when it was not)"),
        (status = 404, description = "device_not_found: not one of my devices", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn unregister_push(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(device_id): ApiPath<DeviceId>,
) -> Result<StatusCode, ApiError> {
    let command =
        UserCommand::UnregisterPush { device_id, reason: PushRemoval::ByUser, only_if: None, at: now() };
    execute(&state, &user, &headers, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/push/vapid-public-key", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = VapidPublicKey), (status = 401, description = "unauthenticated", body = ErrorBody)))]
pub async fn vapid_public_key(State(state): State<AppState>, _user: AuthUser) -> Json<VapidPublicKey> {
    Json(VapidPublicKey { public_key: state.vapid.public_key().to_owned() })
}

/// Runs the caller's command and waits for the `notifications` read model
/// to reflect it: the next message already sees the new target or mute.
async fn execute(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    command: UserCommand,
) -> Result<(), ApiError> {
    let id = user.user_id.to_string();
    let notifications = [Projection::Notifications];
    execute_and_settle(
        state,
        &state.write.users,
        &id,
        command,
        &metadata(user, headers),
        &notifications,
        |_| (),
    )
    .await?;
    Ok(())
}

/// 404 unless `user` is a member of `room` (as the Room aggregate has it).
async fn require_member_now(state: &AppState, room: RoomId, user: &AuthUser) -> Result<(), ApiError> {
    let member = state.write.rooms.read(&room.to_string(), |r| r.is_member(user.user_id)).await?;
    if member { Ok(()) } else { Err(ApiError::not_found()) }
}

#[utoipa::path(put, path = "/v1/rooms/{id}/mute", tag = "notifications", security(("bearer" = [])),
    request_body = Option<MuteBody>, params(("id" = Uuid, Path, description = "room id")),
    responses((status = 200, body = MuteJson),
        (status = 404, description = "not_found: no such room, or not a member", body = ErrorBody),
        (status = 422, description = "invalid_value: `until` is not in the future", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn mute_room(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(room_id): ApiPath<RoomId>,
    OptionalJson(body): OptionalJson<MuteBody>,
) -> Result<Json<MuteJson>, ApiError> {
    require_member_now(&state, room_id, &user).await?;
    let until = body.and_then(|body| body.until);
    let command = UserCommand::MuteRoom { room_id, until, at: now() };
    execute(&state, &user, &headers, command).await?;
    Ok(Json(MuteJson { room_id, until }))
}

#[utoipa::path(delete, path = "/v1/rooms/{id}/mute", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id")),
    responses((status = 204, description = "the room's messages are pushed again"),
        (status = 404, description = "not_found: no such room, or not a member", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn unmute_room(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(room_id): ApiPath<RoomId>,
) -> Result<StatusCode, ApiError> {
    require_member_now(&state, room_id, &user).await?;
    let command = UserCommand::UnmuteRoom { room_id, at: now() };
    execute(&state, &user, &headers, command).await?;
    Ok(StatusCode::NO_CONTENT)
}
