//! The OpenAPI document and the router agree: every route the gateway serves
//! is documented, and every documented route is served.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::support::app::{Anonymous, spawn_app};

/// Served, but not part of the REST API the document describes.
const UNDOCUMENTED: &[&str] = &[
    "/health",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/v1/openapi.json",
    "/v1/asyncapi.json",
    "/v1/ws",
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The paths registered in an axum router. axum has no public route listing,
/// but its `Debug` output names every path (`Node { paths: {...} }`); this
/// fails loudly, rather than passing vacuously, if that ever changes.
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    let paths: BTreeSet<String> = debug
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/') && !s.contains("__private__"))
        .map(str::to_owned)
        .collect();
    assert!(paths.contains("/v1/rooms") && paths.contains("/health"), "cannot read the routes: {debug}");
    paths
}

/// `/v1/rooms/{id}` -> `/v1/rooms/<a uuid>` (and `{index}` -> `0`).
fn concrete(path: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    path.split('/')
        .map(|part| match part {
            // A chunk index is a number, not an id.
            "{index}" => "0",
            part if part.starts_with('{') => id.as_str(),
            part => part,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let chat = spawn_app().await;
    let router = ciphertalk_gateway::http::router(chat.server().state.clone());
    let paths = router_paths(&router);

    // Which methods each path serves: an unserved method on a known path is
    // 405, an unknown path the fallback's 404; anything else (401 without a
    // token, 4xx for an empty body) means served.
    let mut served = BTreeSet::new();
    for path in paths.iter().filter(|path| !UNDOCUMENTED.contains(&path.as_str())) {
        for method in METHODS {
            let (status, _) = chat.call(Anonymous, method, &concrete(path), None).await;
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}");
            if status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND {
                served.insert((method.to_lowercase(), path.clone()));
            }
        }
    }

    let (status, doc) = chat.call(Anonymous, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)) {
                assert!(
                    operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents no response"
                );
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in /v1/openapi.json: {undocumented:?}");
    assert!(unserved.is_empty(), "in /v1/openapi.json but not served: {unserved:?}");

    // Every admin route documents its refusal of non-admins.
    for (method, path) in documented.iter().filter(|(_, path)| path.starts_with("/v1/admin/")) {
        let responses = &doc["paths"][path.as_str()][method.as_str()]["responses"];
        assert!(responses["403"].is_object(), "{method} {path} documents no 403");
    }
    for path in ["/v1/admin/audit", "/v1/admin/rooms/{id}/state", "/v1/admin/files/{id}", "/v1/admin/status"]
    {
        assert!(documented.iter().any(|(_, documented)| documented == path), "{path} is not documented");
    }

    // The confirmation of a presigned chunk PUT: a session's call, its refusals documented.
    let confirm = &doc["paths"]["/v1/files/{id}/chunks/{index}"]["post"];
    assert!(confirm["security"].is_array(), "the confirmation needs a session");
    for status in ["200", "403", "404", "409", "422"] {
        assert!(confirm["responses"][status].is_object(), "confirm_chunk documents no {status}");
    }
    let upload_url = &doc["components"]["schemas"]["UploadUrl"]["properties"];
    assert!(
        upload_url["upload_headers"].is_object() && upload_url["confirm_url"].is_object(),
        "{upload_url}"
    );

    // Bodies are documented with their schemas.
    let send = &doc["paths"]["/v1/rooms/{id}/messages"]["post"];
    assert_eq!(
        send["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SendBody"
    );
    assert_eq!(
        send["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/MessageJson"
    );
    let offer = &doc["paths"]["/v1/webrtc/offer"]["post"];
    assert_eq!(
        offer["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SignalBody"
    );
    assert!(offer["responses"]["409"].is_object(), "peer_offline is documented");
    assert_eq!(
        doc["paths"]["/v1/webrtc/turn"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TurnCredentials"
    );
    for schema in [
        "RoomJson",
        "MemberJson",
        "RoomPage",
        "MessageJson",
        "MessagePage",
        "ContactPage",
        "CreateRoomBody",
        "PlaybackBody",
        "Playback",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    chat.stop().await;
}
