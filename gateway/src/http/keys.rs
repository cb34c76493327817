//! The Signal key directory: `PUT /v1/keys`, `POST /v1/keys/one-time`,
//! `GET /v1/keys/count` and `GET /v1/users/{id}/prekey-bundle`. Keys are
//! opaque base64; every change is a User command, so a claimed one-time
//! prekey leaves the pool in the same commit that hands it out and can never
//! be handed out twice, however many fetches race.

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
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedPrekeyJson {
    pub key_id: u32,
    /// base64
    #[schema(value_type = String)]
    pub public_key: Base64Bytes,
    /// base64: the identity key's signature over `public_key`.
    #[schema(value_type = String)]
    pub signature: Base64Bytes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OneTimePrekeyJson {
    pub key_id: u32,
    /// base64
    #[schema(value_type = String)]
    pub public_key: Base64Bytes,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishKeysBody {
    /// base64
    #[schema(value_type = String)]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct PrekeyBundle {
    #[schema(value_type = String)]
    pub identity_key: Base64Bytes,
    pub signed_prekey: SignedPrekeyJson,
    /// Absent when the user's pool is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_prekey: Option<OneTimePrekeyJson>,
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
        device_id: DeviceId::first_of(user.user_id),
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
        device_id: DeviceId::first_of(user.user_id),
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
    let loaded = state.write.users.load(&user.user_id.to_string()).await?;
    Ok(Json(PrekeyCount {
        one_time_prekeys: loaded.aggregate.keys_of(DeviceId::first_of(user.user_id)).one_time_prekeys.len(),
    }))
}

#[utoipa::path(get, path = "/v1/users/{id}/prekey-bundle", tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = PrekeyBundle),
        (status = 404, description = "not_found or keys_not_published", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn bundle(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(target): ApiPath<UserId>,
) -> Result<Json<PrekeyBundle>, ApiError> {
    let device_id = DeviceId::first_of(target);
    let command = UserCommand::ClaimOneTimePrekey { device_id, claimed_by: user.user_id, at: now() };
    let meta = metadata(&user, &headers);
    let executed = state
        .write
        .users
        .execute_and_read(&target.to_string(), command, &meta, |target: &User| {
            (target.keys_of(device_id).identity_key.clone(), target.keys_of(device_id).signed_prekey.clone())
        })
        .await?;
    let (Some(identity_key), Some(signed_prekey)) = executed.read else {
        return Err(ciphertalk_domain::DomainError::KeysNotPublished.into());
    };
    // The key is the one this command's own event took out of the pool.
    let one_time_prekey = executed.events.into_iter().find_map(|envelope| match envelope.payload {
        UserEvent::OneTimePrekeyClaimed { key_id, public_key, .. } => {
            Some(OneTimePrekeyJson { key_id, public_key })
        }
        _ => None,
    });
    Ok(Json(PrekeyBundle { identity_key, signed_prekey: signed_prekey.into(), one_time_prekey }))
}
