//! docs/api.md's route table is the served OpenAPI document's list of
//! operations, no more and no less, so the reference cannot drift from the
//! code: a new route fails here until it has its row.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;

use crate::support::app::{Anonymous, spawn_app};

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "PATCH"];

/// `(METHOD, path)` of each table row `` | `METHOD` | `path` | ... | ``.
fn documented_routes(text: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, method, path, ..] = cells.as_slice() else { continue };
        let unquote =
            |cell: &str| cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')).map(str::to_owned);
        let (Some(method), Some(path)) = (unquote(method), unquote(path)) else { continue };
        if METHODS.contains(&method.as_str()) {
            assert!(routes.insert((method.clone(), path.clone())), "docs/api.md lists {method} {path} twice");
        }
    }
    routes
}

#[tokio::test]
async fn docs_api_md_lists_exactly_the_operations_of_the_openapi_document() {
    let app = spawn_app().await;
    let (status, doc) = app.call(Anonymous, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if METHODS.contains(&method.as_str()) {
                served.insert((method, path.clone()));
            }
        }
    }
    assert!(served.len() > 30, "{served:?}");

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let listed = documented_routes(&text);
    let missing: Vec<_> = served.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&served).collect();
    assert!(missing.is_empty(), "in /v1/openapi.json, not in docs/api.md's route table: {missing:?}");
    assert!(extra.is_empty(), "in docs/api.md's route table, not in /v1/openapi.json: {extra:?}");
    assert!(text.contains("/v1/asyncapi.json"), "docs/api.md does not point at the WebSocket document");
    app.stop().await;
}
