//! Access tokens and WebSocket tickets: forged or expired ones refused, admin claims from the configuration.

use super::*;

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
