//! What reaches the logs of the real binary: no password, token or code; the dev SMS sender's marked line.

use super::*;

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
