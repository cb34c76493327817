//! `/v1/reports` and `/v1/rooms/{id}/reports`: members report messages, files and
//! users they can see, optionally proving a reported message's plaintext
//! (franking); reporters list their own reports, room owners and admins the
//! reports about their room. Reports are read from the event store (the
//! report aggregates' own events), so a report is listed as soon as it is filed.
//!
//! One user's reports of one target are one aggregate, `<reporter>_<kind>_<target>`
//! (a valid subject token, so its events reach CHAT_EVENTS),
//! so a repeated report collapses into the first however the two race.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ciphertalk_commands::CommandError;
use ciphertalk_domain::clock::now;
use ciphertalk_domain::ids::ReportId;
use ciphertalk_domain::report::{Report, ReportCommand, ReportStatus, ReportTarget, TargetKind};
use ciphertalk_domain::room::franking::FrankingInput;
use ciphertalk_domain::room::{Role, RoomEvent};
use ciphertalk_domain::values::{ReportEvidence, ReportReason};
use ciphertalk_domain::{DomainError, FileId, MessageId, RoomId, UserId};
use cqrs_es::Aggregate as _;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser, Limit, parse_cursor};
use super::shared::{metadata, require_registered};
use crate::realtime::alerts;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/reports", post(file_report).get(my_reports))
        .route("/v1/rooms/{id}/reports", get(room_reports))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetJson {
    /// `message`, `file` or `user`.
    #[schema(schema_with = super::openapi::target_kind)]
    pub kind: TargetKind,
    pub id: Uuid,
    /// The message's room; required for a message. A file's is its room
    /// as registered (a different one given here is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>)]
    pub room_id: Option<RoomId>,
}

/// Proof of a reported message's plaintext.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrankingJson {
    /// The decrypted message, base64.
    pub plaintext: String,
    /// The random key the sender committed with (from inside the ciphertext), base64.
    pub franking_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    pub target: TargetJson,
    /// 1 to 1000 characters.
    #[schema(value_type = String, min_length = 1)]
    pub reason: ReportReason,
    /// Opaque supporting text, stored as given: at most 10,000 characters.
    #[schema(value_type = Option<String>)]
    pub evidence: Option<ReportEvidence>,
    pub franking: Option<FrankingJson>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportJson {
    pub id: Uuid,
    pub target: TargetJson,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// `open`, `dismissed` or `actioned`.
    #[schema(schema_with = super::openapi::report_status)]
    pub status: ReportStatus,
    pub reporter_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// With a franking proof: whether it proved the sender sent that plaintext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ReportJson {
    /// The API form of a filed report; `None` for an aggregate never filed.
    pub fn of(report: &Report) -> Option<Self> {
        let info = report.info()?;
        let resolution = report.resolution();
        Some(Self {
            id: info.report_id.as_uuid(),
            target: TargetJson { kind: info.target.kind, id: info.target.id, room_id: info.target.room_id },
            reason: info.reason.to_string(),
            evidence: info.evidence.as_ref().map(ToString::to_string),
            status: report.status(),
            reporter_id: info.reporter.as_uuid(),
            created_at: info.created_at,
            verified: info.verified,
            resolved_at: resolution.map(|r| r.at),
            resolved_by: resolution.map(|r| r.moderator.as_uuid()),
            note: resolution.and_then(|r| r.note.as_ref()).map(ToString::to_string),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportPage {
    /// Newest first.
    pub items: Vec<ReportJson>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `open`, `dismissed` or `actioned`; all when absent.
    #[param(schema_with = super::openapi::report_status)]
    pub status: Option<ReportStatus>,
    /// Page size, default 50, 1 to 200.
    #[serde(default)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Limit,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// Whose reports a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Everyone,
    Reporter(UserId),
    Room(RoomId),
}

/// The report aggregate holding `reporter`'s report of `target`.
fn aggregate_id(reporter: UserId, target: &ReportTarget) -> String {
    let kind = match target.kind {
        TargetKind::Message => "message",
        TargetKind::File => "file",
        TargetKind::User => "user",
    };
    format!("{reporter}_{kind}_{}", target.id)
}

fn unprocessable(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

#[utoipa::path(post, path = "/v1/reports", tag = "moderation", security(("bearer" = [])), request_body = ReportBody,
    responses((status = 201, body = ReportJson), (status = 200, description = "the caller reported this target before: that report", body = ReportJson),
        (status = 404, description = "no such message or file in a room of the caller's, or no such user", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn file_report(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<(StatusCode, Json<ReportJson>), ApiError> {
    let mut target =
        ReportTarget { kind: body.target.kind, id: body.target.id, room_id: body.target.room_id };
    let verified = match target.kind {
        TargetKind::File => {
            if body.franking.is_some() {
                return Err(unprocessable("invalid_value", "franking: only a message can be franked"));
            }
            let room = super::files::room_of(&state, FileId::from_uuid(target.id)).await?;
            if target.room_id.is_some_and(|given| given != room)
                || !state.write.rooms.read(&room.to_string(), |r| r.is_member(user.user_id)).await?
            {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "file_not_found", "no such file"));
            }
            // Room moderators see and resolve the reports of their room's files.
            target.room_id = Some(room);
            None
        }
        TargetKind::User => {
            if body.franking.is_some() {
                return Err(unprocessable("invalid_value", "franking: only a message can be franked"));
            }
            require_registered(&state, &[UserId::from_uuid(target.id)], "no such user").await?;
            None
        }
        TargetKind::Message => {
            let room = target
                .room_id
                .ok_or_else(|| unprocessable("invalid_value", "target.room_id: is required for a message"))?;
            let message = MessageId::from_uuid(target.id);
            let reporter = user.user_id;
            if !state.write.rooms.read(&room.to_string(), |r| r.is_member(reporter)).await? {
                return Err(ApiError::not_found());
            }
            let sent = sent_message(&state.db, room, message).await?.ok_or_else(ApiError::not_found)?;
            match &body.franking {
                None => None,
                Some(proof) => Some(verify(&state, room, &sent, reporter, proof).await?),
            }
        }
    };
    let report_id = ReportId::new_v7();
    let id = aggregate_id(user.user_id, &target);
    let command = ReportCommand::FileReport {
        report_id,
        reporter: user.user_id,
        target,
        reason: body.reason,
        evidence: body.evidence,
        verified,
        at: now(),
    };
    let metadata = metadata(&user, &headers);
    let (status, report) =
        match state.write.reports.execute_and_read(&id, command, &metadata, Clone::clone).await {
            Ok(executed) => (StatusCode::CREATED, executed.read),
            Err(CommandError::Rejected(DomainError::AlreadyExists)) => {
                (StatusCode::OK, state.write.reports.read(&id, Clone::clone).await?)
            }
            Err(other) => return Err(other.into()),
        };
    let json = ReportJson::of(&report).ok_or_else(|| ApiError::internal("a filed report has no info"))?;
    if status == StatusCode::CREATED {
        let moderators = moderators_of(&state, target.room_id).await?;
        alerts::report_created(&state.nats, &moderators, &json).await;
    }
    Ok((status, Json(json)))
}

/// Who is told of a new report: the instance admins and, for a room's
/// content, the room's owner and admins (each once), as committed now.
async fn moderators_of(state: &AppState, room: Option<RoomId>) -> Result<Vec<UserId>, ApiError> {
    let mut moderators: Vec<UserId> = instance_admins(&state.db).await?;
    if let Some(room) = room {
        let room_moderators = state
            .write
            .rooms
            .read(&room.to_string(), |r| {
                r.members()
                    .iter()
                    .filter(|(_, member)| member.role.is_admin_or_owner())
                    .map(|(user, _)| *user)
                    .collect::<Vec<_>>()
            })
            .await?;
        moderators.extend(room_moderators);
    }
    moderators.sort_unstable();
    moderators.dedup();
    Ok(moderators)
}

/// The instance admins now: users whose latest role event is a grant, from
/// the event store (the write side's record; no read model lags behind it).
pub async fn instance_admins(pool: &PgPool) -> Result<Vec<UserId>, ApiError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM (
             SELECT DISTINCT ON (aggregate_id) aggregate_id, event_type FROM events
              WHERE aggregate_type = 'user' AND event_type IN ('AdminGranted', 'AdminRevoked')
              ORDER BY aggregate_id, sequence DESC) latest
          WHERE event_type = 'AdminGranted'",
    )
    .fetch_all(pool)
    .await?;
    ids.iter().map(|id| id.parse().map_err(ApiError::internal)).collect()
}

#[utoipa::path(get, path = "/v1/reports", tag = "moderation", security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "the caller's reports and their status", body = ReportPage)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn my_reports(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    Ok(Json(list(&state.db, Scope::Reporter(user.user_id), &query).await?))
}

#[utoipa::path(get, path = "/v1/rooms/{id}/reports", tag = "moderation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "room id"), ReportQuery),
    responses((status = 200, description = "reports about this room's content (room owner and admins, instance admins)", body = ReportPage),
        (status = 403, description = "a member, not the owner or an admin of the room", body = ErrorBody),
        (status = 404, description = "not a member of the room", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, room_id = %id))]
pub async fn room_reports(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<RoomId>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    if !user.is_admin {
        require_room_moderator(&state, id, user.user_id).await?;
    }
    Ok(Json(list(&state.db, Scope::Room(id), &query).await?))
}

/// 404 unless `user` is a member of `room` (as committed now), 403 unless
/// they are its owner or one of its admins.
pub async fn require_room_moderator(state: &AppState, room: RoomId, user: UserId) -> Result<(), ApiError> {
    match state.write.rooms.read(&room.to_string(), |r| r.role_of(user)).await? {
        None => Err(ApiError::not_found()),
        Some(Role::Owner | Role::Admin) => Ok(()),
        Some(Role::Member) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the room's owner and admins see its reports",
        )),
    }
}

/// One page of reports in `scope`, newest first, from the event store.
pub async fn list(pool: &PgPool, scope: Scope, query: &ReportQuery) -> Result<ReportPage, ApiError> {
    let before: Option<Uuid> = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let (reporter, room) = match scope {
        Scope::Everyone => (None, None),
        Scope::Reporter(user) => (Some(user.to_string()), None),
        Scope::Room(room) => (None, Some(room.to_string())),
    };
    let status = query.status.map(|status| match status {
        ReportStatus::Open => "open",
        ReportStatus::Dismissed => "dismissed",
        ReportStatus::Actioned => "actioned",
    });
    let limit = query.limit.get();
    let rows: Vec<(serde_json::Value, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT f.payload::jsonb, r.payload::jsonb FROM events f
           LEFT JOIN events r ON r.aggregate_type = 'report' AND r.aggregate_id = f.aggregate_id
                             AND r.event_type = 'ReportResolved'
          WHERE f.aggregate_type = 'report' AND f.event_type = 'ReportFiled'
            AND ($1::text IS NULL OR f.payload -> 'ReportFiled' ->> 'reporter' = $1)
            AND ($2::text IS NULL OR f.payload -> 'ReportFiled' -> 'target' ->> 'room_id' = $2)
            AND ($3::text IS NULL OR $3 = CASE WHEN r.payload IS NULL THEN 'open'
                     WHEN r.payload -> 'ReportResolved' ->> 'action' = 'dismiss' THEN 'dismissed'
                     ELSE 'actioned' END)
            AND ($4::text IS NULL OR f.payload -> 'ReportFiled' ->> 'report_id' < $4)
          ORDER BY f.payload -> 'ReportFiled' ->> 'report_id' DESC
          LIMIT $5",
    )
    .bind(reporter)
    .bind(room)
    .bind(status)
    .bind(before.map(|id| id.to_string()))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for (filed, resolved) in rows {
        let report = fold(std::iter::once(filed).chain(resolved))?;
        items.extend(ReportJson::of(&report));
    }
    let next = (items.len() > query.limit.as_usize()).then(|| {
        items.truncate(query.limit.as_usize());
        items.last().map(|last| last.id.to_string())
    });
    Ok(ReportPage { items, next: next.flatten() })
}

/// A report from its stored events.
fn fold(payloads: impl Iterator<Item = serde_json::Value>) -> Result<Report, ApiError> {
    let mut report = Report::default();
    for payload in payloads {
        report.apply(serde_json::from_value(payload).map_err(ApiError::internal)?);
    }
    Ok(report)
}

/// The aggregate id of the report `report_id`, if it was filed.
pub async fn aggregate_of(pool: &PgPool, report_id: ReportId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT aggregate_id FROM events
          WHERE aggregate_type = 'report' AND event_type = 'ReportFiled'
            AND payload -> 'ReportFiled' ->> 'report_id' = $1",
    )
    .bind(report_id.to_string())
    .fetch_optional(pool)
    .await
}

/// A message as its `MessageSent` stored it, with the event's place in its room.
#[derive(Debug)]
pub struct SentMessage {
    pub message_id: MessageId,
    pub sender_id: UserId,
    pub seq: u64,
    pub sent_at: DateTime<Utc>,
    pub commitment: Option<ciphertalk_domain::values::Commitment>,
    pub reporting_tag: Option<ciphertalk_domain::values::Base64Bytes>,
    pub franking_key_id: Option<ciphertalk_domain::values::FrankingKeyId>,
    /// The room aggregate's sequence number of the `MessageSent` event.
    pub event_sequence: i64,
}

/// The room of message `message`, from its `MessageSent`.
pub async fn room_of_message(pool: &PgPool, message: MessageId) -> Result<Option<RoomId>, ApiError> {
    let room: Option<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events
          WHERE aggregate_type = 'room' AND event_type = 'MessageSent'
            AND payload -> 'MessageSent' ->> 'message_id' = $1",
    )
    .bind(message.to_string())
    .fetch_optional(pool)
    .await?;
    room.map(|id| id.parse().map_err(ApiError::internal)).transpose()
}

/// `message` as sent in `room`, from the event store.
pub async fn sent_message(
    pool: &PgPool,
    room: RoomId,
    message: MessageId,
) -> Result<Option<SentMessage>, ApiError> {
    let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT sequence, payload::jsonb FROM events
          WHERE aggregate_type = 'room' AND aggregate_id = $1 AND event_type = 'MessageSent'
            AND (payload -> event_type ->> 'message_id') = $2",
    )
    .bind(room.to_string())
    .bind(message.to_string())
    .fetch_optional(pool)
    .await?;
    let Some((event_sequence, payload)) = row else { return Ok(None) };
    match serde_json::from_value(payload).map_err(ApiError::internal)? {
        RoomEvent::MessageSent {
            message_id,
            sender_id,
            seq,
            sent_at,
            commitment,
            reporting_tag,
            franking_key_id,
            ..
        } => Ok(Some(SentMessage {
            message_id,
            sender_id,
            seq,
            sent_at,
            commitment,
            reporting_tag,
            franking_key_id,
            event_sequence,
        })),
        _ => Ok(None),
    }
}

/// Whether `user` was a member of `room` just before its event `sequence`,
/// from the room's membership events.
async fn was_member_before(
    pool: &PgPool,
    room: RoomId,
    user: UserId,
    sequence: i64,
) -> Result<bool, ApiError> {
    let payloads: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload::jsonb FROM events
          WHERE aggregate_type = 'room' AND aggregate_id = $1 AND sequence < $2
            AND event_type IN ('RoomCreated', 'MemberJoined', 'MemberLeft')
          ORDER BY sequence",
    )
    .bind(room.to_string())
    .bind(sequence)
    .fetch_all(pool)
    .await?;
    let mut member = false;
    for payload in payloads {
        match serde_json::from_value(payload).map_err(ApiError::internal)? {
            RoomEvent::RoomCreated { creator, members, .. } => {
                member = creator == user || members.contains(&user);
            }
            RoomEvent::MemberJoined { user: joined, .. } if joined == user => member = true,
            RoomEvent::MemberLeft { user: left, .. } if left == user => member = false,
            _ => {}
        }
    }
    Ok(member)
}

/// The franking check: `true` only when the plaintext and key give the
/// stored commitment, the stored reporting tag is the server's tag over that
/// commitment and the message's metadata under the key it names, and the
/// reporter was a member when the message was sent (else they cannot have
/// received it). Both comparisons are constant-time HMAC verifications.
async fn verify(
    state: &AppState,
    room: RoomId,
    sent: &SentMessage,
    reporter: UserId,
    proof: &FrankingJson,
) -> Result<bool, ApiError> {
    let max = state.config.messages.max_ciphertext_bytes;
    let decode = |field: &'static str, raw: &str| {
        let bytes = STANDARD.decode(raw).map_err(|_| {
            unprocessable("invalid_value", &format!("franking.{field}: must be standard base64"))
        })?;
        if bytes.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "franking.plaintext is too large",
            ));
        }
        Ok(bytes)
    };
    let plaintext = decode("plaintext", &proof.plaintext)?;
    let franking_key = decode("franking_key", &proof.franking_key)?;
    let (Some(commitment), Some(tag), Some(key_id)) =
        (&sent.commitment, &sent.reporting_tag, &sent.franking_key_id)
    else {
        return Ok(false);
    };
    let Some(server_key) = state.franking.by_id(key_id) else {
        tracing::warn!(
            key_id = key_id.as_str(),
            "a reported message names a franking key this server no longer has"
        );
        return Ok(false);
    };
    let committed = crate::franking::verify_hmac(&franking_key, &plaintext, &commitment.to_bytes());
    let encoded = FrankingInput {
        message_id: sent.message_id,
        room_id: room,
        sender_id: sent.sender_id,
        seq: sent.seq,
        sent_at: sent.sent_at,
        franking_key_id: key_id,
        commitment,
    }
    .encode();
    let tagged = server_key.verify(&encoded, &tag.to_bytes());
    Ok(committed && tagged && was_member_before(&state.db, room, reporter, sent.event_sequence).await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_report_aggregate_id_is_a_subject_token() {
        // The relay publishes each event on a subject naming its aggregate.
        let reporter = UserId::new_v7();
        for kind in [TargetKind::Message, TargetKind::File, TargetKind::User] {
            let target = ReportTarget { kind, id: Uuid::now_v7(), room_id: Some(RoomId::new_v7()) };
            let id = aggregate_id(reporter, &target);
            assert!(ciphertalk_streams::subjects::event("report", &id, "ReportFiled").is_ok(), "{id}");
        }
    }
}
