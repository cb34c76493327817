//! `/v1/devices`: the caller's devices (list, rename, remove), and
//! `GET /v1/users/{id}/devices`, the devices of a user the caller shares a
//! room with or has as a contact. Removing a
//! device ends its sessions at once: its refresh families are revoked, its
//! WebSockets on every gateway close, and its access tokens are refused by
//! [`AuthUser`], which checks the device on every request.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::user::{Device, DeviceName, User, UserCommand};
use ciphertalk_domain::values::Base64Bytes;
use ciphertalk_domain::{DeviceId, RoomId, UserId};
use ciphertalk_projections::{contacts, rooms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser};
use super::shared::metadata;
use crate::realtime::cursor;
use crate::realtime::sessions::{self, Ending};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices", get(list_devices))
        .route("/v1/devices/{device_id}", patch(rename_device).delete(remove_device))
        .route("/v1/users/{id}/devices", get(user_devices))
}

/// One of the caller's devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceJson {
    #[schema(value_type = Uuid)]
    pub device_id: DeviceId,
    #[schema(value_type = Option<String>)]
    pub name: Option<DeviceName>,
    pub created_at: DateTime<Utc>,
    /// When the device's sessions last got a refresh token (a login or a
    /// refresh); null when none is kept (a device that never logged in, or
    /// whose tokens expired and were swept).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Whether this is the device of the request's session.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub items: Vec<DeviceJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DevicePatch {
    /// 1 to 64 characters.
    pub name: String,
}

fn device_json(
    device: &Device,
    last_seen: &HashMap<DeviceId, DateTime<Utc>>,
    caller: &AuthUser,
) -> DeviceJson {
    DeviceJson {
        device_id: device.device_id,
        name: device.name.clone(),
        created_at: device.created_at,
        last_seen_at: last_seen.get(&device.device_id).copied(),
        current: device.device_id == caller.device,
    }
}

async fn last_seen(state: &AppState, user_id: UserId) -> Result<HashMap<DeviceId, DateTime<Utc>>, ApiError> {
    Ok(state.auth.refresh.last_seen(user_id).await?.into_iter().collect())
}

#[utoipa::path(get, path = "/v1/devices", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = DeviceList), (status = 401, description = "unauthenticated", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn list_devices(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<DeviceList>, ApiError> {
    let devices: Vec<Device> =
        state.write.users.read(&user.user_id.to_string(), |u| u.devices().iter().cloned().collect()).await?;
    let last_seen = last_seen(&state, user.user_id).await?;
    let items = devices.iter().map(|device| device_json(device, &last_seen, &user)).collect();
    Ok(Json(DeviceList { items }))
}

#[utoipa::path(patch, path = "/v1/devices/{device_id}", tag = "devices", security(("bearer" = [])),
    request_body = DevicePatch, params(("device_id" = Uuid, Path, description = "one of my devices")),
    responses((status = 200, body = DeviceJson),
        (status = 404, description = "device_not_found: not one of my devices", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn rename_device(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(device_id): ApiPath<DeviceId>,
    ApiJson(body): ApiJson<DevicePatch>,
) -> Result<Json<DeviceJson>, ApiError> {
    let name = DeviceName::parse(&body.name)?;
    let command = UserCommand::RenameDevice { device_id, name, at: now() };
    let read = |u: &User| u.devices().get(device_id).cloned();
    let executed = state
        .write
        .users
        .execute_and_read(&user.user_id.to_string(), command, &metadata(&user, &headers), read)
        .await?;
    let device = executed.read.ok_or_else(ApiError::not_found)?;
    Ok(Json(device_json(&device, &last_seen(&state, user.user_id).await?, &user)))
}

#[utoipa::path(delete, path = "/v1/devices/{device_id}", tag = "devices", security(("bearer" = [])),
    params(("device_id" = Uuid, Path, description = "one of my devices")),
    responses((status = 204, description = "removed with its keys; its sessions ended"),
        (status = 404, description = "device_not_found: not one of my devices", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn remove_device(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(device_id): ApiPath<DeviceId>,
) -> Result<StatusCode, ApiError> {
    remove(&state, &user, &headers, device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A device of another user, as their contacts and co-members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeviceJson {
    #[schema(value_type = Uuid)]
    pub device_id: DeviceId,
    /// base64; null until the device publishes keys.
    #[schema(value_type = Option<String>, format = Byte)]
    pub identity_key: Option<Base64Bytes>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeviceList {
    pub items: Vec<UserDeviceJson>,
}

/// Whether `me` may see `other`'s devices: themselves, a contact, or someone
/// they share a room with.
async fn may_see_devices(state: &AppState, me: UserId, other: UserId) -> Result<bool, ApiError> {
    if me == other || contacts::is_contact(&state.db, me, other).await? {
        return Ok(true);
    }
    let mine: HashSet<RoomId> = rooms::room_ids_of(&state.db, me).await?.into_iter().collect();
    Ok(rooms::room_ids_of(&state.db, other).await?.iter().any(|room| mine.contains(room)))
}

#[utoipa::path(get, path = "/v1/users/{id}/devices", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = UserDeviceList),
        (status = 404, description = "not_found: no such user, or one who is neither my contact nor in a room with me", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn user_devices(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(other): ApiPath<UserId>,
) -> Result<Json<UserDeviceList>, ApiError> {
    if !may_see_devices(&state, user.user_id, other).await? {
        return Err(ApiError::not_found());
    }
    let items = state
        .write
        .users
        .read(&other.to_string(), |u| {
            u.devices()
                .iter()
                .map(|device| UserDeviceJson {
                    device_id: device.device_id,
                    identity_key: device.keys.identity_key.clone(),
                    created_at: device.created_at,
                })
                .collect()
        })
        .await?;
    Ok(Json(UserDeviceList { items }))
}

/// Removes the caller's `device_id` (with its keys), then ends its sessions:
/// its refresh families are revoked and their WebSockets closed everywhere.
pub(super) async fn remove(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    device_id: DeviceId,
) -> Result<(), ApiError> {
    let command = UserCommand::RemoveDevice { device_id, at: now() };
    state.write.users.execute(&user.user_id.to_string(), command, &metadata(user, headers)).await?;
    for family in state.auth.refresh.revoke_device(user.user_id, device_id).await? {
        sessions::end(&state.nats, user.user_id, Ending::Session(family)).await;
    }
    cursor::forget(&state.db, user.user_id, device_id).await?;
    tracing::info!(%device_id, "device removed");
    Ok(())
}
