//! Extractors every route group uses: the authenticated user, JSON bodies,
//! path ids and query strings whose rejections speak the API's error format,
//! and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use ciphertalk_domain::UserId;
use serde::de::DeserializeOwned;

use crate::auth::TokenError;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The user a valid `Authorization: Bearer <access_token>` speaks for.
/// Rejects with 401 `unauthenticated` (or `token_expired`) otherwise.
/// Verified once per request: the rate-limit layer keeps it for the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: UserId,
    pub is_admin: bool,
    /// The session (refresh family) the token was issued to.
    pub session: Option<uuid::Uuid>,
    /// When the token expires, in Unix seconds.
    pub expires_at: u64,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<Self>() {
            return Ok(*user);
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| unauthenticated("a bearer access token is required"))?;
        match state.auth.tokens.verify(token) {
            Ok(verified) => {
                let user = Self {
                    user_id: verified.user_id,
                    is_admin: verified.is_admin,
                    session: verified.session,
                    expires_at: verified.expires_at,
                };
                parts.extensions.insert(user);
                Ok(user)
            }
            Err(TokenError::Expired) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the access token has expired",
            )
            .with_details(serde_json::json!({"reason": "token_expired"}))),
            Err(_) => Err(unauthenticated("the access token is not valid")),
        }
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

/// `axum::Json`, but a bad body answers in the API's error format: 400
/// `malformed_json` for syntax (or a missing JSON content type), 422
/// `invalid_value` with serde's message for wrong types, missing fields or
/// values that fail validation, 413 `too_large` over the body limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", err.body_text())
        }
        JsonRejection::JsonSyntaxError(err) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", err.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "expected a body with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large")
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", other.body_text()),
    }
}

/// The client's address: the TCP peer (the server runs with connect info),
/// or what `X-Forwarded-For` says when the peer is one of the configured
/// trusted proxies (`write_limits.trusted_proxies`); never trusted silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        Ok(Self(state.throttle.client_ip(peer, &parts.headers)))
    }
}

/// `axum::extract::Path`, but an id that does not parse answers 404
/// `not_found` in the API's format: a malformed id names nothing that exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::not_found()),
        }
    }
}

/// `axum::extract::Query`, but a bad query string answers 400 `bad_request`
/// with serde's reason in the API's format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(err)) => {
                Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_request", err.body_text()))
            }
            Err(other) => Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_request", other.body_text())),
        }
    }
}
