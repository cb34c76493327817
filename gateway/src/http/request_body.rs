//! Whether a request's body was read to its end, and what follows from it.
//! A request refused before its body was looked at (no token, unknown room,
//! unknown route) has its body drained, up to the body limit, before the
//! answer goes out, so that the keep-alive connection stays usable; a body
//! that cannot be drained (over the limit, broken, too slow) gets
//! `Connection: close` instead of hyper silently dropping the connection
//! under the client's next request. A request that runs out of time while
//! its body is still arriving is 408 (the client's doing), not the 503 of a
//! handler that took too long.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use super::error::ApiError;

/// `http.request_timeout_secs` and `http.max_body_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    pub timeout: Duration,
    pub max_bytes: usize,
}

/// Runs the request under the timeout and looks after its body (the
/// middleware around every route).
pub async fn guard(State(rules): State<BodyRules>, request: Request, next: Next) -> Response {
    let deadline = Instant::now() + rules.timeout;
    if !has_body(request.headers()) {
        return tokio::time::timeout_at(deadline, next.run(request)).await.unwrap_or_else(|_| too_slow());
    }
    let declared = declared_length(request.headers());
    // A client waiting for `100 Continue` has not sent the body: asking for
    // it just to drop it would waste its upload.
    let awaits_continue = request.headers().contains_key(header::EXPECT);
    let (parts, body) = request.into_parts();
    let slot = Arc::new(Mutex::new(Slot { body: Some(body.into_data_stream()), ended: false }));
    let request = Request::from_parts(parts, Body::from_stream(Watched(slot.clone())));
    let answered = tokio::time::timeout_at(deadline, next.run(request)).await;
    let unread = {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.ended { None } else { slot.body.take() }
    };
    let mut response = match (answered, unread) {
        (Ok(response), None) => return response,
        (Err(_), None) => return too_slow(),
        (Err(_), Some(_)) => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "timeout", "the request body did not arrive in time")
                .into_response()
        }
        (Ok(response), Some(body)) => {
            let fits = declared.is_none_or(|length| length <= rules.max_bytes);
            if fits && !awaits_continue && drain(body, rules.max_bytes, deadline).await {
                metrics::counter!("ciphertalk_http_unread_bodies_total", "outcome" => "drained").increment(1);
                return response;
            }
            response
        }
    };
    metrics::counter!("ciphertalk_http_unread_bodies_total", "outcome" => "closed").increment(1);
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_slow() -> Response {
    let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long");
    error.retry_after = Some(1);
    error.into_response()
}

/// A body is coming when a length above zero or a transfer coding says so.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || declared_length(headers).is_some_and(|length| length > 0)
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Reads the rest of an unread body, at most `max_bytes` of it and until
/// `deadline`; true when its end was reached.
async fn drain(mut body: BodyDataStream, max_bytes: usize, deadline: Instant) -> bool {
    let mut drained = 0_usize;
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(None) => return true,
            Ok(Some(Ok(bytes))) => {
                drained = drained.saturating_add(bytes.len());
                if drained > max_bytes {
                    return false;
                }
            }
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
}

/// The request body, shared between the handler's view of it and the guard,
/// which takes back what the handler left unread.
struct Slot {
    body: Option<BodyDataStream>,
    ended: bool,
}

/// The handler's view of the body: its data, marking the slot at the end.
struct Watched(Arc<Mutex<Slot>>);

impl Stream for Watched {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(body) = slot.body.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(body).poll_next(cx);
        if let Poll::Ready(None) = polled {
            slot.ended = true;
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (header::HeaderName::from_static(name), HeaderValue::from_static(value)))
            .collect()
    }

    #[test]
    fn a_body_comes_with_a_length_or_a_transfer_coding() {
        assert!(!has_body(&headers(&[])));
        assert!(!has_body(&headers(&[("content-length", "0")])));
        assert!(has_body(&headers(&[("content-length", "12")])));
        assert!(has_body(&headers(&[("transfer-encoding", "chunked")])));
    }
}
