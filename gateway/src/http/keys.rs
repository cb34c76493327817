//! The Signal key directory, per device: `PUT /v1/keys`, `POST
//! /v1/keys/one-time` and `GET /v1/keys/count` act on the caller's device;
//! `GET /v1/users/{id}/prekey-bundle` hands out one bundle per device of the
//! user, `GET /v1/users/{id}/devices/{device_id}/prekey-bundle` one device's.
//! Keys are opaque base64; every change is a User command, so a claimed
//! one-time prekey leaves the pool in the same commit that hands it out and
//! can never be handed out twice, however many fetches race.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::user::{OneTimePrekey, SignedPrekey, User, UserCommand, UserEvent};
use ciphertalk_domain::values::Base64Bytes;
use ciphertalk_domain::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser};
use super::shared::metadata;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", put(publish))
        .route("/v1/keys/one-time", post(add_one_time))
        .route("/v1/keys/count", get(count))
        .route("/v1/users/{id}/prekey-bundle", get(bundle))
        .route("/v1/users/{id}/devices/{device_id}/prekey-bundle", get(device_bundle))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedPrekeyJson {
    pub key_id: u32,
    /// base64
    #[schema(value_type = String, format = Byte)]
    pub public_key: Base64Bytes,
    /// base64: the identity key's signature over `public_key`.
    #[schema(value_type = String, format = Byte)]
    pub signature: Base64Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OneTimePrekeyJson {
    pub key_id: u32,
    /// base64
    #[schema(value_type = String, format = Byte)]
    pub public_key: Base64Bytes,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishKeysBody {
    /// base64
    #[schema(value_type = String, format = Byte)]
    pub identity_key: Base64Bytes,
    pub signed_prekey: SignedPrekeyJson,
    #[serde(default)]
    pub one_time_prekeys: Vec<OneTimePrekeyJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OneTimePrekeysBody {
    pub one_time_prekeys: Vec<OneTimePrekeyJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrekeyCount {
    pub one_time_prekeys: usize,
}

/// One device's bundle.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrekeyBundle {
    #[schema(value_type = Uuid)]
    pub device_id: DeviceId,
    #[schema(value_type = String, format = Byte)]
    pub identity_key: Base64Bytes,
    pub signed_prekey: SignedPrekeyJson,
    /// Absent when the device's pool is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_prekey: Option<OneTimePrekeyJson>,
}

/// One bundle per device of the user that has published keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrekeyBundles {
    pub devices: Vec<PrekeyBundle>,
}

impl From<SignedPrekeyJson> for SignedPrekey {
    fn from(key: SignedPrekeyJson) -> Self {
        Self { key_id: key.key_id, public_key: key.public_key, signature: key.signature }
    }
}

impl From<SignedPrekey> for SignedPrekeyJson {
    fn from(key: SignedPrekey) -> Self {
        Self { key_id: key.key_id, public_key: key.public_key, signature: key.signature }
    }
}

impl From<OneTimePrekeyJson> for OneTimePrekey {
    fn from(key: OneTimePrekeyJson) -> Self {
        Self { key_id: key.key_id, public_key: key.public_key }
    }
}

async fn execute(
    state: &AppState,
    user: AuthUser,
    headers: &HeaderMap,
    command: UserCommand,
) -> Result<StatusCode, ApiError> {
    let meta = metadata(&user, headers);
    state.write.users.execute(&user.user_id.to_string(), command, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/v1/keys", tag = "keys", security(("bearer" = [])), request_body = PublishKeysBody,
    responses((status = 204, description = "the bundle replaced the previous one, one-time pool included"),
        (status = 422, description = "invalid_value (bad base64, duplicate key_id, pool over its limit)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn publish(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PublishKeysBody>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::PublishKeys {
        device_id: user.device,
        identity_key: body.identity_key,
        signed_prekey: body.signed_prekey.into(),
        one_time_prekeys: body.one_time_prekeys.into_iter().map(Into::into).collect(),
        pool_limit: state.config.keys.one_time_pool_limit,
        at: now(),
    };
    execute(&state, user, &headers, command).await
}

#[utoipa::path(post, path = "/v1/keys/one-time", tag = "keys", security(("bearer" = [])),
    request_body = OneTimePrekeysBody,
    responses((status = 204), (status = 404, description = "keys_not_published", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn add_one_time(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OneTimePrekeysBody>,
) -> Result<StatusCode, ApiError> {
    let command = UserCommand::AddOneTimePrekeys {
        device_id: user.device,
        keys: body.one_time_prekeys.into_iter().map(Into::into).collect(),
        pool_limit: state.config.keys.one_time_pool_limit,
        at: now(),
    };
    execute(&state, user, &headers, command).await
}

#[utoipa::path(get, path = "/v1/keys/count", tag = "keys", security(("bearer" = [])),
    responses((status = 200, body = PrekeyCount)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn count(State(state): State<AppState>, user: AuthUser) -> Result<Json<PrekeyCount>, ApiError> {
    let id = user.user_id.to_string();
    let left = state.write.users.read(&id, |u| u.keys_of(user.device).one_time_prekeys.len()).await?;
    Ok(Json(PrekeyCount { one_time_prekeys: left }))
}

/// What a claim reads of one device: its id, identity key and signed prekey,
/// if it has published them.
fn published(user: &User, device_id: DeviceId) -> Option<(DeviceId, Base64Bytes, SignedPrekey)> {
    let keys = user.keys_of(device_id);
    Some((device_id, keys.identity_key.clone()?, keys.signed_prekey.clone()?))
}

/// The bundles of the devices `read`, each with the one-time prekey that this
/// command's own events took out of its pool.
fn bundles(
    read: Vec<(DeviceId, Base64Bytes, SignedPrekey)>,
    events: Vec<cqrs_es::EventEnvelope<User>>,
) -> Vec<PrekeyBundle> {
    let mut claimed: HashMap<DeviceId, OneTimePrekeyJson> = events
        .into_iter()
        .filter_map(|envelope| match envelope.payload {
            UserEvent::OneTimePrekeyClaimed { device_id, key_id, public_key, .. } => {
                Some((device_id, OneTimePrekeyJson { key_id, public_key }))
            }
            _ => None,
        })
        .collect();
    read.into_iter()
        .map(|(device_id, identity_key, signed_prekey)| PrekeyBundle {
            device_id,
            identity_key,
            signed_prekey: signed_prekey.into(),
            one_time_prekey: claimed.remove(&device_id),
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/users/{id}/prekey-bundle", tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = PrekeyBundles),
        (status = 404, description = "not_found or keys_not_published (no device has published)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn bundle(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(target): ApiPath<UserId>,
) -> Result<Json<PrekeyBundles>, ApiError> {
    let command = UserCommand::ClaimPrekeyBundles { claimed_by: user.user_id, at: now() };
    let meta = metadata(&user, &headers);
    let read = |target: &User| -> Vec<_> {
        target.devices().iter().filter_map(|device| published(target, device.device_id)).collect()
    };
    let executed = state.write.users.execute_and_read(&target.to_string(), command, &meta, read).await?;
    Ok(Json(PrekeyBundles { devices: bundles(executed.read, executed.events) }))
}

#[utoipa::path(get, path = "/v1/users/{id}/devices/{device_id}/prekey-bundle", tag = "keys",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id"), ("device_id" = Uuid, Path, description = "one of the user's devices")),
    responses((status = 200, body = PrekeyBundle),
        (status = 404, description = "not_found or keys_not_published (unknown device, or no keys)", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn device_bundle(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath((target, device_id)): ApiPath<(UserId, DeviceId)>,
) -> Result<Json<PrekeyBundle>, ApiError> {
    let command = UserCommand::ClaimOneTimePrekey { device_id, claimed_by: user.user_id, at: now() };
    let meta = metadata(&user, &headers);
    let read = |target: &User| published(target, device_id).into_iter().collect();
    let executed = state.write.users.execute_and_read(&target.to_string(), command, &meta, read).await?;
    bundles(executed.read, executed.events)
        .pop()
        .map(Json)
        .ok_or_else(|| ciphertalk_domain::DomainError::KeysNotPublished.into())
}
