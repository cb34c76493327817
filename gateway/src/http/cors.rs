//! CORS for browser clients served from another origin: only the configured
//! origins get `Access-Control-Allow-*` answers; without any, no CORS layer at all.

use std::time::Duration;

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::REQUEST_ID;
use crate::config::CorsConfig;

/// `None` when no origin is allowed (the default).
pub fn layer(config: &CorsConfig) -> Option<CorsLayer> {
    // Validated at start-up (`Config::validate`); a bad entry cannot reach here.
    let origins: Vec<HeaderValue> = config.origins().unwrap_or_default();
    if origins.is_empty() {
        return None;
    }
    // No credentials: the API authenticates with a bearer token, never a cookie.
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
            .expose_headers([REQUEST_ID, header::RETRY_AFTER])
            .max_age(Duration::from_secs(config.max_age_secs)),
    )
}
