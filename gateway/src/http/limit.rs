//! The rate-limit layer: a write (or prekey claim) over its limit is answered
//! 429 with `Retry-After` before its handler reads the body. The user is
//! verified here once and kept for the handler's `AuthUser`.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ciphertalk_domain::UserId;

use super::error::ApiError;
use super::extract::{AuthUser, ClientIp};
use crate::state::AppState;
use crate::throttle::Action;

pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let action = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| Action::of_route(request.method(), path.as_str()));
    let Some(action) = action.filter(|_| state.throttle.is_enabled()) else { return next.run(request).await };
    let (mut parts, body) = request.into_parts();
    let Ok(ClientIp(ip)) = ClientIp::from_request_parts(&mut parts, &state).await;
    // An unauthenticated request counts against its address only; its handler refuses it.
    let user = AuthUser::from_request_parts(&mut parts, &state).await.ok().map(|user| user.user_id);
    if let Err(limited) = state.throttle.check(action, user, ip) {
        return ApiError::from(limited).into_response();
    }
    if action == Action::PrekeyClaim
        && let Some(target) = prekey_target(parts.uri.path())
        && let Err(limited) = state.throttle.check_prekey_target(target)
    {
        return ApiError::from(limited).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The `{id}` of `/v1/users/{id}/prekey-bundle` and `/v1/users/{id}/devices/{device_id}/prekey-bundle`.
fn prekey_target(path: &str) -> Option<UserId> {
    let rest = path.strip_prefix("/v1/users/")?.strip_suffix("/prekey-bundle")?;
    rest.split('/').next()?.parse().ok()
}
