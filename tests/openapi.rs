//! The served OpenAPI document is one a client generator can use: query
//! parameters in the query, path parameters matching the path templates,
//! and the error answers each route gives declared.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{Anonymous, spawn_app};

/// Names the routes take in their query strings; never path parameters.
const QUERY_NAMES: [&str; 9] =
    ["limit", "cursor", "before", "after", "for", "query", "since", "ticket", "kind"];

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                operations.push((method.clone(), path.clone(), operation));
            }
        }
    }
    assert!(operations.len() > 30, "{operations:?}");
    operations
}

/// The `{x}` names of a path template, in order.
fn template_names(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|part| part.strip_prefix('{')?.strip_suffix('}')).collect()
}

fn parameters<'a>(operation: &'a Value, place: &str) -> Vec<&'a Value> {
    operation["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == place).collect()
}

#[tokio::test]
async fn the_openapi_document_places_parameters_and_declares_error_answers() {
    let app = spawn_app().await;
    let (status, doc) = app.call(Anonymous, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);

    for (method, path, operation) in operations(&doc) {
        let what = format!("{method} {path}");
        let in_path = parameters(operation, "path");
        for parameter in &in_path {
            let name = parameter["name"].as_str().unwrap();
            assert!(!QUERY_NAMES.contains(&name), "{what}: query parameter {name} declared in: path");
            assert_eq!(parameter["required"], true, "{what}: path parameter {name}");
        }
        // Exactly one `in: path` parameter per `{x}`, and none besides.
        let mut declared: Vec<&str> = in_path.iter().map(|p| p["name"].as_str().unwrap()).collect();
        let mut expected = template_names(&path);
        declared.sort_unstable();
        expected.sort_unstable();
        assert_eq!(declared, expected, "{what}: path parameters");

        let responses: BTreeSet<&str> =
            operation["responses"].as_object().unwrap().keys().map(String::as_str).collect();
        if operation["security"].as_array().is_some_and(|security| !security.is_empty()) {
            assert!(responses.contains("401"), "{what}: bearer security without 401: {responses:?}");
        }
        assert!(responses.iter().any(|status| status.starts_with('4')), "{what}: no 4xx: {responses:?}");
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('4') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{what}: {status} without the error body"
                );
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_types_queries_enums_and_formats() {
    let app = spawn_app().await;
    let (_, doc) = app.call(Anonymous, "GET", "/v1/openapi.json", None).await;
    let parameter = |path: &str, method: &str, name: &str| -> Value {
        let found = doc["paths"][path][method]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .cloned();
        found.unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
    };

    // Lists: optional paging in the query.
    for (path, names) in [
        ("/v1/rooms", &["limit", "cursor"][..]),
        ("/v1/contacts", &["limit", "cursor"]),
        ("/v1/blocks", &["limit", "cursor"]),
        ("/v1/inbox", &["limit", "after"]),
        ("/v1/rooms/{id}/messages", &["limit", "before", "after"]),
        ("/v1/users", &["limit", "cursor"]),
    ] {
        for name in names {
            let p = parameter(path, "get", name);
            assert_eq!(p["in"], "query", "{path} {name}");
            assert_ne!(p["required"], true, "{path} {name} is optional");
        }
    }
    let limit = parameter("/v1/rooms", "get", "limit");
    assert_eq!((&limit["schema"]["minimum"], &limit["schema"]["maximum"]), (&1.into(), &200.into()));
    let query = parameter("/v1/users", "get", "query");
    assert_eq!((&query["in"], &query["required"]), (&"query".into(), &true.into()));
    let scope = parameter("/v1/rooms/{id}/messages/{message_id}", "delete", "for");
    assert_eq!(scope["in"], "query");
    assert_eq!(enum_of(&scope["schema"], &doc), ["everyone", "me"]);
    let id = parameter("/v1/rooms/{id}", "get", "id");
    assert_eq!((&id["in"], &id["schema"]["format"]), (&"path".into(), &"uuid".into()));

    // Enums the server enforces.
    let schemas = &doc["components"]["schemas"];
    for (schema, field, values) in [
        ("RoomJson", "kind", &["direct", "group"][..]),
        ("RoomJson", "join_rule", &["open", "invite"]),
        ("CreateRoomBody", "kind", &["direct", "group"]),
        ("CreateRoomBody", "join_rule", &["open", "invite"]),
        ("RoomPatch", "join_rule", &["open", "invite"]),
        ("MemberJson", "role", &["owner", "admin", "member"]),
        ("MemberBody", "role", &["owner", "admin", "member"]),
        ("ReceiptBody", "kind", &["delivered", "read"]),
        ("SettingsJson", "last_seen_visible_to", &["everybody", "contacts", "nobody"]),
        ("SettingsPatch", "last_seen_visible_to", &["everybody", "contacts", "nobody"]),
        ("TargetJson", "kind", &["message", "file", "user"]),
        ("ReportJson", "status", &["open", "dismissed", "actioned"]),
        ("ResolveBody", "action", &["dismiss", "takedown"]),
        ("RoleBody", "role", &["user", "admin"]),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(enum_of(property, &doc), values, "{schema}.{field}: {property}");
    }
    for (schema, field) in
        [("CreateRoomBody", "join_rule"), ("MemberBody", "role"), ("SettingsPatch", "last_seen_visible_to")]
    {
        let required = schemas[schema]["required"].as_array().cloned().unwrap_or_default();
        assert!(!required.contains(&field.into()), "{schema}.{field} is optional");
    }

    // Formats.
    for (schema, field, format) in [
        ("SendBody", "ciphertext", "byte"),
        ("PublishKeysBody", "identity_key", "byte"),
        ("SignedPrekeyJson", "public_key", "byte"),
        ("MessageJson", "id", "uuid"),
        ("MessageJson", "sent_at", "date-time"),
        ("PhoneVerifyBody", "session_id", "uuid"),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(property["format"], format, "{schema}.{field}: {property}");
    }
    app.stop().await;
}

/// The non-null values of an enum schema, following a `$ref` and `oneOf`s.
fn enum_of<'a>(schema: &'a Value, doc: &'a Value) -> Vec<&'a str> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return enum_of(&doc["components"]["schemas"][name], doc);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        return options.iter().flat_map(|option| enum_of(option, doc)).collect();
    }
    schema["enum"].as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}
