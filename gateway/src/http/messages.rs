//! `/v1/rooms/{id}/messages` and receipts: send (idempotent per
//! `client_msg_id`, franked when a commitment comes along), page, edit,
//! delete for everyone or for me, and read/delivered receipts.
//!
//! Franking: the Room aggregate computes the reporting tag through its
//! `Franker` service (the gateway's `FrankingKey`) while it decides the send,
//! over the very seq it assigns. The tag therefore always binds the message's
//! real seq, with no retry loop, however many sends race for one room.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_commands::CommandError;
use ciphertalk_domain::clock::now;
use ciphertalk_domain::room::{
    DeleteScope, MessageRef, ReceiptKind, Room, RoomCommand, RoomEvent, RoomLookup,
};
use ciphertalk_domain::values::{Ciphertext, ClientMsgId, Commitment, ContentType};
use ciphertalk_domain::{FileId, MessageId, RoomId};
use ciphertalk_projections::Projection;
use ciphertalk_projections::client_event::sent_message;
use ciphertalk_projections::timeline::{self, Window};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, Limit, parse_cursor};
use super::shared::{
    admit_send, execute_room, metadata, require_member, require_settled_rooms, room_error, settle,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/rooms/{id}/messages", post(send).get(list))
        .route("/v1/rooms/{id}/messages/{message_id}", patch(edit).delete(delete))
        .route("/v1/rooms/{id}/receipts", post(receipt))
}

/// Points at a message in some room.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRefJson {
    pub room_id: Uuid,
    pub message_id: Uuid,
}

/// A message as API.md shows it. Tombstones (deleted for everyone) have no
/// `ciphertext`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageJson {
    pub id: Uuid,
    pub room_id: Uuid,
    pub seq: u64,
    pub sender_id: Uuid,
    pub client_msg_id: String,
    /// Standard base64; absent once deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Byte)]
    pub ciphertext: Option<String>,
    pub content_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Uuid>,
    pub file_ids: Vec<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded_from: Option<MessageRefJson>,
    pub sent_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Byte)]
    pub commitment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub franking_key_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Ascending `seq`.
    pub items: Vec<MessageJson>,
    /// The seq to pass as `before` (or `after`, when paging forwards) for the
    /// next page; `null` on the last.
    pub next: Option<String>,
}

fn ref_json(from: MessageRef) -> MessageRefJson {
    MessageRefJson { room_id: from.room_id.as_uuid(), message_id: from.message_id.as_uuid() }
}

impl MessageJson {
    fn from_view(message: timeline::Message) -> Self {
        Self {
            id: message.id.as_uuid(),
            room_id: message.room_id.as_uuid(),
            seq: message.seq,
            sender_id: message.sender_id.as_uuid(),
            client_msg_id: message.client_msg_id,
            ciphertext: message.ciphertext,
            content_type: message.content_type,
            reply_to: message.reply_to.map(|id| id.as_uuid()),
            file_ids: message.file_ids.iter().map(FileId::as_uuid).collect(),
            forwarded_from: message.forwarded_from.map(ref_json),
            sent_at: message.sent_at,
            edited_at: message.edited_at,
            deleted: message.deleted,
            commitment: message.commitment,
            reporting_tag: message.reporting_tag,
            franking_key_id: message.franking_key_id,
        }
    }
}

/// 413 over the configured ciphertext size (decoded bytes).
fn check_size(state: &AppState, ciphertext: &Ciphertext) -> Result<(), ApiError> {
    let max = state.config.messages.max_ciphertext_bytes;
    if ciphertext.decoded_len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the ciphertext is over {max} bytes"),
        ));
    }
    Ok(())
}

/// One message of a room from the read model.
async fn read_message(state: &AppState, room: RoomId, message: MessageId) -> Result<MessageJson, ApiError> {
    timeline::message(&state.db, room, message)
        .await?
        .map(MessageJson::from_view)
        // Committed but not yet in the read model after the bounded wait.
        .ok_or_else(|| ApiError::unavailable("the timeline", "the message is not projected yet"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The client's id for this message (1 to 64 printable ASCII); sending it again returns the same message.
    #[schema(value_type = String, pattern = "^[ -~]{1,64}$")]
    pub client_msg_id: ClientMsgId,
    /// Standard base64 of the encrypted payload.
    #[schema(value_type = String, format = Byte)]
    pub ciphertext: Ciphertext,
    /// A MIME type hint; default `application/octet-stream`.
    #[schema(value_type = Option<String>)]
    pub content_type: Option<ContentType>,
    pub reply_to: Option<Uuid>,
    #[serde(default)]
    pub file_ids: Vec<Uuid>,
    pub forwarded_from: Option<MessageRefJson>,
    /// Franking: base64 of 32 bytes (HMAC-SHA256 of the plaintext under a key inside the ciphertext).
    #[schema(value_type = Option<String>, format = Byte)]
    pub commitment: Option<Commitment>,
}

#[utoipa::path(post, path = "/v1/rooms/{id}/messages", tag = "messages", security(("bearer" = [])),
    request_body = SendBody, params(("id" = Uuid, Path, description = "room id")),
    responses((status = 201, body = MessageJson, description = "sent"),
        (status = 200, body = MessageJson, description = "this client_msg_id was sent before: the original"),
        (status = 403, description = "not_a_member, or blocked in a direct room", body = ErrorBody),
        (status = 404, description = "no such room, or reply_to / forwarded_from not found", body = ErrorBody),
        (status = 413, description = "too_large", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<(StatusCode, Json<MessageJson>), ApiError> {
    check_size(&state, &body.ciphertext)?;
    admit_send(&state).await;
    let forwarded_from = body.forwarded_from.map(|from| MessageRef {
        room_id: RoomId::from_uuid(from.room_id),
        message_id: MessageId::from_uuid(from.message_id),
    });
    if let Some(source) = forwarded_from {
        check_forward(&state, &user, source).await?;
    }
    let sender = user.user_id;
    let client_msg_id = body.client_msg_id.clone();
    let command = RoomCommand::SendMessage {
        message_id: MessageId::new_v7(),
        sender,
        client_msg_id: body.client_msg_id,
        ciphertext: body.ciphertext,
        content_type: body.content_type.unwrap_or_default(),
        reply_to: body.reply_to.map(MessageId::from_uuid),
        file_ids: body.file_ids.into_iter().map(FileId::from_uuid).collect(),
        forwarded_from,
        commitment: body.commitment,
        reporting_tag: None,
        franking_key_id: None,
        sent_at: now(),
    };
    let room_id = id.to_string();
    // Not `shared::execute_room`: a send answers at its commit, without waiting
    // for the read models (the room's own state tells a retry from a new send).
    let executed = match state
        .write
        .rooms
        .execute_and_read(&room_id, command, &metadata(&user, &headers), |room: &Room| {
            room.find_client_message(sender, &client_msg_id)
        })
        .await
    {
        Ok(executed) => executed,
        // Retried after the room's window forgot it: the store holds the original.
        Err(CommandError::Duplicate) => {
            let original = state
                .lookup()
                .client_message(id, sender, client_msg_id.as_str())
                .await?
                .ok_or_else(|| ApiError::internal("a repeated send has no original"))?;
            require_settled_rooms(&state, &[Projection::Timeline], &[id]).await?;
            return Ok((StatusCode::OK, Json(read_message(&state, id, original).await?)));
        }
        Err(err) => return Err(err.into()),
    };
    // Answered at the commit: reads of the room wait for it (`require_settled_rooms`).
    if let Some(sent) = executed
        .events
        .iter()
        .find_map(|envelope| sent_message(id, &envelope.payload))
        .map(MessageJson::from_view)
    {
        metrics::counter!("ciphertalk_message_sends_total").increment(1);
        return Ok((StatusCode::CREATED, Json(sent)));
    }
    // No event: a repeated client_msg_id. Answer with the original, as the timeline has it.
    let (original, _) = executed.read.ok_or_else(|| ApiError::internal("a send emitted nothing"))?;
    settle(&state, &[Projection::Timeline], &room_id, executed.sequence).await;
    Ok((StatusCode::OK, Json(read_message(&state, id, original).await?)))
}

/// A forward names a message the forwarder can see: they are a member of
/// its room and it exists there, not deleted. Otherwise 404, as for any
/// message one may not see.
async fn check_forward(state: &AppState, user: &AuthUser, source: MessageRef) -> Result<(), ApiError> {
    let not_found = || {
        ApiError::new(StatusCode::NOT_FOUND, "message_not_found", "the forwarded message does not exist")
            .with_details(serde_json::json!({"field": "forwarded_from"}))
    };
    let room = state.write.rooms.load(&source.room_id.to_string()).await?;
    if !room.aggregate.is_member(user.user_id) {
        return Err(not_found());
    }
    let facts = state.lookup().message(source.room_id, source.message_id).await?;
    match facts {
        Some(facts) if !facts.deleted => Ok(()),
        _ => Err(not_found()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The `limit` messages just below this seq (a cursor: the `next` of a page).
    #[param(value_type = Option<u64>)]
    pub before: Option<String>,
    /// The `limit` messages just above this seq.
    #[param(value_type = Option<u64>)]
    pub after: Option<String>,
    /// Default 50, 1 to 200.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Limit,
}

#[utoipa::path(get, path = "/v1/rooms/{id}/messages", tag = "messages", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id"), PageQuery),
    responses((status = 200, body = MessagePage, description = "ascending seq; without before/after the newest"),
        (status = 422, description = "invalid_cursor (before/after not a seq), invalid_value (both, or limit)", body = ErrorBody),
        (status = 404, description = "no such room, or not a member", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<MessagePage>, ApiError> {
    let window = match (query.before.as_deref(), query.after.as_deref()) {
        (Some(before), None) => Window::Before(parse_seq(before)?),
        (None, Some(after)) => Window::After(parse_seq(after)?),
        (None, None) => Window::Latest,
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                "give before or after, not both",
            ));
        }
    };
    // Membership is read from `rooms`: it must hold the room's events too.
    require_settled_rooms(&state, &[Projection::Timeline, Projection::Rooms], &[id]).await?;
    require_member(&state, id, user.user_id).await?;
    let page = timeline::page(&state.db, id, user.user_id, window, query.limit.get()).await?;
    Ok(Json(MessagePage {
        items: page.items.into_iter().map(MessageJson::from_view).collect(),
        next: page.next,
    }))
}

/// A seq from the query. Seqs are Postgres bigints: one past `i64::MAX`
/// (the document's int64 maximum) names no message, and is refused.
fn parse_seq(raw: &str) -> Result<u64, ApiError> {
    let seq: i64 = parse_cursor(raw)?;
    u64::try_from(seq).map_err(|_| ApiError::unknown_cursor())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    #[schema(value_type = String, format = Byte)]
    pub ciphertext: Ciphertext,
}

#[utoipa::path(patch, path = "/v1/rooms/{id}/messages/{message_id}", tag = "messages", security(("bearer" = [])),
    request_body = EditBody,
    params(("id" = Uuid, Path, description = "room id"), ("message_id" = Uuid, Path, description = "message id")),
    responses((status = 200, body = MessageJson, description = "edited"),
        (status = 403, description = "not the sender", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "edit_window_closed (48 h after sending)", body = ErrorBody),
        (status = 410, description = "the message was deleted", body = ErrorBody),
        (status = 413, description = "too_large", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id, message_id = %message))]
pub async fn edit(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath((id, message)): ApiPath<(RoomId, MessageId)>,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<MessageJson>, ApiError> {
    check_size(&state, &body.ciphertext)?;
    let command = RoomCommand::EditMessage {
        actor: user.user_id,
        message_id: message,
        ciphertext: body.ciphertext,
        at: now(),
    };
    let executed = execute_room(&state, &user, &headers, id, command, |_| ()).await.map_err(room_error)?;
    let mut json = read_message(&state, id, message).await?;
    // The edit as committed, even if the read model were late.
    for envelope in &executed.events {
        if let RoomEvent::MessageEdited { ciphertext, at, .. } = &envelope.payload {
            json.ciphertext = Some(ciphertext.as_str().to_owned());
            json.edited_at = Some(*at);
        }
    }
    Ok(Json(json))
}

/// For whom a message is deleted.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeleteFor {
    /// The sender or an admin: a tombstone for everyone.
    #[default]
    Everyone,
    /// Any member: hidden for the caller only.
    Me,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// `everyone` (default) or `me`.
    #[serde(rename = "for")]
    #[param(rename = "for", inline)]
    pub scope: Option<DeleteFor>,
}

#[utoipa::path(delete, path = "/v1/rooms/{id}/messages/{message_id}", tag = "messages", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id"), ("message_id" = Uuid, Path, description = "message id"), DeleteQuery),
    responses((status = 204, description = "deleted (or hidden for the caller)"),
        (status = 403, description = "for everyone: not the sender nor an admin", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id, message_id = %message))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath((id, message)): ApiPath<(RoomId, MessageId)>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let scope = match query.scope.unwrap_or_default() {
        DeleteFor::Everyone => DeleteScope::ForEveryone,
        DeleteFor::Me => DeleteScope::ForMe,
    };
    let command = RoomCommand::DeleteMessage { actor: user.user_id, message_id: message, scope, at: now() };
    execute_room(&state, &user, &headers, id, command, |_| ()).await.map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    pub up_to_seq: u64,
    /// `delivered` or `read` (read implies delivered).
    #[schema(schema_with = super::openapi::receipt_kind)]
    pub kind: ReceiptKind,
}

#[utoipa::path(post, path = "/v1/rooms/{id}/receipts", tag = "messages", security(("bearer" = [])),
    request_body = ReceiptBody, params(("id" = Uuid, Path, description = "room id")),
    responses((status = 204, description = "recorded (receipts never move backwards)"),
        (status = 404, body = ErrorBody),
        (status = 422, description = "up_to_seq beyond the last message", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn receipt(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<RoomId>,
    ApiJson(body): ApiJson<ReceiptBody>,
) -> Result<StatusCode, ApiError> {
    let command = RoomCommand::UpdateReceipt {
        user: user.user_id,
        up_to_seq: body.up_to_seq,
        kind: body.kind,
        at: now(),
    };
    execute_room(&state, &user, &headers, id, command, |_| ()).await.map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}
