//! The API's edges: bad input in the error format, rate limits across gateways, the OpenAPI document.

use super::*;

#[tokio::test]
async fn bad_input_gets_the_right_client_error_and_never_a_500() {
    let app = spawn_app().await;
    let raw = |path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = app.http.post(format!("{}{path}", app.base(0))).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let json_type = Some("application/json");
    // (path, content type, body, expected status, expected code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("/v1/auth/register", json_type, b"{\"email\": ".to_vec(), 400, "malformed_json"),
        ("/v1/auth/login", json_type, b"not json".to_vec(), 400, "malformed_json"),
        ("/v1/auth/login", None, b"{}".to_vec(), 400, "malformed_json"),
        ("/v1/auth/login", json_type, b"{\"email\": 5, \"password\": true}".to_vec(), 422, "invalid_value"),
        ("/v1/auth/login", json_type, b"{\"email\": \"a@b.org\"}".to_vec(), 422, "invalid_value"),
        ("/v1/auth/register", json_type, b"[]".to_vec(), 422, "invalid_value"),
        ("/v1/auth/refresh", json_type, b"{\"refresh_token\": null}".to_vec(), 422, "invalid_value"),
        (
            "/v1/auth/refresh",
            json_type,
            b"{\"refresh_token\": \"made-up\"}".to_vec(),
            401,
            "invalid_refresh_token",
        ),
        ("/v1/auth/phone/start", json_type, b"{\"phone\": \"0151 1234567\"}".to_vec(), 422, "invalid_value"),
        ("/v1/auth/phone/start", json_type, b"{\"phone\": \"+12\"}".to_vec(), 422, "invalid_value"),
        (
            "/v1/auth/phone/verify",
            json_type,
            b"{\"session_id\": \"nope\", \"code\": \"123456\"}".to_vec(),
            422,
            "invalid_value",
        ),
        (
            "/v1/auth/phone/verify",
            json_type,
            format!("{{\"session_id\": \"{}\", \"code\": \"12a456\"}}", uuid::Uuid::new_v4()).into_bytes(),
            422,
            "invalid_value",
        ),
        (
            "/v1/auth/phone/verify",
            json_type,
            format!("{{\"session_id\": \"{}\", \"code\": \"123456\"}}", uuid::Uuid::new_v4()).into_bytes(),
            404,
            "not_found",
        ),
    ];
    for (path, content_type, body, status, code) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (got, answer) = raw(path, content_type, body).await;
        assert_eq!(got.as_u16(), status, "{path} {shown}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{path} {shown}: {answer}");
    }
    // A 1 MB password (under the body limit): refused as a value, not hashed.
    let big = json!({"email": "big@example.org", "password": "x".repeat(1_000_000), "display_name": "Big"});
    let (status, body) = raw("/v1/auth/register", json_type, big.to_string().into_bytes()).await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = raw(
        "/v1/auth/login",
        json_type,
        json!({"email": "big@example.org", "password": "x".repeat(1_000_000)}).to_string().into_bytes(),
    )
    .await;
    assert_error(status, &body, 401, "invalid_credentials");
    // Over the 1 MiB body limit.
    let (status, body) = raw("/v1/auth/login", json_type, vec![b' '; 2 << 20]).await;
    assert_error(status, &body, 413, "too_large");
    // Unknown routes and methods, in the same error format.
    let (status, body) = app.call(Anonymous, "GET", "/v1/auth/login", None).await;
    assert_error(status, &body, 405, "method_not_allowed");
    let (status, body) = app.call(Anonymous, "GET", "/v1/nothing-here", None).await;
    assert_error(status, &body, 404, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_hold_across_gateway_processes_and_can_be_switched_off() {
    let mut app = spawn_app()
        .gateways(2)
        .config(|config| {
            config.rate_limits.mode = Toggle::On;
            // A long window, so that the test cannot straddle a window boundary.
            config.rate_limits.window_secs = 3600;
            config.rate_limits.login_per_ip = 100;
            config.rate_limits.login_per_account = 3;
            config.rate_limits.register_per_ip = 2;
        })
        .await;
    let (one, two) = (&app.gateways[0], &app.gateways[1]);
    let http = app.http.clone();
    let login = |server: &Server| {
        http.post(format!("http://{}/v1/auth/login", server.addr))
            .json(&json!({"email": "target@example.org", "password": "guessing password"}))
            .send()
    };
    let mut statuses = Vec::new();
    for i in 0..4 {
        let response = login(if i % 2 == 0 { one } else { two }).await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=3600).contains(&retry), "Retry-After {retry}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 429], "the limit is shared by both processes");
    // Per IP: the third registration from this address is refused.
    let mut statuses = Vec::new();
    for i in 0..3 {
        let response = http
            .post(format!("http://{}/v1/auth/register", two.addr))
            .json(&json!({"email": format!("r{i}@example.org"), "password": "long enough password", "display_name": "R"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
    app.stop_gateways().await;

    let off = app.add_gateway(|config| config.rate_limits.mode = Toggle::Off).await;
    for _ in 0..6 {
        assert_eq!(login(off).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_auth_key_and_user_route() {
    let app = spawn_app().await;
    let (status, doc) = app.call(Anonymous, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("post", "/v1/auth/register"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/auth/logout"),
        ("get", "/v1/auth/me"),
        ("post", "/v1/auth/phone/start"),
        ("post", "/v1/auth/phone/verify"),
        ("post", "/v1/ws/ticket"),
        ("put", "/v1/keys"),
        ("post", "/v1/keys/one-time"),
        ("get", "/v1/keys/count"),
        ("get", "/v1/users/{id}/prekey-bundle"),
        ("get", "/v1/users/{id}"),
        ("get", "/v1/users"),
        ("patch", "/v1/users/me"),
        ("patch", "/v1/users/me/settings"),
    ];
    for (method, path) in expected {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
    }
    let schemas = &doc["components"]["schemas"];
    for schema in ["Tokens", "UserJson", "RegisterBody", "PrekeyBundle", "ErrorBody"] {
        assert!(schemas[schema].is_object(), "schema {schema} missing");
    }
    assert_eq!(
        doc["paths"]["/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/RegisterBody"
    );
    app.stop().await;
}
