//! `GET /v1/asyncapi.json`: the WebSocket frames of `GET /v1/ws` as an
//! AsyncAPI 3 document. Written by hand beside the frames (`realtime::frames`,
//! the client events of `ciphertalk_projections::client_event`) and held to
//! what the server really sends by the black-box test `asyncapi`, which
//! validates every frame of a session against it.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("asyncapi.json");

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/v1/asyncapi.json",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response() }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_document_is_asyncapi_3_json() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        assert_eq!(doc["asyncapi"], "3.0.0");
        assert_eq!(doc["channels"]["ws"]["address"], "/v1/ws");
    }
}
