//! `GET /metrics` and the per-request counters and latency histograms.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

pub async fn render(State(state): State<AppState>) -> String {
    state.metrics.render()
}

/// Counts every request and times it, labelled by route template (not the raw
/// path, which would carry ids and explode cardinality) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("ciphertalk_http_requests_total", &labels).increment(1);
    metrics::histogram!("ciphertalk_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
