//! `POST /v1/to-device`: a batch of ciphertexts for other devices (pairwise
//! session set-up, group-key distribution, verification), each delivered to
//! its one device, in batch order, by the delivery projection.
//!
//! Authorised here, before anything is stored: every target is the sender,
//! someone they share a room with, or one of their contacts; otherwise 403
//! and nothing is sent. Idempotent per sending device and `batch_id`: the
//! event store refuses a repeated batch, which is answered like the first.
//! A message to a device the target does not have (never had, or removed) is
//! accepted and reaches nobody: checking would cost a read of every target,
//! and a client's view of someone's devices may lag by a moment anyway.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use ciphertalk_commands::CommandError;
use ciphertalk_domain::clock::now;
use ciphertalk_domain::to_device::{BatchId, ToDeviceBatch, ToDeviceCommand, ToDeviceKind, ToDeviceMessage};
use ciphertalk_domain::values::Ciphertext;
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_projections::{Projection, delivery, rooms};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, AuthUser};
use super::shared::{metadata, settle_rooms};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/to-device", post(send_to_device))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToDeviceBody {
    /// The client's id for this batch (1 to 64 printable ASCII); sending it
    /// again from the same device delivers nothing twice.
    #[schema(value_type = String, pattern = "^[ -~]{1,64}$")]
    pub batch_id: BatchId,
    /// 1 to `keys.to_device_max_messages` (default 500), in the order each
    /// target device receives them.
    pub messages: Vec<ToDeviceMessageJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToDeviceMessageJson {
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = Uuid)]
    pub device_id: DeviceId,
    /// What it is for, as clients agree (1 to 64 of `A-Z a-z 0-9 . _ : / -`).
    #[schema(value_type = String, pattern = "^[A-Za-z0-9._:/-]{1,64}$")]
    pub kind: ToDeviceKind,
    /// Standard base64 of the encrypted payload.
    #[schema(value_type = String, format = Byte)]
    pub ciphertext: Ciphertext,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The batch's messages (those to users who blocked the sender are
    /// dropped silently, and counted).
    pub accepted: usize,
}

#[utoipa::path(post, path = "/v1/to-device", tag = "devices", security(("bearer" = [])),
    request_body = ToDeviceBody,
    responses((status = 202, body = Accepted, description = "stored; each message goes to its device (also when this batch_id was sent before: nothing is sent twice)"),
        (status = 403, description = "not_allowed: a target neither shares a room with me nor is my contact; nothing was sent", body = ErrorBody),
        (status = 413, description = "too_large: too many messages or ciphertext bytes", body = ErrorBody),
        (status = 422, description = "invalid_value: no messages, or a bad batch_id, kind or ciphertext", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, messages = body.messages.len()))]
pub async fn send_to_device(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ToDeviceBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let messages = body
        .messages
        .into_iter()
        .map(|m| ToDeviceMessage {
            user_id: m.user_id,
            device_id: m.device_id,
            kind: m.kind,
            ciphertext: m.ciphertext,
        })
        .collect();
    let batch = ToDeviceBatch::parse(body.batch_id, messages, &state.config.keys.to_device_limits())?;
    let reachable = reachable(&state, user.user_id, &batch.recipients()).await?;
    batch.authorise(user.user_id, |target| reachable.contains(&target))?;
    let accepted = Accepted { accepted: batch.messages().len() };
    let command =
        ToDeviceCommand::SendToDevice { from_user: user.user_id, from_device: user.device, batch, at: now() };
    let outbox = user.device.to_string();
    match state.write.outboxes.execute(&outbox, command, &metadata(&user, &headers)).await {
        Ok(_) | Err(CommandError::Duplicate) => Ok((StatusCode::ACCEPTED, Json(accepted))),
        Err(err) => Err(err.into()),
    }
}

/// Those of `targets` that `sender` may reach: their contacts (from the User
/// aggregate, as committed) and those sharing a room with them (from the
/// delivery projection's members). When some target is not reachable, the
/// projection may only be behind the sender's own writes (a room just
/// joined): it is waited for, bounded, on every room the sender is in, and
/// asked again, so a client that joins and at once distributes keys is not
/// refused.
async fn reachable(
    state: &AppState,
    sender: UserId,
    targets: &BTreeSet<UserId>,
) -> Result<BTreeSet<UserId>, ApiError> {
    let others: Vec<UserId> = targets.iter().copied().filter(|target| *target != sender).collect();
    if others.is_empty() {
        return Ok(BTreeSet::new());
    }
    let contacts = state.write.users.read(&sender.to_string(), |u| u.contacts().clone()).await?;
    let mut reachable: BTreeSet<UserId> = others.iter().copied().filter(|o| contacts.contains(o)).collect();
    let rest: Vec<UserId> = others.iter().copied().filter(|o| !reachable.contains(o)).collect();
    if rest.is_empty() {
        return Ok(reachable);
    }
    let mut sharing = delivery::sharing_a_room(&state.db, sender, &rest).await?;
    if sharing.len() < rest.len() {
        let rooms = rooms::room_ids_of(&state.db, sender).await?;
        settle_rooms(state, &[Projection::Delivery], &rooms).await;
        sharing = delivery::sharing_a_room(&state.db, sender, &rest).await?;
    }
    reachable.extend(sharing);
    Ok(reachable)
}
