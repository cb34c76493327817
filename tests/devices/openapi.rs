//! The device routes and the changed answers are in the OpenAPI document.

use super::*;

#[tokio::test]
async fn the_device_routes_and_shapes_are_documented() {
    let app = spawn_app().await;
    let (status, doc) = app.get(Anonymous, "/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for (method, path) in [
        ("get", "/v1/devices"),
        ("patch", "/v1/devices/{device_id}"),
        ("delete", "/v1/devices/{device_id}"),
        ("get", "/v1/users/{id}/devices"),
        ("get", "/v1/users/{id}/prekey-bundle"),
        ("get", "/v1/users/{id}/devices/{device_id}/prekey-bundle"),
    ] {
        assert!(doc["paths"][path][method]["responses"].is_object(), "{method} {path} missing");
    }
    let schemas = &doc["components"]["schemas"];
    for schema in ["DeviceBody", "DeviceJson", "DeviceList", "DevicePatch", "UserDeviceList", "PrekeyBundles"]
    {
        assert!(schemas[schema].is_object(), "schema {schema} missing");
    }
    assert!(schemas["Tokens"]["properties"]["device_id"].is_object(), "{}", schemas["Tokens"]);
    assert!(schemas["PrekeyBundle"]["properties"]["device_id"].is_object(), "{}", schemas["PrekeyBundle"]);
    let bundle = &doc["paths"]["/v1/users/{id}/prekey-bundle"]["get"]["responses"]["200"];
    assert_eq!(bundle["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/PrekeyBundles");
}
