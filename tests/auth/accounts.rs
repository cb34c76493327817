//! Email accounts: register, log in, refresh, log out; refused registrations; logins that tell nothing apart.

use super::*;

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
