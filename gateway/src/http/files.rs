//! `/v1/files`: encrypted files uploaded chunk by chunk to signed URLs, each
//! chunk downloadable (with `Range`) as soon as it is stored. Who may do what
//! is read from the aggregates as committed (the file, its room), never from
//! a read model that may lag; a caller who is not a member of the file's room
//! gets 404 on every route. The chunk URLs need no session: their signature
//! is the permission. With `files.s3_uploads = "presigned"` a chunk is PUT
//! straight to the S3 bucket and then confirmed (`POST .../chunks/{index}`):
//! the gateway finds the object, checks its size and records it as it
//! records a chunk PUT to its own URL ([`record_chunk`], one path for both).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use ciphertalk_commands::CommandError;
use ciphertalk_domain::clock::now;
use ciphertalk_domain::file::{ChunkDigest, File, FileCommand, FileInfo, FileStatus};
use ciphertalk_domain::room::Role;
use ciphertalk_domain::values::{Base64Bytes, ContentType};
use ciphertalk_domain::{DomainError, FileId, RoomId, UserId};
use object_store::{GetOptions, GetRange, ObjectStoreExt as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use super::shared::metadata;
use crate::state::AppState;
use crate::storage::receive::{ReceiveError, receive};
use crate::storage::signed_url::{SignedQuery, UrlMethod};
use crate::storage::{CHECKSUM_HEADER, UploadTarget, layout};

/// The routes a session calls.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/files", post(create))
        .route("/v1/files/{id}", get(show).delete(delete))
        .route("/v1/files/{id}/upload-urls", post(upload_urls))
        .route("/v1/files/{id}/complete", post(complete))
        // The confirmation of a chunk PUT to the bucket: a session's write,
        // rate-limited as one; the signed chunk URLs share its path.
        .route("/v1/files/{id}/chunks/{index}", post(confirm_chunk))
}

/// The signed chunk URLs: merged outside the request body limit, since a
/// chunk is streamed to the store and bounded by its own declared size.
pub fn chunk_router() -> Router<AppState> {
    Router::new().route("/v1/files/{id}/chunks/{index}", get(download_chunk).put(upload_chunk))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFile {
    #[schema(value_type = Uuid)]
    pub room_id: RoomId,
    /// Bytes of the whole encrypted file.
    pub size: u64,
    pub chunk_size: u64,
    /// `ceil(size / chunk_size)`.
    pub chunk_count: u32,
    pub content_type: Option<String>,
    /// The file key wrapped for each recipient (members of the room), opaque base64.
    #[schema(value_type = Object)]
    pub wrapped_keys: BTreeMap<UserId, String>,
    /// Seconds until the file is deleted; under a configured maximum life it defaults to it.
    pub expires_in: Option<u64>,
    /// The SHA-256 of each encrypted chunk, base64: a chunk that does not
    /// match is refused. Required when uploads are presigned PUTs to S3 (it
    /// is what the store checks the bytes against).
    pub chunk_sha256: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadUrl {
    pub index: u32,
    /// PUT the chunk's bytes to it: relative to the API's base URL (a gateway
    /// URL, the chunk is stored when the PUT answers), or an absolute
    /// presigned URL of the S3 store (then send `upload_headers` and call `confirm_url`).
    pub upload_url: String,
    /// Headers the PUT must carry as given (presigned: `x-amz-checksum-sha256`, signed).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub upload_headers: BTreeMap<String, String>,
    /// Presigned only: POST here (with the session, no body) once the PUT
    /// answered; the chunk is stored and announced when this answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadUrls {
    #[schema(value_type = Uuid)]
    pub file_id: FileId,
    pub chunks: Vec<UploadUrl>,
    /// When these URLs stop working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredChunk {
    pub index: u32,
    pub size: u64,
    /// Relative to the API's base URL (the local store), or an absolute
    /// presigned URL of the S3 store; answers `Range` requests.
    pub download_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileJson {
    #[schema(value_type = Uuid)]
    pub file_id: FileId,
    #[schema(value_type = Uuid)]
    pub room_id: RoomId,
    #[schema(value_type = Uuid)]
    pub uploader_id: UserId,
    pub size: u64,
    pub chunk_size: u64,
    pub chunk_count: u32,
    pub content_type: String,
    pub completed: bool,
    /// The file key wrapped for the caller; null when they are no recipient.
    pub wrapped_key: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The chunks stored so far.
    pub chunks: Vec<StoredChunk>,
    /// When the download URLs stop working.
    pub urls_expire_at: DateTime<Utc>,
}

/// What a stored chunk PUT (or confirmation) answers, the same each time the same bytes come.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkReceipt {
    #[schema(value_type = Uuid)]
    pub file_id: FileId,
    pub index: u32,
    pub size: u64,
    /// Base64 SHA-256 of the stored bytes.
    pub sha256: String,
}

/// The caller's role in `room` as committed; 404 when not a member (or no room).
async fn role_in(state: &AppState, room: RoomId, user: UserId) -> Result<Role, ApiError> {
    state.write.rooms.read(&room.to_string(), |r| r.role_of(user)).await?.ok_or_else(ApiError::not_found)
}

/// The file as committed; 404 when it was never registered.
async fn load_file(state: &AppState, file: FileId) -> Result<File, ApiError> {
    let loaded = state.write.files.read(&file.to_string(), Clone::clone).await?;
    if loaded.info().is_none() {
        return Err(file_not_found());
    }
    Ok(loaded)
}

/// The file and the caller's role in its room; 404 for non-members.
async fn file_for_member(
    state: &AppState,
    file: FileId,
    user: UserId,
) -> Result<(File, FileInfo, Role), ApiError> {
    let loaded = load_file(state, file).await?;
    let info = loaded.info().cloned().ok_or_else(file_not_found)?;
    let role = role_in(state, info.room_id, user).await.map_err(|_| file_not_found())?;
    Ok((loaded, info, role))
}

/// A file still live, for its uploader: 404 for non-members, 410 once
/// gone, 403 for other members.
async fn file_for_uploader(
    state: &AppState,
    file: FileId,
    user: UserId,
) -> Result<(File, FileInfo), ApiError> {
    let (loaded, info, _) = file_for_member(state, file, user).await?;
    if loaded.status().is_gone() {
        return Err(gone());
    }
    if info.uploader != user {
        return Err(DomainError::Forbidden("only the uploader uploads chunks").into());
    }
    Ok((loaded, info))
}

fn file_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "file_not_found", "no such file")
}

fn gone() -> ApiError {
    DomainError::Gone.into()
}

/// A refused file command; the file's absence reads as 404 `file_not_found`.
fn file_error(err: CommandError<DomainError>) -> ApiError {
    match err {
        CommandError::Rejected(DomainError::FileNotFound) => file_not_found(),
        other => other.into(),
    }
}

fn url_expiry(state: &AppState) -> DateTime<Utc> {
    now() + TimeDelta::from_std(state.config.files.url_lifetime()).unwrap_or(TimeDelta::minutes(5))
}

/// The upload URLs of chunks `indexes` of `file`, whose declared digests `declared` gives.
async fn upload_urls_for(
    state: &AppState,
    file: FileId,
    indexes: impl Iterator<Item = u32>,
    declared: impl Fn(u32) -> Option<ChunkDigest>,
) -> Result<UploadUrls, ApiError> {
    let expires_at = url_expiry(state);
    let mut chunks = Vec::new();
    for index in indexes {
        chunks.push(match state.files.upload_target(file, index, declared(index), expires_at).await? {
            UploadTarget::Gateway { url } => {
                UploadUrl { index, upload_url: url, upload_headers: BTreeMap::new(), confirm_url: None }
            }
            UploadTarget::Presigned { url, checksum } => UploadUrl {
                index,
                upload_url: url,
                upload_headers: BTreeMap::from([(CHECKSUM_HEADER.to_owned(), checksum)]),
                confirm_url: Some(format!("/v1/files/{file}/chunks/{index}")),
            },
        });
    }
    Ok(UploadUrls { file_id: file, chunks, expires_at })
}

fn too_large(message: &str) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
}

/// When the file expires: asked for, or under a maximum life that life.
fn expires_at(
    state: &AppState,
    expires_in: Option<u64>,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let limits = state.config.files.limits();
    let Some(seconds) = expires_in.or(limits.max_expiry.map(|max| max.num_seconds().unsigned_abs())) else {
        return Ok(None);
    };
    let life = i64::try_from(seconds).ok().and_then(TimeDelta::try_seconds);
    match life.and_then(|life| at.checked_add_signed(life)) {
        Some(expires_at) => Ok(Some(expires_at)),
        None => Err(too_large("the expiry is beyond the limit")),
    }
}

#[utoipa::path(post, path = "/v1/files", tag = "files", security(("bearer" = [])), request_body = NewFile,
    responses((status = 201, body = UploadUrls),
        (status = 404, description = "no such room, or not a member", body = ErrorBody),
        (status = 413, description = "too_large: over a file, chunk, stored-bytes or expiry limit", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewFile>,
) -> Result<(StatusCode, Json<UploadUrls>), ApiError> {
    let members = state
        .write
        .rooms
        .read(&body.room_id.to_string(), |room| {
            room.is_member(user.user_id).then(|| room.members().keys().copied().collect::<Vec<_>>())
        })
        .await?
        .ok_or_else(ApiError::not_found)?;
    if body.chunk_count > state.config.files.max_chunk_count {
        return Err(too_large("the file has more chunks than allowed")
            .with_details(json!({"limit": state.config.files.max_chunk_count})));
    }
    let mut wrapped_keys = BTreeMap::new();
    for (recipient, key) in body.wrapped_keys {
        if !members.contains(&recipient) {
            return Err(ApiError::from(ciphertalk_domain::ValidationError::new(
                "wrapped_keys",
                "every recipient must be a member of the room",
            )));
        }
        wrapped_keys.insert(recipient, Base64Bytes::parse(&key)?);
    }
    let chunk_sha256 = body
        .chunk_sha256
        .map(|digests| digests.iter().map(|digest| ChunkDigest::parse(digest)).collect::<Result<Vec<_>, _>>())
        .transpose()?;
    if state.files.presigned_uploads() && chunk_sha256.is_none() {
        // Only the declared digest, signed into the PUT, keeps other bytes
        // from replacing a chunk in the bucket.
        return Err(ApiError::from(ciphertalk_domain::ValidationError::new(
            "chunk_sha256",
            "is required: chunks are uploaded straight to the store, which checks them against it",
        )));
    }
    let content_type = body.content_type.as_deref().map(ContentType::parse).transpose()?.unwrap_or_default();
    let at = now();
    let file_id = FileId::new_v7();
    let (lock, stored) = crate::storage::quota::lock_uploader(&state.db, user.user_id).await?;
    let command = FileCommand::RegisterFile {
        file_id,
        room_id: body.room_id,
        uploader: user.user_id,
        size: body.size,
        chunk_size: body.chunk_size,
        chunk_count: body.chunk_count,
        content_type,
        wrapped_keys,
        chunk_sha256: chunk_sha256.clone(),
        expires_at: expires_at(&state, body.expires_in, at)?,
        limits: state.config.files.limits(),
        uploader_stored_bytes: stored,
        at,
    };
    let executed = state.write.files.execute(&file_id.to_string(), command, &metadata(&user, &headers)).await;
    lock.release().await?;
    executed.map_err(file_error)?;
    let declared = |index: u32| chunk_sha256.as_ref()?.get(usize::try_from(index).ok()?).copied();
    let urls = upload_urls_for(&state, file_id, 0..body.chunk_count, declared).await?;
    Ok((StatusCode::CREATED, Json(urls)))
}

#[utoipa::path(post, path = "/v1/files/{id}/upload-urls", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "a file I upload")),
    responses((status = 200, description = "URLs for the chunks not stored yet", body = UploadUrls),
        (status = 403, description = "forbidden: not the uploader", body = ErrorBody),
        (status = 404, description = "file_not_found, or not a member of its room", body = ErrorBody),
        (status = 410, description = "gone: deleted, expired or taken down", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn upload_urls(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<FileId>,
) -> Result<Json<UploadUrls>, ApiError> {
    let (file, info) = file_for_uploader(&state, id, user.user_id).await?;
    let missing = (0..info.chunk_count).filter(|index| !file.stored_chunks().contains(index));
    Ok(Json(upload_urls_for(&state, id, missing, |index| info.declared_digest(index)).await?))
}

#[utoipa::path(post, path = "/v1/files/{id}/complete", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "a file I upload")),
    responses((status = 200, body = FileJson),
        (status = 403, description = "forbidden: not the uploader", body = ErrorBody),
        (status = 404, description = "file_not_found, or not a member of its room", body = ErrorBody),
        (status = 409, description = "conflict: not every chunk is stored", body = ErrorBody),
        (status = 410, description = "gone", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn complete(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<FileId>,
) -> Result<Json<FileJson>, ApiError> {
    file_for_member(&state, id, user.user_id).await?;
    let command = FileCommand::CompleteFile { actor: user.user_id, at: now() };
    let executed = state
        .write
        .files
        .execute_and_read(&id.to_string(), command, &metadata(&user, &headers), Clone::clone)
        .await
        .map_err(file_error)?;
    Ok(Json(file_json(&state, &executed.read, user.user_id).await?))
}

#[utoipa::path(get, path = "/v1/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "a file of a room I am a member of")),
    responses((status = 200, body = FileJson),
        (status = 404, description = "file_not_found, or not a member of its room", body = ErrorBody),
        (status = 410, description = "gone: deleted, expired or taken down", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn show(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<FileId>,
) -> Result<Json<FileJson>, ApiError> {
    let (file, _, _) = file_for_member(&state, id, user.user_id).await?;
    if file.status().is_gone() {
        return Err(gone());
    }
    Ok(Json(file_json(&state, &file, user.user_id).await?))
}

async fn file_json(state: &AppState, file: &File, caller: UserId) -> Result<FileJson, ApiError> {
    let urls_expire_at = url_expiry(state);
    let info = file.info().cloned().unwrap_or_else(|| unreachable!("a loaded file is registered"));
    let mut chunks = Vec::with_capacity(file.stored_chunks().len());
    for &index in file.stored_chunks() {
        // Every chunk the gateway stored carries its digest (see `download_chunk`).
        let Some(digest) = file.stored_digest(index) else { continue };
        chunks.push(StoredChunk {
            index,
            size: info.expected_chunk_size(index).unwrap_or_default(),
            download_url: state.files.download_url(info.file_id, index, digest, urls_expire_at).await?,
        });
    }
    Ok(FileJson {
        file_id: info.file_id,
        room_id: info.room_id,
        uploader_id: info.uploader,
        size: info.size,
        chunk_size: info.chunk_size,
        chunk_count: info.chunk_count,
        content_type: info.content_type.as_str().to_owned(),
        completed: file.status() == FileStatus::Completed,
        wrapped_key: file.wrapped_key_for(caller).map(|key| key.as_str().to_owned()),
        expires_at: info.expires_at,
        created_at: info.created_at,
        chunks,
        urls_expire_at,
    })
}

#[utoipa::path(delete, path = "/v1/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "a file I uploaded, or of a room I administer")),
    responses((status = 204, description = "deleted; its blobs are removed"),
        (status = 403, description = "forbidden: neither the uploader nor a room admin", body = ErrorBody),
        (status = 404, description = "file_not_found, or not a member of its room", body = ErrorBody),
        (status = 410, description = "gone", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ApiPath(id): ApiPath<FileId>,
) -> Result<StatusCode, ApiError> {
    let (_, _, role) = file_for_member(&state, id, user.user_id).await?;
    let command = FileCommand::DeleteFile {
        actor: user.user_id,
        actor_is_room_admin: matches!(role, Role::Owner | Role::Admin),
        at: now(),
    };
    state
        .write
        .files
        .execute(&id.to_string(), command, &metadata(&user, &headers))
        .await
        .map_err(file_error)?;
    remove_blobs(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes `file` down as an instance moderator (or a moderator of its room
/// resolving a report): gone for everyone, pushed as `file.deleted` with
/// reason `taken_down`, its blobs removed.
pub async fn take_down(
    state: &AppState,
    moderator: &AuthUser,
    headers: &HeaderMap,
    file: FileId,
    report_id: Option<ciphertalk_domain::ids::ReportId>,
) -> Result<(), ApiError> {
    load_file(state, file).await?;
    let command = FileCommand::TakeDownFile { moderator: moderator.user_id, report_id, at: now() };
    state
        .write
        .files
        .execute(&file.to_string(), command, &metadata(moderator, headers))
        .await
        .map_err(file_error)?;
    remove_blobs(state, file).await
}

/// The room of `file` as registered; 404 `file_not_found` for no such file.
pub async fn room_of(state: &AppState, file: FileId) -> Result<RoomId, ApiError> {
    Ok(load_file(state, file).await?.info().ok_or_else(file_not_found)?.room_id)
}

/// Removes a gone file's blobs now; the sweeper removes them should this
/// fail (the file is gone and not marked swept).
async fn remove_blobs(state: &AppState, file: FileId) -> Result<(), ApiError> {
    state.files.remove_file(file).await?;
    ciphertalk_projections::files::mark_swept(&state.db, file.as_uuid()).await?;
    Ok(())
}

/// Checks a chunk URL's signature and reads the file it names; the file's
/// registration and the chunk's expected size.
async fn signed_chunk(
    state: &AppState,
    method: UrlMethod,
    file: FileId,
    index: u32,
    query: &SignedQuery,
) -> Result<(File, FileInfo, u64), ApiError> {
    state.files.gateway_urls().verify(method, file, index, query, now())?;
    let loaded = load_file(state, file).await?;
    if loaded.status().is_gone() {
        return Err(gone());
    }
    let info = loaded.info().cloned().ok_or_else(file_not_found)?;
    let expected = info.expected_chunk_size(index).ok_or_else(file_not_found)?;
    Ok((loaded, info, expected))
}

#[utoipa::path(put, path = "/v1/files/{id}/chunks/{index}", tag = "files",
    params(("id" = Uuid, Path), ("index" = u32, Path), ("expires" = i64, Query), ("signature" = String, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the encrypted chunk"),
    responses((status = 200, body = ChunkReceipt),
        (status = 403, description = "url_expired or invalid_signature", body = ErrorBody),
        (status = 409, description = "conflict: the chunk is stored with other bytes", body = ErrorBody),
        (status = 410, description = "gone", body = ErrorBody),
        (status = 413, description = "too_large: more bytes than the chunk has", body = ErrorBody),
        (status = 422, description = "invalid_value: fewer bytes, or not the declared SHA-256", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(file_id = %id, index))]
pub async fn upload_chunk(
    State(state): State<AppState>,
    ApiPath((id, index)): ApiPath<(FileId, u32)>,
    ApiQuery(query): ApiQuery<SignedQuery>,
    request: Request,
) -> Result<Json<ChunkReceipt>, ApiError> {
    let (_, _, expected) = signed_chunk(&state, UrlMethod::Put, id, index, &query).await?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > expected) {
        return Err(chunk_too_long(expected));
    }
    let incoming = layout::incoming(id);
    let received = receive(state.files.store(), &incoming, request.into_body().into_data_stream(), expected)
        .await
        .map_err(|err| match err {
            ReceiveError::TooLong { expected } => chunk_too_long(expected),
            ReceiveError::TooShort { expected, got } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                format!("the chunk has {expected} bytes, the body {got}"),
            )
            .with_details(json!({"field": "size"})),
            ReceiveError::Body(cause) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("the body broke off: {cause}"))
            }
            ReceiveError::Store(err) => err.into(),
        })?;
    let outcome =
        record_chunk(&state, id, index, received.sha256, expected, Arrival::Incoming(&incoming)).await;
    if outcome.is_err() {
        // Refused: nothing of it stays (the aggregate decided before the rename).
        let _ = state.files.store().delete(&incoming).await;
    }
    outcome?;
    Ok(Json(ChunkReceipt { file_id: id, index, size: received.size, sha256: received.sha256.to_string() }))
}

fn chunk_too_long(expected: u64) -> ApiError {
    too_large("more bytes than the chunk has").with_details(json!({"limit_bytes": expected}))
}

#[utoipa::path(post, path = "/v1/files/{id}/chunks/{index}", tag = "files", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "a file I upload"), ("index" = u32, Path)),
    responses((status = 200, description = "the chunk is stored (and announced); the same answer again", body = ChunkReceipt),
        (status = 403, description = "forbidden: not the uploader", body = ErrorBody),
        (status = 404, description = "file_not_found, or not a member of its room", body = ErrorBody),
        (status = 409, description = "chunk_missing: the store has no object for the chunk (yet); conflict: the chunk goes to its gateway URL", body = ErrorBody),
        (status = 410, description = "gone", body = ErrorBody),
        (status = 422, description = "chunk_size_mismatch: the object is not the chunk's size; invalid_value: the store's checksum of it is not the declared SHA-256 (deleted either way), or no such index", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.user_id, file_id = %id, index))]
pub async fn confirm_chunk(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((id, index)): ApiPath<(FileId, u32)>,
) -> Result<Json<ChunkReceipt>, ApiError> {
    let (file, info) = file_for_uploader(&state, id, user.user_id).await?;
    let expected = info
        .expected_chunk_size(index)
        .ok_or_else(|| DomainError::invalid("index", "is beyond the last chunk"))?;
    let receipt = |sha256: ChunkDigest| {
        Json(ChunkReceipt { file_id: id, index, size: expected, sha256: sha256.to_string() })
    };
    if let Some(stored) = file.stored_digest(index) {
        return Ok(receipt(stored));
    }
    let Some(digest) = info.declared_digest(index).filter(|_| state.files.presigned_uploads()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "this chunk is uploaded to its gateway URL, which stores it as the PUT answers",
        ));
    };
    // The store took the object only with the declared SHA-256 (signed into
    // the PUT); its size is checked here, and the SHA-256 the store keeps for
    // it too when it tells (Garage does).
    let Some(object) = state.files.uploaded_object(id, index, digest).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "chunk_missing",
            "the store has no object for this chunk: PUT it to its upload URL first",
        ));
    };
    let refusal = if object.size != expected {
        Some(
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "chunk_size_mismatch",
                format!("the chunk has {expected} bytes, the object {}; it was deleted", object.size),
            )
            .with_details(json!({"expected": expected, "size": object.size})),
        )
    } else if object.sha256.as_ref().is_some_and(|stored| *stored != digest.to_string()) {
        Some(
            DomainError::invalid("sha256", format!("chunk {index} does not have the declared SHA-256"))
                .into(),
        )
    } else {
        None
    };
    if let Some(refusal) = refusal {
        state.files.store().delete(&layout::chunk(id, index, digest)).await?;
        return Err(refusal);
    }
    record_chunk(&state, id, index, digest, expected, Arrival::InPlace).await?;
    Ok(receipt(digest))
}

/// Where a chunk's bytes are while it is decided on.
#[derive(Clone, Copy)]
enum Arrival<'a> {
    /// Under `incoming/`, streamed there by the gateway: moved to the
    /// chunk's name once accepted.
    Incoming(&'a object_store::path::Path),
    /// Under the chunk's name already, PUT there with a presigned URL.
    InPlace,
}

/// Decides on the arrived bytes against the file as committed now, puts
/// them under the chunk's name and records the chunk (`StoreChunk`, which
/// pushes `file.chunk_available`). Bytes the file refuses (not the declared
/// digest; other bytes than the chunk already stored) are never moved.
async fn record_chunk(
    state: &AppState,
    id: FileId,
    index: u32,
    sha256: ChunkDigest,
    size: u64,
    arrival: Arrival<'_>,
) -> Result<(), ApiError> {
    let file = load_file(state, id).await?;
    let info = file.info().ok_or_else(file_not_found)?;
    if info.declared_digest(index).is_some_and(|declared| declared != sha256) {
        return Err(DomainError::invalid(
            "sha256",
            format!("chunk {index} does not have the declared SHA-256"),
        )
        .into());
    }
    if file.stored_chunks().contains(&index) {
        return match file.stored_digest(index) {
            Some(stored) if stored != sha256 => {
                Err(DomainError::Conflict("the chunk is stored with other bytes").into())
            }
            // The same bytes again: the answer of the first time.
            _ => {
                if let Arrival::Incoming(incoming) = arrival {
                    state.files.store().delete(incoming).await?;
                }
                Ok(())
            }
        };
    }
    let chunk = layout::chunk(id, index, sha256);
    if let Arrival::Incoming(incoming) = arrival {
        state.files.store().rename(incoming, &chunk).await?;
    }
    let command = FileCommand::StoreChunk { index, size, sha256, at: now() };
    let metadata = ciphertalk_commands::CommandMetadata::system("chunk-upload");
    match state.write.files.execute(&id.to_string(), command, &metadata).await {
        Ok(_) => Ok(()),
        // Named by its digest, the blob is this upload's alone: other bytes
        // that won the race for the index are not touched.
        Err(CommandError::Rejected(DomainError::Conflict(reason))) => {
            let _ = state.files.store().delete(&chunk).await;
            Err(DomainError::Conflict(reason).into())
        }
        Err(err) => Err(file_error(err)),
    }
}

#[utoipa::path(get, path = "/v1/files/{id}/chunks/{index}", tag = "files",
    params(("id" = Uuid, Path), ("index" = u32, Path), ("expires" = i64, Query), ("signature" = String, Query)),
    responses((status = 200, description = "the encrypted chunk", content_type = "application/octet-stream"),
        (status = 206, description = "the requested range"),
        (status = 403, description = "url_expired or invalid_signature", body = ErrorBody),
        (status = 404, description = "not stored (yet)", body = ErrorBody),
        (status = 410, description = "gone", body = ErrorBody),
        (status = 416, description = "range_not_satisfiable", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(file_id = %id, index))]
pub async fn download_chunk(
    State(state): State<AppState>,
    ApiPath((id, index)): ApiPath<(FileId, u32)>,
    ApiQuery(query): ApiQuery<SignedQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (file, _, size) = signed_chunk(&state, UrlMethod::Get, id, index, &query).await?;
    // Every chunk the gateway stored carries its digest (none were stored
    // before digests), so a chunk without one has no blob here.
    let digest = file.stored_digest(index).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "chunk_not_found", "the chunk is not stored (yet)")
    })?;
    let range = match headers.get(header::RANGE).map(|value| parse_range(value, size)) {
        None => None,
        Some(Some(range)) => Some(range),
        Some(None) => return Err(unsatisfiable(size)),
    };
    let options = GetOptions { range: range.clone().map(GetRange::Bounded), ..GetOptions::default() };
    let got = state.files.store().get_opts(&layout::chunk(id, index, digest), options).await?;
    let served = got.range.clone();
    let mut response = Body::from_stream(got.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(served.end - served.start));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let content_range = format!("bytes {}-{}/{size}", served.start, served.end.saturating_sub(1));
        if let Ok(value) = HeaderValue::from_str(&content_range) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

fn unsatisfiable(size: u64) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        "the range is outside the chunk",
    )
    .with_details(json!({"size": size}))
}

/// One `bytes=` range of a `size`-byte chunk as a half-open range: `a-b`,
/// `a-` or the suffix `-n`; `None` when it is malformed, several, or outside.
fn parse_range(value: &HeaderValue, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = value.to_str().ok()?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().ok()?;
            (size.checked_sub(suffix.min(size))?, size)
        }
        (start, "") => (start.parse().ok()?, size),
        (start, end) => (start.parse().ok()?, end.parse::<u64>().ok()?.saturating_add(1).min(size)),
    };
    (start < end && start < size).then_some(start..end)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn range(spec: &'static str) -> Option<std::ops::Range<u64>> {
        parse_range(&HeaderValue::from_static(spec), 100)
    }

    #[test]
    fn ranges_are_single_and_inside_the_chunk() {
        assert_eq!(range("bytes=0-9"), Some(0..10));
        assert_eq!(range("bytes=90-"), Some(90..100));
        assert_eq!(range("bytes=-10"), Some(90..100));
        assert_eq!(range("bytes=95-200"), Some(95..100));
        assert_eq!(range("bytes=-500"), Some(0..100));
        assert_eq!(range("bytes=100-"), None);
        assert_eq!(range("bytes=5-2"), None);
        assert_eq!(range("bytes=0-1,5-6"), None);
        assert_eq!(range("items=0-1"), None);
        assert_eq!(range("bytes=-0"), None);
    }
}
