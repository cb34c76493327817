//! The API's error format: status plus
//! `{"error": {"code": "snake_case", "message": "...", "details": {...}}}`.
//! Internal causes are logged, never sent.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ciphertalk_commands::{CommandError, StoreError};
use ciphertalk_domain::{DomainError, ErrorKind, LookupError, ValidationError};
use ciphertalk_projections::QueryError;
use serde_json::{Value, json};

use crate::throttle::Limited;

/// The error answer's shape, for the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `invalid_credentials`.
    pub code: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: json!({}), retry_after: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// A failure of ours or of a dependency: logged with its cause, answered
    /// without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    /// A cursor no list of ours gave out.
    pub fn unknown_cursor() -> Self {
        invalid_cursor("the cursor is not one this list gave out")
    }

    pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::warn!(dependency = what, error = %cause, "dependency unavailable");
        let mut error =
            Self::new(StatusCode::SERVICE_UNAVAILABLE, "dependency_down", format!("{what} is unavailable"));
        error.retry_after = Some(1);
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The one answer to a cursor that does not parse or points past what
/// exists, whichever list or stream it belongs to.
pub fn invalid_cursor(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor", message)
}

/// A refused command: the domain's stable code, at the status of its kind.
impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        let status = match err.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Unavailable => return Self::unavailable("a lookup", err),
        };
        let details = match &err {
            DomainError::Invalid(invalid) => json!({"field": invalid.field}),
            _ => json!({}),
        };
        Self::new(status, err.code(), err.to_string()).with_details(details)
    }
}

/// A field that failed validation at the edge: 422 `invalid_value` naming it.
impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        DomainError::Invalid(err).into()
    }
}

/// A command that did not commit: refusals keep their code, conflicts that
/// outlasted the retries are 409 (the client may retry), store failures as
/// [`StoreError`] maps them.
impl From<CommandError<DomainError>> for ApiError {
    fn from(err: CommandError<DomainError>) -> Self {
        match err {
            CommandError::Rejected(rejection) => rejection.into(),
            CommandError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", "concurrent changes; retry the request")
            }
            // Callers that can repeat a unique key answer it themselves (a send
            // retried beyond the window gets the original message).
            CommandError::Duplicate => {
                Self::new(StatusCode::CONFLICT, "conflict", "this was done before; read it instead")
            }
            CommandError::Store(store) => store.into(),
        }
    }
}

/// The event store: an event too large to publish is 413, any other failure
/// (loads included) 503 naming it.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::TooLarge { limit, .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the change is too large to store as one event",
            )
            .with_details(json!({"limit_bytes": limit})),
            StoreError::Unpublishable { reason, .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_value",
                format!("an id cannot be stored: {reason}"),
            ),
            other => Self::unavailable("the event store", other),
        }
    }
}

/// A route's own read of the event store (`EventStoreLookup`), which reports
/// its failures as lookups.
impl From<LookupError> for ApiError {
    fn from(err: LookupError) -> Self {
        Self::unavailable("the event store", err)
    }
}

/// Postgres outside the event store (read models, credentials, claims): a
/// pool timeout or lost connection is 503 naming "the database". Conflicts
/// a client can cause are answered before this: the claims resolve theirs
/// with `ON CONFLICT` (409 `email_taken`, `username_taken`), the event store
/// its own as [`CommandError`]s.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::unavailable("the database", err)
    }
}

/// A read-model query: a cursor it never gave out is 422, else as [`sqlx::Error`].
impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        match err {
            QueryError::BadCursor => Self::unknown_cursor(),
            QueryError::Database(err) => err.into(),
        }
    }
}

/// The blob store of file chunks: a chunk missing from it is 404, any other
/// failure 503 naming it.
impl From<object_store::Error> for ApiError {
    fn from(err: object_store::Error) -> Self {
        match err {
            object_store::Error::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "chunk_not_found", "the chunk is not stored")
            }
            other => Self::unavailable("the file store", other),
        }
    }
}

/// A chunk URL that does not allow the request: 403.
impl From<crate::storage::signed_url::UrlRefusal> for ApiError {
    fn from(refusal: crate::storage::signed_url::UrlRefusal) -> Self {
        use crate::storage::signed_url::UrlRefusal;
        let code = match refusal {
            UrlRefusal::Expired => "url_expired",
            UrlRefusal::BadSignature => "invalid_signature",
        };
        Self::new(StatusCode::FORBIDDEN, code, refusal.to_string())
    }
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        let mut error =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; slow down")
                .with_details(serde_json::json!({"action": limited.action.name()}));
        error.retry_after = Some(limited.retry_after_secs().max(1));
        error
    }
}

/// Gives error answers made outside our handlers (axum's 405, the body
/// limit's 413, path and query rejections) the API's error format.
pub async fn normalize(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is too large"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take that method"),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => {
            ("timeout", "the request took too long")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported content type"),
        status if status.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "the request is not valid"),
    };
    let mut normalized = ApiError::new(status, code, message).into_response();
    if let Some(value) = retry_after {
        normalized.headers_mut().insert(header::RETRY_AFTER, value);
    }
    normalized
}
