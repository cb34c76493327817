//! Client request ids: kept when short visible ASCII, replaced otherwise.
//! The id goes into every event's metadata and every log line of the
//! request, so an unbounded or binary one would grow events past what NATS
//! carries and garble the logs.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id the request-id layer put on the request (the client's when
/// [`is_acceptable`], else a fresh one), for event metadata.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get(REQUEST_ID).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// Whether a client's `X-Request-Id` is kept: 1 to `max_bytes` visible ASCII
/// characters (no spaces, no controls).
pub fn is_acceptable(value: &HeaderValue, max_bytes: usize) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= max_bytes && bytes.iter().all(u8::is_ascii_graphic)
}

/// Drops an unacceptable (or repeated) client id, so that the request-id
/// layer after this one gives the request a fresh one.
pub async fn replace_unacceptable(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let max_bytes = state.config.http.max_request_id_bytes;
    let headers = request.headers();
    let mut values = headers.get_all(REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => is_acceptable(value, max_bytes),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_visible_ascii_is_kept_and_anything_else_is_not() {
        let ok =
            |s: &str| is_acceptable(&HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("")), 64);
        assert!(ok("req-42.abc_DEF:1"));
        assert!(ok(&"x".repeat(64)));
        assert!(!ok(&"x".repeat(65)));
        assert!(!ok(""));
        assert!(!ok("has space"));
        assert!(!is_acceptable(
            &HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap_or(HeaderValue::from_static("")),
            64
        ));
    }
}
