//! Accounts and authentication over HTTP: email and phone login, token
//! rotation and theft detection, the key directory, profiles, search,
//! settings, rate limits, tickets, OpenAPI, bad input, and what reaches the logs.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ciphertalk_gateway::config::{Config, Secret, SmsMode, Toggle};
use ciphertalk_gateway::serve::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Anonymous, JWT_SECRET, assert_error, spawn_app};
use crate::support::binary::ServeProcess;
use crate::support::temp_dir;

fn token(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_else(|| panic!("no {field} in {body}")).to_owned()
}

#[tokio::test]
async fn email_accounts_register_log_in_refresh_and_log_out() {
    let app = spawn_app().await;
    let registered = app.register("Alice@Example.org", "Alice").await;
    let user = &registered["user"];
    assert_eq!(user["email"], "alice@example.org");
    assert_eq!(user["display_name"], "Alice");
    assert!(user["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(user["created_at"].is_string());
    assert_eq!(registered["expires_in"], 900);
    for absent in ["phone", "username", "bio", "avatar_file_id"] {
        assert!(user.get(absent).is_none(), "{absent} should be absent: {user}");
    }

    let (status, me) = app.get(&token(&registered, "access_token"), "/v1/auth/me").await;
    assert_eq!((status, &me), (StatusCode::OK, user));

    let (status, login) = app
        .post(
            Anonymous,
            "/v1/auth/login",
            json!({"email": "ALICE@example.org", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["user"]["id"], user["id"]);

    // Rotation: each refresh spends its token and hands out the next.
    let first = token(&login, "refresh_token");
    let (status, rotated) = app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": first})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = token(&rotated, "refresh_token");
    assert_ne!(first, second);
    let (status, _) = app.get(&token(&rotated, "access_token"), "/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    // The spent one again: refused, and its whole family with it.
    let (status, body) = app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": first})).await;
    assert_error(status, &body, 401, "invalid_refresh_token");
    let (status, body) = app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": second})).await;
    assert_error(status, &body, 401, "invalid_refresh_token");

    // The registration's session is another family, untouched; logout ends it.
    let own = token(&registered, "refresh_token");
    let access = token(&registered, "access_token");
    let (status, _) =
        app.call(Anonymous, "POST", "/v1/auth/logout", Some(json!({"refresh_token": own}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logout needs the access token");
    let (status, body) =
        app.call(&access, "POST", "/v1/auth/logout", Some(json!({"refresh_token": own}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": own})).await;
    assert_error(status, &body, 401, "invalid_refresh_token");
    app.stop().await;
}

#[tokio::test]
async fn registration_refuses_taken_emails_weak_passwords_and_bad_values() {
    let app = spawn_app().await;
    app.register("bob@example.org", "Bob").await;
    let attempt = |email: &str, password: &str, name: &str| {
        app.post(
            Anonymous,
            "/v1/auth/register",
            json!({"email": email, "password": password, "display_name": name}),
        )
    };
    let (status, body) = attempt("BOB@Example.ORG", "another good password", "Bob 2").await;
    assert_error(status, &body, 409, "email_taken");
    let (status, body) = attempt("carol@example.org", "short", "Carol").await;
    assert_error(status, &body, 422, "weak_password");
    let (status, body) = attempt("carol@example.org", "ninechars", "Carol").await;
    assert_error(status, &body, 422, "weak_password");
    for bad in ["carol", "carol@localhost", "a@b@c.org", ""] {
        let (status, body) = attempt(bad, "long enough password", "Carol").await;
        assert_error(status, &body, 422, "invalid_value");
        assert_eq!(body["error"]["details"]["field"], "email");
    }
    let (status, body) = attempt("carol@example.org", "long enough password", "   ").await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = attempt("carol@example.org", &"p".repeat(2000), "Carol").await;
    assert_error(status, &body, 422, "invalid_value");
    // Concurrent registrations of one email: exactly one wins.
    let results = futures::future::join_all(
        (0..5).map(|_| attempt("dave@example.org", "long enough password", "Dave")),
    )
    .await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let taken = results
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && b["error"]["code"] == "email_taken")
        .count();
    assert_eq!((created, taken), (1, 4), "{results:?}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer_in_comparable_time() {
    let app = spawn_app().await;
    app.register("erin@example.org", "Erin").await;
    let (mut unknown, mut wrong) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    let mut bodies = Vec::new();
    for round in 0..9 {
        for (email, into) in [("nobody@example.org", &mut unknown), ("erin@example.org", &mut wrong)] {
            let started = Instant::now();
            let (status, body) = app
                .post(Anonymous, "/v1/auth/login", json!({"email": email, "password": "not the password"}))
                .await;
            into.push(started.elapsed());
            assert_error(status, &body, 401, "invalid_credentials");
            if round == 0 {
                bodies.push(body);
            }
        }
    }
    assert_eq!(bodies[0], bodies[1], "the answers must not tell the cases apart");
    // The fastest of each: other tests hashing passwords on the same two cores
    // only ever add time. Both pay for one Argon2id verification; without the
    // dummy hash the unknown email would answer in a fraction of the time.
    let fastest = |v: &[Duration]| v.iter().copied().min().unwrap_or_default();
    let (unknown, wrong) = (fastest(&unknown), fastest(&wrong));
    assert!(unknown * 3 > wrong && wrong * 3 > unknown, "unknown {unknown:?} vs wrong password {wrong:?}");
    app.stop().await;
}

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

fn sign(claims: &Value, key: &[u8], alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

#[tokio::test]
async fn expired_forged_unsigned_and_foreign_tokens_are_unauthenticated() {
    let app = spawn_app().await;
    let registered = app.register("frank@example.org", "Frank").await;
    let good = token(&registered, "access_token");
    let sub = registered["user"]["id"].as_str().unwrap().to_owned();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |iat: u64, exp: u64| json!({"sub": sub, "iat": iat, "exp": exp, "jti": uuid::Uuid::new_v4(), "adm": true});
    let hs256 = jsonwebtoken::Algorithm::HS256;
    let (header, payload, signature) = {
        let mut parts = good.split('.');
        (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
    };
    // Same signature, claims changed to make the holder an admin.
    let mut forged_claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    forged_claims["adm"] = json!(true);
    let forged = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(forged_claims.to_string()));
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now, now + 600).to_string())
    );
    let tokens = [
        ("expired", sign(&claims(now - 3600, now - 600), JWT_SECRET.as_bytes(), hs256)),
        ("issued in the future", sign(&claims(now + 600, now + 1200), JWT_SECRET.as_bytes(), hs256)),
        ("wrong key", sign(&claims(now, now + 600), b"some-other-key-some-other-key-0123", hs256)),
        ("HS512", sign(&claims(now, now + 600), JWT_SECRET.as_bytes(), jsonwebtoken::Algorithm::HS512)),
        ("alg none", none),
        ("forged claims", forged),
        ("no jti", sign(&json!({"sub": sub, "iat": now, "exp": now + 600}), JWT_SECRET.as_bytes(), hs256)),
        ("garbage", "abc.def.ghi".to_owned()),
        ("empty", String::new()),
    ];
    for (what, bad) in tokens {
        let (status, body) = app.get(&bad, "/v1/auth/me").await;
        assert_error(status, &body, 401, "unauthenticated");
        assert!(!body.to_string().contains(&sub), "{what}: {body}");
    }
    let (status, body) = app.call(Anonymous, "GET", "/v1/auth/me", None).await;
    assert_error(status, &body, 401, "unauthenticated");
    let response = app
        .http
        .get(format!("{}/v1/auth/me", app.base(0)))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A token signed with the right key is accepted, also when made elsewhere.
    let (status, _) =
        app.get(&sign(&claims(now, now + 600), JWT_SECRET.as_bytes(), hs256), "/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

fn claims_of(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn admins_named_in_the_configuration_get_admin_tokens() {
    let app =
        spawn_app().config(|config| config.auth.admins = " Root@Example.org , ops@example.org".into()).await;
    let root = app.register("root@example.org", "Root").await;
    let user = app.register("user@example.org", "User").await;
    assert_eq!(claims_of(&token(&root, "access_token"))["adm"], true);
    assert_eq!(claims_of(&token(&user, "access_token"))["adm"], false);
    let claims = claims_of(&token(&user, "access_token"));
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 900);
    assert!(claims["jti"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    let (_, refreshed) = app
        .post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": token(&root, "refresh_token")}))
        .await;
    assert_eq!(claims_of(&token(&refreshed, "access_token"))["adm"], true);
    app.stop().await;
}

/// `CIPHERTALK_ADMINS` is checked again at every login and refresh: once an
/// address leaves it, that user's next tokens are a user's.
#[tokio::test]
async fn an_address_removed_from_the_admins_demotes_at_the_next_refresh_and_login() {
    let mut app = spawn_app().config(|config| config.auth.admins = "root@example.org".into()).await;
    let root = app.register("root@example.org", "Root").await;
    assert_eq!(claims_of(&token(&root, "access_token"))["adm"], true);

    // The same database and NATS, restarted with nobody named.
    app.stop_gateways().await;
    app.add_gateway(|config| config.auth.admins = String::new()).await;
    let (status, refreshed) = app
        .post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": token(&root, "refresh_token")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(claims_of(&token(&refreshed, "access_token"))["adm"], false);
    let login = json!({"email": "root@example.org", "password": "correct horse battery"});
    let (status, logged_in) = app.post(Anonymous, "/v1/auth/login", login).await;
    assert_eq!(status, StatusCode::OK, "{logged_in}");
    assert_eq!(claims_of(&token(&logged_in, "access_token"))["adm"], false);
    app.stop().await;
}

#[tokio::test]
async fn phone_login_creates_the_user_on_first_verify_and_limits_attempts() {
    let app = spawn_app().config(|config| config.auth.phone_code_ttl_secs = 2).await;
    let phone = "+4915112345678";
    let (status, started) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["attempts_remaining"], 3);
    assert!(started["expires_at"].is_string());
    let session = started["session_id"].clone();
    let code = app.last_code(phone);
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) =
        app.post(Anonymous, "/v1/auth/phone/verify", json!({"session_id": session, "code": wrong})).await;
    assert_error(status, &body, 401, "wrong_code");
    assert_eq!(body["error"]["details"]["attempts_remaining"], 2);
    let (status, first) =
        app.post(Anonymous, "/v1/auth/phone/verify", json!({"session_id": session, "code": code})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["user"]["phone"], phone);
    assert!(first["user"].get("email").is_none());
    // Used once: gone.
    let (status, body) =
        app.post(Anonymous, "/v1/auth/phone/verify", json!({"session_id": session, "code": code})).await;
    assert_error(status, &body, 410, "login_session_gone");

    // The next login of the same number finds the same user.
    let (_, again) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
    let code = app.last_code(phone);
    let (status, second) = app
        .post(Anonymous, "/v1/auth/phone/verify", json!({"session_id": again["session_id"], "code": code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["user"]["id"], first["user"]["id"]);

    // Three wrong codes: the session is gone, even for the right code.
    let (_, third) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
    let code = app.last_code(phone);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in [2, 1, 0] {
        let (status, body) = app
            .post(
                Anonymous,
                "/v1/auth/phone/verify",
                json!({"session_id": third["session_id"], "code": wrong}),
            )
            .await;
        assert_error(status, &body, 401, "wrong_code");
        assert_eq!(body["error"]["details"]["attempts_remaining"], remaining);
    }
    let (status, body) = app
        .post(Anonymous, "/v1/auth/phone/verify", json!({"session_id": third["session_id"], "code": code}))
        .await;
    assert_error(status, &body, 410, "login_session_gone");

    // Expired after its lifetime.
    let (_, late) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
    let code = app.last_code(phone);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, body) = app
        .post(Anonymous, "/v1/auth/phone/verify", json!({"session_id": late["session_id"], "code": code}))
        .await;
    assert_error(status, &body, 410, "login_session_gone");
    app.stop().await;
}

#[tokio::test]
async fn phone_login_is_unavailable_when_no_sender_is_configured() {
    let app = spawn_app().config(|config| config.sms.mode = Some(SmsMode::Off)).await;
    let (status, body) =
        app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": "+4915112345678"})).await;
    assert_error(status, &body, 503, "sms_unavailable");
    app.stop().await;
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn one_time_keys(ids: std::ops::Range<u32>) -> Vec<Value> {
    ids.map(|id| json!({"key_id": id, "public_key": b64(&[id as u8, 1, 2, 3])})).collect()
}

#[tokio::test]
async fn prekey_bundles_hand_out_each_one_time_key_once_under_concurrency() {
    let app = spawn_app().await;
    let bob = app.register("bob@example.org", "Bob").await;
    let alice = app.register("alice@example.org", "Alice").await;
    let (bob_token, alice_token) = (token(&bob, "access_token"), token(&alice, "access_token"));
    let bob_id = bob["user"]["id"].as_str().unwrap().to_owned();
    let bundle_path = format!("/v1/users/{bob_id}/prekey-bundle");

    let (status, body) = app.get(&alice_token, &bundle_path).await;
    assert_error(status, &body, 404, "keys_not_published");
    let (status, body) = app
        .call(&bob_token, "POST", "/v1/keys/one-time", Some(json!({"one_time_prekeys": one_time_keys(0..2)})))
        .await;
    assert_error(status, &body, 404, "keys_not_published");

    let identity = b64(b"bob identity key");
    let signed = json!({"key_id": 7, "public_key": b64(b"signed prekey"), "signature": b64(b"signature")});
    let publish =
        json!({"identity_key": identity, "signed_prekey": signed, "one_time_prekeys": one_time_keys(0..30)});
    let (status, body) = app.call(&bob_token, "PUT", "/v1/keys", Some(publish)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app
        .call(
            &bob_token,
            "POST",
            "/v1/keys/one-time",
            Some(json!({"one_time_prekeys": one_time_keys(30..40)})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, count) = app.get(&bob_token, "/v1/keys/count").await;
    assert_eq!((status, count), (StatusCode::OK, json!({"one_time_prekeys": 40})));

    // Bad keys: not base64, duplicate ids.
    let (status, body) = app
        .call(
            &bob_token,
            "POST",
            "/v1/keys/one-time",
            Some(json!({"one_time_prekeys": [{"key_id": 99, "public_key": "not base64!"}]})),
        )
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = app
        .call(&bob_token, "POST", "/v1/keys/one-time", Some(json!({"one_time_prekeys": one_time_keys(5..6)})))
        .await;
    assert_error(status, &body, 422, "invalid_value");

    // 50 concurrent fetches for 40 keys.
    let fetches = futures::future::join_all((0..50).map(|_| app.get(&alice_token, &bundle_path))).await;
    let mut handed_out = std::collections::HashSet::new();
    let mut without = 0;
    for (status, bundle) in &fetches {
        assert_eq!(*status, StatusCode::OK, "{bundle}");
        assert_eq!(bundle["identity_key"], identity);
        assert_eq!(bundle["signed_prekey"], signed);
        match bundle.get("one_time_prekey") {
            Some(key) => {
                assert!(handed_out.insert(key["key_id"].as_u64().unwrap()), "handed out twice: {key}")
            }
            None => without += 1,
        }
    }
    assert_eq!((handed_out.len(), without), (40, 10));
    let (_, count) = app.get(&bob_token, "/v1/keys/count").await;
    assert_eq!(count, json!({"one_time_prekeys": 0}));
    let (status, bundle) = app.get(&alice_token, &bundle_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bundle.get("one_time_prekey").is_none(), "{bundle}");

    let (status, body) =
        app.get(&alice_token, &format!("/v1/users/{}/prekey-bundle", uuid::Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get(&alice_token, "/v1/users/not-a-uuid/prekey-bundle").await;
    assert_error(status, &body, 404, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn profiles_usernames_search_and_settings() {
    let app = spawn_app().await;
    let ann = app.register("ann@example.org", "Ann Lee").await;
    let ben = app.register("ben@example.org", "Benjamin").await;
    let (ann_token, ben_token) = (token(&ann, "access_token"), token(&ben, "access_token"));
    let ann_id = ann["user"]["id"].as_str().unwrap().to_owned();

    let (status, me) = app
        .patch(
            &ann_token,
            "/v1/users/me",
            json!({"username": "Ann_99", "bio": "hello", "display_name": "Ann"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (me["username"].as_str(), me["bio"].as_str(), me["display_name"].as_str()),
        (Some("ann_99"), Some("hello"), Some("Ann"))
    );
    let (status, body) = app.patch(&ben_token, "/v1/users/me", json!({"username": "ANN_99"})).await;
    assert_error(status, &body, 409, "username_taken");
    for bad in ["ab", "has-dash", "x".repeat(33).as_str()] {
        let (status, body) = app.patch(&ben_token, "/v1/users/me", json!({"username": bad})).await;
        assert_error(status, &body, 422, "invalid_value");
    }
    // Renaming frees the old name for others.
    let (status, _) = app.patch(&ann_token, "/v1/users/me", json!({"username": "ann_lee"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.patch(&ben_token, "/v1/users/me", json!({"username": "ann_99"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, by_username) = app.get(&ben_token, "/v1/users?query=ANN_").await;
    let found: Vec<&str> =
        by_username["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(
        found,
        ["ann_lee", "ann_99"],
        "by display name (Ann, Benjamin); '_' is no wildcard: {by_username}"
    );
    let (_, no_wildcard) = app.get(&ben_token, "/v1/users?query=ann%25").await;
    assert_eq!(no_wildcard["items"], json!([]));
    // Concurrent claims of one name: one wins.
    let results = futures::future::join_all([
        app.patch(&ann_token, "/v1/users/me", json!({"username": "zed"})),
        app.patch(&ben_token, "/v1/users/me", json!({"username": "zed"})),
    ])
    .await;
    assert_eq!(results.iter().filter(|(s, _)| *s == StatusCode::OK).count(), 1, "{results:?}");

    // Others see the public profile, read back at once; the owner sees more.
    let (status, seen) = app.get(&ben_token, &format!("/v1/users/{ann_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["bio"], "hello");
    assert!(seen.get("email").is_none(), "{seen}");
    let (_, own) = app.get(&ann_token, &format!("/v1/users/{ann_id}")).await;
    assert_eq!(own["email"], "ann@example.org");
    let (status, body) = app.get(&ann_token, &format!("/v1/users/{}", uuid::Uuid::now_v7())).await;
    assert_error(status, &body, 404, "not_found");
    let (status, cleared) = app.patch(&ann_token, "/v1/users/me", json!({"bio": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cleared.get("bio").is_none(), "{cleared}");

    // Search by username or display-name prefix, paged.
    for i in 0..3 {
        app.register(&format!("benny{i}@example.org"), &format!("Benny {i}")).await;
    }
    let (status, page) = app.get(&ann_token, "/v1/users?query=ben").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let names: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|u| u["display_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Benjamin", "Benny 0", "Benny 1", "Benny 2"]);
    assert!(page["next"].is_null());
    assert!(page["items"][0].get("email").is_none());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?query=benn&limit=2&cursor={c}"),
            None => "/v1/users?query=benn&limit=2".to_owned(),
        };
        let (status, page) = app.get(&ann_token, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"].as_array().unwrap().iter().map(|u| u["display_name"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["Benny 0", "Benny 1", "Benny 2"]);
    for bad in [
        "/v1/users?query=",
        "/v1/users",
        "/v1/users?query=a&limit=0",
        "/v1/users?query=a&limit=201",
        "/v1/users?query=a&limit=x",
    ] {
        let (status, body) = app.get(&ann_token, bad).await;
        assert_error(status, &body, 422, "invalid_value");
    }
    let (status, body) = app.get(&ann_token, "/v1/users?query=a&cursor=zzz").await;
    assert_error(status, &body, 422, "invalid_cursor");

    // Settings.
    let (status, settings) = app.get(&ann_token, "/v1/users/me/settings").await;
    assert_eq!(
        (status, settings),
        (StatusCode::OK, json!({"last_seen_visible_to": "everybody", "notifications": true}))
    );
    let (status, settings) = app
        .call(
            &ann_token,
            "PATCH",
            "/v1/users/me/settings",
            Some(json!({"last_seen_visible_to": "contacts", "notifications": false})),
        )
        .await;
    assert_eq!(
        (status, settings),
        (StatusCode::OK, json!({"last_seen_visible_to": "contacts", "notifications": false}))
    );
    let (status, body) = app
        .call(&ann_token, "PATCH", "/v1/users/me/settings", Some(json!({"last_seen_visible_to": "martians"})))
        .await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) =
        app.call(Anonymous, "PATCH", "/v1/users/me/settings", Some(json!({"notifications": true}))).await;
    assert_error(status, &body, 401, "unauthenticated");
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
        let response = login(if i % 2 == 0 { &one } else { &two }).await.unwrap();
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
async fn websocket_tickets_are_single_use_and_short_lived() {
    let app = spawn_app().config(|config| config.auth.ws_ticket_ttl_secs = 1).await;
    let user = app.register("tess@example.org", "Tess").await;
    let access = token(&user, "access_token");
    let (status, ticket) = app.call(&access, "POST", "/v1/ws/ticket", None).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert!(ticket["expires_at"].is_string());
    let ticket = token(&ticket, "ticket");
    let pool = &app.server().state.db;
    let consume = ciphertalk_gateway::auth::consume_ticket;
    let expected = Some(registered_id(&user));
    let results = futures::future::join_all((0..5).map(|_| consume(pool, &ticket))).await;
    let winners: Vec<_> =
        results.into_iter().map(Result::unwrap).filter_map(|holder| holder.map(|h| h.user_id)).collect();
    assert_eq!(winners.into_iter().map(Some).collect::<Vec<_>>(), vec![expected], "exactly one use");
    assert_eq!(consume(pool, "never-issued").await.unwrap(), None);
    let (_, late) = app.call(&access, "POST", "/v1/ws/ticket", None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(consume(pool, &token(&late, "ticket")).await.unwrap(), None, "expired");
    let (status, body) = app.call(Anonymous, "POST", "/v1/ws/ticket", None).await;
    assert_error(status, &body, 401, "unauthenticated");
    app.stop().await;
}

fn registered_id(body: &Value) -> ciphertalk_domain::UserId {
    body["user"]["id"].as_str().unwrap().parse().unwrap()
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

/// The real binary, a full flow, then its log: no password, token, ticket,
/// code or password hash may appear in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_logs_no_password_token_or_code() {
    let app = spawn_app().gateways(0).await;
    let dir = temp_dir("logs");
    let env = [
        ("DATABASE_URL", app.db.url.clone()),
        ("NATS_URL", app.nats.url()),
        ("CIPHERTALK_SMS", "webhook".to_owned()),
        ("CIPHERTALK_SMS_WEBHOOK_URL", app.sms_url().to_owned()),
        ("CIPHERTALK_LOG", "debug,h2=info,hyper=info".to_owned()),
        ("CIPHERTALK_RATE_LIMITS", "off".to_owned()),
    ];
    let serve = ServeProcess::start(&dir.path().join("data"), dir.path(), &env).await;
    let http = reqwest::Client::new();
    let base = serve.base.clone();
    let post = |path: &str, body: Value, bearer: Option<String>| {
        let mut request = http.post(format!("{base}{path}")).json(&body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let password = "Unmistakable-Passw0rd-4711";
    let mut secrets = vec![password.to_owned()];
    let (status, registered) = post(
        "/v1/auth/register",
        json!({"email": "log@example.org", "password": password, "display_name": "Log"}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let (status, _) =
        post("/v1/auth/login", json!({"email": "log@example.org", "password": "Wrong-Passw0rd-0815"}), None)
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    secrets.push("Wrong-Passw0rd-0815".to_owned());
    let (_, login) =
        post("/v1/auth/login", json!({"email": "log@example.org", "password": password}), None).await;
    let (_, rotated) =
        post("/v1/auth/refresh", json!({"refresh_token": token(&login, "refresh_token")}), None).await;
    let (status, _) =
        post("/v1/auth/refresh", json!({"refresh_token": token(&login, "refresh_token")}), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, ticket) = post("/v1/ws/ticket", json!({}), Some(token(&registered, "access_token"))).await;
    let (status, _) = post(
        "/v1/auth/logout",
        json!({"refresh_token": token(&registered, "refresh_token")}),
        Some(token(&registered, "access_token")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, started) = post("/v1/auth/phone/start", json!({"phone": "+4917612345678"}), None).await;
    let code = app.last_code("+4917612345678");
    let (status, phone) =
        post("/v1/auth/phone/verify", json!({"session_id": started["session_id"], "code": code}), None).await;
    assert_eq!(status, StatusCode::OK, "{phone}");
    for body in [&registered, &login, &rotated, &phone] {
        secrets.push(token(body, "access_token"));
        secrets.push(token(body, "refresh_token"));
    }
    secrets.push(token(&ticket, "ticket"));
    let log_path = serve.log.clone();
    assert!(serve.terminate().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("registered") && log.contains("phone login verified"), "the flow is logged:\n{log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret reached the log");
    }
    // The code is six digits: look for it as a whole number, not inside ids.
    let code_appears = log.match_indices(code.as_str()).any(|(at, _)| {
        let before = log[..at].chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
        let after = log[at + code.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        !before && !after
    });
    assert!(!code_appears, "the phone code reached the log");
    assert!(!log.contains("$argon2"), "a password hash reached the log");
    assert!(!log.contains(JWT_SECRET) && !log.contains("DEV SMS"));
}

/// Development mode writes the code to the log, with a marker, and only there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_sms_sender_logs_the_code_with_a_marker() {
    let app = spawn_app().gateways(0).await;
    let dir = temp_dir("devsms");
    let env = [
        ("DATABASE_URL", app.db.url.clone()),
        ("NATS_URL", app.nats.url()),
        ("CIPHERTALK_SMS", "dev".to_owned()),
    ];
    let serve = ServeProcess::start(&dir.path().join("data"), dir.path(), &env).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/phone/start", serve.base))
        .json(&json!({"phone": "+4917600000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let log_path = serve.log.clone();
    assert!(serve.terminate().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    let line = log.lines().find(|line| line.contains("DEV SMS")).expect("no DEV SMS line");
    assert!(line.contains("+4917600000001"), "{line}");
    let code: String = line.rsplit(' ').next().unwrap().chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{line}");
}

/// Without configuration, a server on external NATS and Postgres sends no
/// codes anywhere: phone login is off rather than silently in dev mode.
#[test]
fn dev_sms_is_never_the_default_outside_embedded_mode() {
    let mut config = Config::default();
    assert_eq!(config.sms_mode(), SmsMode::Dev, "fully embedded");
    config.database_url = Some(Secret::new("postgres://db/x"));
    assert_eq!(config.sms_mode(), SmsMode::Off);
    let config = Config::load_from(None, [("CIPHERTALK_SMS".to_owned(), "webhook".to_owned())]);
    assert!(config.is_err(), "webhook mode needs a URL");
}

mod properties {
    //! Property tests over HTTP: random sequences against a small model.

    use proptest::prelude::*;
    use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

    use super::*;

    #[derive(Debug, Clone)]
    enum SessionOp {
        Login,
        /// Refresh with the i-th token ever issued (spent or not: reuse included).
        Refresh(usize),
        Logout(usize),
    }

    fn session_op() -> impl Strategy<Value = SessionOp> {
        prop_oneof![
            1 => Just(SessionOp::Login),
            5 => any::<usize>().prop_map(SessionOp::Refresh),
            1 => any::<usize>().prop_map(SessionOp::Logout),
        ]
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    }

    /// Whatever the order of logins, refreshes, reuses and logouts: a token
    /// works once and only while its family is alive; a reused token kills
    /// its family; logout kills its family; other families are untouched.
    #[test]
    fn refresh_token_rotation_keeps_its_invariants() {
        let rt = runtime();
        let app = rt.block_on(spawn_app().start());
        let registered = rt.block_on(app.register("prop@example.org", "Prop"));
        let access = token(&registered, "access_token");
        let mut runner = TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
        let result = runner.run(&proptest::collection::vec(session_op(), 1..16), |ops| {
            rt.block_on(async {
                // Model: (refresh token, family, spent), and revoked families.
                let mut tokens: Vec<(String, usize, bool)> = Vec::new();
                let mut revoked: Vec<bool> = Vec::new();
                let login = json!({"email": "prop@example.org", "password": "correct horse battery"});
                for op in std::iter::once(SessionOp::Login).chain(ops) {
                    match op {
                        SessionOp::Login => {
                            let (status, body) = app.post(Anonymous, "/v1/auth/login", login.clone()).await;
                            prop_assert_eq!(status, StatusCode::OK);
                            tokens.push((token(&body, "refresh_token"), revoked.len(), false));
                            revoked.push(false);
                        }
                        SessionOp::Refresh(i) => {
                            let i = i % tokens.len();
                            let (value, family, spent) = tokens[i].clone();
                            let (status, body) = app
                                .post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": value}))
                                .await;
                            if revoked[family] || spent {
                                prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "token {} {:?}", i, body);
                                if spent {
                                    revoked[family] = true;
                                }
                            } else {
                                prop_assert_eq!(status, StatusCode::OK, "token {} {:?}", i, body);
                                tokens[i].2 = true;
                                let next = token(&body, "refresh_token");
                                prop_assert!(tokens.iter().all(|(t, _, _)| *t != next), "a token came back");
                                tokens.push((next, family, false));
                            }
                        }
                        SessionOp::Logout(i) => {
                            let (value, family, _) = tokens[i % tokens.len()].clone();
                            let (status, _) = app
                                .call(
                                    &access,
                                    "POST",
                                    "/v1/auth/logout",
                                    Some(json!({"refresh_token": value})),
                                )
                                .await;
                            prop_assert_eq!(status, StatusCode::NO_CONTENT);
                            revoked[family] = true;
                        }
                    }
                }
                // Afterwards, every token ever issued, in order: only the live
                // ones still refresh (and each reuse on the way revokes its family).
                for (value, family, spent) in tokens.clone() {
                    let (status, _) =
                        app.post(Anonymous, "/v1/auth/refresh", json!({"refresh_token": value})).await;
                    prop_assert_eq!(status == StatusCode::OK, !revoked[family] && !spent);
                    if spent {
                        revoked[family] = true;
                    }
                }
                Ok::<(), TestCaseError>(())
            })
        });
        rt.block_on(app.stop());
        result.unwrap();
    }

    /// Any sequence of right and wrong codes: wrong ones count down from 3,
    /// the first right one within the attempts logs in, everything after the
    /// login or the last attempt is 410.
    #[test]
    fn phone_code_attempts_follow_the_model() {
        let rt = runtime();
        let app = rt.block_on(spawn_app().start());
        let phone = "+4915199999999";
        let mut runner = TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
        let result = runner.run(&proptest::collection::vec(any::<bool>(), 1..7), |attempts| {
            rt.block_on(async {
                let (status, started) =
                    app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
                prop_assert_eq!(status, StatusCode::ACCEPTED);
                let code = app.last_code(phone);
                let wrong = if code == "000000" { "999999" } else { "000000" };
                let (mut remaining, mut used) = (3, false);
                for correct in attempts {
                    let sent = if correct { code.as_str() } else { wrong };
                    let (status, body) = app
                        .post(
                            Anonymous,
                            "/v1/auth/phone/verify",
                            json!({"session_id": started["session_id"], "code": sent}),
                        )
                        .await;
                    if used || remaining == 0 {
                        prop_assert_eq!(status, StatusCode::GONE, "{:?}", body);
                    } else if correct {
                        prop_assert_eq!(status, StatusCode::OK, "{:?}", body);
                        used = true;
                    } else {
                        remaining -= 1;
                        prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
                        prop_assert_eq!(&body["error"]["details"]["attempts_remaining"], &json!(remaining));
                    }
                }
                Ok::<(), TestCaseError>(())
            })
        });
        // Concurrent guesses get no more than the three attempts between them.
        rt.block_on(async {
            let (_, started) = app.post(Anonymous, "/v1/auth/phone/start", json!({"phone": phone})).await;
            let code = app.last_code(phone);
            let wrong = if code == "000000" { "999999" } else { "000000" };
            let guesses = futures::future::join_all((0..10).map(|_| {
                app.post(
                    Anonymous,
                    "/v1/auth/phone/verify",
                    json!({"session_id": started["session_id"], "code": wrong}),
                )
            }))
            .await;
            let wrong_answers = guesses.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
            let gone = guesses.iter().filter(|(s, _)| *s == StatusCode::GONE).count();
            assert_eq!((wrong_answers, gone), (3, 7));
            app.stop().await;
        });
        result.unwrap();
    }
}
