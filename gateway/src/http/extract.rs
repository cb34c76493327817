//! Extractors every route group uses: the authenticated user, JSON bodies,
//! path ids and query strings whose rejections speak the API's error format,
//! and the client's address. Bad input gets one answer per kind, on every
//! route (docs/api.md, "Bad input"): 400 `malformed_json` for a body that is not
//! JSON, 422 `invalid_value` for a value that is not valid (a body that is no
//! object, a field or query value, `limit` included), 422 `invalid_cursor` for
//! any cursor, 404 for a path id.

use std::net::{IpAddr, SocketAddr};

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use ciphertalk_domain::{DeviceId, DomainError, UserId};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};

use crate::auth::TokenError;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The user a valid `Authorization: Bearer <access_token>` speaks for.
/// Rejects with 401 `unauthenticated` (or `token_expired`) otherwise.
/// Verified once per request: the rate-limit layer keeps it for the handler.
/// The token's device must still be the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: UserId,
    pub is_admin: bool,
    /// The session (refresh family) the token was issued to.
    pub session: Option<uuid::Uuid>,
    /// The device the session belongs to (the first device for a token minted before devices).
    pub device: DeviceId,
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
                // Access tokens are not revocable: a removed device's, or a
                // suspended user's, are refused here, against the user
                // aggregate (cached; a change made through another process is
                // seen when its event arrives, `auth::standing`); the role is read there
                // too, so a demotion takes effect at once.
                let id = verified.user_id.to_string();
                let device = verified.device;
                let now = chrono::Utc::now();
                let standing = state
                    .write
                    .users
                    .read_confirmed_within(&id, state.auth.standing_max_age, |user| Standing {
                        device_kept: user.devices().contains(device),
                        suspended: user.suspension_at(now).is_some(),
                        is_admin: user.is_admin(),
                    })
                    .await?;
                if !standing.device_kept {
                    return Err(unauthenticated("the device of this session has been removed")
                        .with_details(serde_json::json!({"reason": "device_removed"})));
                }
                if standing.suspended {
                    return Err(DomainError::Suspended.into());
                }
                let user = Self {
                    user_id: verified.user_id,
                    is_admin: standing.is_admin,
                    session: verified.session,
                    device: verified.device,
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

/// What the per-request check reads from the user aggregate, in one read.
struct Standing {
    device_kept: bool,
    suspended: bool,
    is_admin: bool,
}

/// An [`AuthUser`] who is an instance admin now (per the aggregate, not the
/// token); anyone else gets 403 `forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.is_admin {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "instance admins only"));
        }
        Ok(Self(user))
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

/// `axum::Json`, but a bad body answers in the API's error format: 400
/// `malformed_json` for syntax or a missing JSON content type, 422
/// `invalid_value` with serde's message for wrong types, missing fields,
/// values that fail validation or strings holding NUL (Postgres cannot store
/// it), 413 `too_large` over the body limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(request.headers()) {
            return Err(missing_json_content_type());
        }
        let body = Bytes::from_request(request, state).await.map_err(body_rejection)?;
        parse_json(&body).map(Self)
    }
}

/// A JSON body that may be left out: an empty body is `None`, anything else
/// is read as [`ApiJson`] reads it (content type included).
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = has_json_content_type(request.headers());
        let body = Bytes::from_request(request, state).await.map_err(body_rejection)?;
        if body.is_empty() {
            return Ok(Self(None));
        }
        if !is_json {
            return Err(missing_json_content_type());
        }
        parse_json(&body).map(|value| Self(Some(value)))
    }
}

fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let starts =
        |prefix: &str| essence.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix));
    let ends = |suffix: &str| {
        essence.len() >= suffix.len()
            && essence
                .get(essence.len() - suffix.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    essence.eq_ignore_ascii_case("application/json") || (starts("application/") && ends("+json"))
}

fn missing_json_content_type() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        "expected a body with Content-Type: application/json",
    )
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large")
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", rejection.body_text())
    }
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde reads a struct from an array too (`[null, null]` fills its fields
    // in order); every body of this API is an object.
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') && serde_json::from_slice::<IgnoredAny>(body).is_ok() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "the body must be a JSON object",
        ));
    }
    let value = match axum::Json::<T>::from_bytes(body) {
        Ok(axum::Json(value)) => value,
        // serde may stop at an unknown field before it sees the text is
        // broken: broken text is 400 whatever the target type.
        Err(JsonRejection::JsonDataError(_)) if serde_json::from_slice::<IgnoredAny>(body).is_err() => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not valid JSON",
            ));
        }
        Err(JsonRejection::JsonDataError(err)) => {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", err.body_text()));
        }
        Err(other) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", other.body_text()));
        }
    };
    if has_nul_escape(body) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "strings may not contain NUL",
        ));
    }
    Ok(value)
}

/// Whether a (syntactically valid) JSON text holds a `\u0000` escape: a raw
/// NUL is a syntax error already. In valid JSON every backslash starts a
/// two-character escape, so stepping over pairs finds exactly the real ones.
fn has_nul_escape(json: &[u8]) -> bool {
    let mut rest = json;
    while let Some(at) = rest.iter().position(|byte| *byte == b'\\') {
        if rest.get(at + 1..at + 6) == Some(&b"u0000"[..]) {
            return true;
        }
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    false
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

/// `axum::extract::Query`, but a bad query string answers 422 `invalid_value`
/// with serde's reason in the API's format: a value of the wrong type or out
/// of range, an unknown parameter, or a NUL (`%00`, which Postgres cannot store).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(|query| query.contains("%00")) {
            return Err(invalid_value("the query string may not contain NUL"));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(err)) => Err(invalid_value(err.body_text())),
            Err(other) => Err(invalid_value(other.body_text())),
        }
    }
}

fn invalid_value(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message)
}

/// A list's page size (`limit=`): 1 to 200, 50 when absent (API.md). Anything
/// else, 0, negative, over 200 or not a number, is 422 `invalid_value` on
/// every list; nothing is clamped silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const DEFAULT: u32 = 50;
    pub const MAX: u32 = 200;

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn as_usize(self) -> usize {
        self.0 as usize
    }

    fn parse(raw: &str) -> Option<Self> {
        raw.parse::<u32>().ok().filter(|n| (1..=Self::MAX).contains(n)).map(Self)
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Limit;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "an integer from 1 to {}", Limit::MAX)
            }

            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Limit, E> {
                Limit::parse(raw).ok_or_else(|| E::custom(LIMIT_RULE))
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Limit, E> {
                self.visit_str(&n.to_string())
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Limit, E> {
                self.visit_str(&n.to_string())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

const LIMIT_RULE: &str = "limit: must be an integer from 1 to 200";

/// A cursor from a query string or body, parsed as its list's type.
pub fn parse_cursor<T: FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::unknown_cursor())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_a_real_nul_escape_counts() {
        assert!(has_nul_escape(br#"{"a": "x\u0000"}"#));
        assert!(has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\u0001", "b": "\n"}"#));
        assert!(!has_nul_escape(br#"{"a": "plain"}"#));
    }

    #[test]
    fn a_body_is_an_object() {
        #[derive(Debug, Deserialize)]
        struct Patch {
            #[allow(dead_code)]
            name: Option<String>,
            #[allow(dead_code)]
            bio: Option<String>,
        }
        let status = |body: &[u8]| parse_json::<Patch>(body).map_err(|err| err.status).err();
        assert_eq!(status(br#"{"name": null}"#), None);
        assert_eq!(status(b" [null, null]"), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(status(b"null"), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(status(b"[null,"), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn json_content_types() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static(value));
            has_json_content_type(&headers)
        };
        for yes in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"] {
            assert!(with(yes), "{yes}");
        }
        for no in ["text/plain", "application/jsonx", "+json", "text/json"] {
            assert!(!with(no), "{no}");
        }
        assert!(!has_json_content_type(&HeaderMap::new()));
    }

    #[test]
    fn a_limit_is_one_to_two_hundred() {
        assert_eq!(Limit::parse("1"), Some(Limit(1)));
        assert_eq!(Limit::parse("200"), Some(Limit(200)));
        for bad in ["0", "-1", "201", "9223372036854775808", "18446744073709551615", "x", "", " 5"] {
            assert_eq!(Limit::parse(bad), None, "{bad}");
        }
    }
}
