//! Phone login: codes by SMS, attempts limited, off without a sender.

use super::*;

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
