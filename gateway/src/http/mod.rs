//! The HTTP surface: one module per route group, assembled here with the
//! layers every request passes through (request id, tracing, metrics, limits).

pub mod admin;
pub mod asyncapi;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod cors;
pub mod devices;
pub mod error;
pub mod extract;
pub mod files;
pub mod health;
pub mod inbox;
pub mod keys;
pub mod limit;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod push;
pub mod reports;
pub mod request_body;
pub mod request_id;
pub mod rooms;
pub mod shared;
pub mod status;
pub mod to_device;
pub mod users;
pub mod web;
pub mod webrtc;
pub mod ws;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use tower::{Service, ServiceBuilder};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::state::AppState;

pub use request_id::REQUEST_ID;

/// The HTTP service: [`router`] inside the layers every request passes
/// through, outermost first. They wrap the router once, as a whole: layered
/// onto the router instead, each would wrap every route's boxed service, and
/// a request would clone the whole boxed chain at every level.
pub fn service(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static {
    let http = &state.config.http;
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let id = request
            .extensions()
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // The path only: query strings may carry tickets.
        tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
    });
    ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_id::replace_unacceptable))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // Outside `normalize` and the body rules: a preflight is answered here,
        // and every answer (errors too) carries the allow headers.
        .option_layer(cors::layer(&state.config.cors))
        // Outside `normalize`, so that its `Connection: close` survives the rewrite.
        .layer(axum::middleware::from_fn_with_state(
            request_body::BodyRules {
                timeout: Duration::from_secs(http.request_timeout_secs),
                max_bytes: http.max_body_bytes,
            },
            request_body::guard,
        ))
        .layer(axum::middleware::from_fn(error::normalize))
        .service(router(state.clone()))
}

/// Every route, with the limits and metrics of each; [`service`] adds the
/// layers around it.
pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    let client = web::WebClient::new(&state.config.web);
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::render))
        .merge(auth::router())
        .merge(devices::router())
        .merge(keys::router())
        .merge(users::router())
        .merge(rooms::router())
        .merge(messages::router())
        .merge(contacts::router())
        .merge(openapi::router())
        .merge(asyncapi::router())
        .merge(ws::router())
        .merge(inbox::router())
        .merge(to_device::router())
        .merge(webrtc::router())
        .merge(files::router())
        .merge(reports::router())
        .merge(admin::router())
        .merge(push::router())
        .merge(audit::router())
        .merge(status::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), limit::limit))
        // Unknown API paths answer JSON 404s; the rest is the web client's.
        .fallback(move |request| client.clone().answer(request))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(RequestBodyLimitLayer::new(http.max_body_bytes))
        // Outside the body limit: a chunk is bounded by its declared size as it streams.
        .merge(files::chunk_router().layer(axum::middleware::from_fn(metrics::track)))
        .with_state(state)
}
