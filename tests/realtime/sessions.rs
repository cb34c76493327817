//! Who may connect: tickets, tokens and cursors checked; sockets closed as their session ends.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_tickets_tokens_cursors_and_frames_are_refused() {
    let app = spawn_app().await;
    let bob = app.person("Bob").await;
    let base = app.base(0);
    assert_eq!(Client::try_connect(&base, None, "").await.err(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(Client::try_connect(&base, Some("nonsense"), "").await.err(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(
        Client::try_connect(&base, None, "?ticket=forged").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    for since in ["-1", "abc", "999999"] {
        let refused = Client::try_connect(&base, Some(&bob.token), &format!("?since={since}")).await.err();
        assert_eq!(refused, Some(StatusCode::UNPROCESSABLE_ENTITY), "since={since}");
    }
    let plain = app.http.get(format!("{base}/v1/ws")).bearer_auth(&bob.token).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);

    // A ticket works once.
    let response =
        app.http.post(format!("{base}/v1/ws/ticket")).bearer_auth(&bob.token).send().await.unwrap();
    assert!(response.status().is_success());
    let ticket = response.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned();
    let mut client = Client::try_connect(&base, None, &format!("?ticket={ticket}")).await.unwrap();
    client.backlog().await;
    assert_eq!(
        Client::try_connect(&base, None, &format!("?ticket={ticket}")).await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );

    // Bad frames get error frames; the connection stays usable.
    for (frame, code) in [
        (Message::Text("not json".into()), "bad_frame"),
        (Message::Text(r#"{"type":"launch"}"#.into()), "bad_frame"),
        (Message::Text(r#"{"type":"ack","cursor":"-3"}"#.into()), "bad_frame"),
        (Message::Text(r#"{"type":"ack","cursor":"4000000"}"#.into()), "invalid_cursor"),
        (
            Message::Text(
                r#"{"type":"typing","room_id":"0192a3b4-0000-7000-8000-000000000009","typing":true}"#.into(),
            ),
            "not_found",
        ),
        (Message::Binary(vec![1, 2, 3].into()), "bad_frame"),
        (
            Message::Text(format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70 * 1024)).into()),
            "too_large",
        ),
    ] {
        client.socket.send(frame).await.unwrap();
        let error = client.next_of("error").await;
        assert_eq!(error["code"], code, "{error}");
    }
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;

    // The inbox wants a token and real cursors.
    let inbox = app.http.get(format!("{base}/v1/inbox")).send().await.unwrap();
    assert_eq!(inbox.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = app.call_at(0, &bob, "GET", "/v1/inbox?after=x", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let ack = app
        .http
        .post(format!("{base}/v1/inbox/ack"))
        .bearer_auth(&bob.token)
        .json(&json!({"cursor": "4000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

/// Logs `email` in again through gateway 0: a new session's access and refresh tokens.
async fn login(app: &TestApp, email: &str) -> (String, String) {
    let (status, body) =
        app.post(Anonymous, "/v1/auth/login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_websocket_closes_when_its_access_token_expires() {
    let app = spawn_app().config(|config| config.auth.access_token_ttl_secs = 2).await;
    let alice = app.person("Alice").await;
    let opened = Instant::now();
    let mut client = Client::connect(&app.base(0), &alice, "").await;
    client.backlog().await;
    let frames = client.until_closed().await;
    let error = frames.iter().find(|f| f["type"] == "error").cloned().unwrap_or_default();
    assert_eq!(error["code"], "token_expired", "{frames:?}");
    assert!(opened.elapsed() < Duration::from_secs(5), "closed after {:?}", opened.elapsed());
    app.stop().await;
}

#[tokio::test]
async fn logout_and_a_reused_refresh_token_close_that_sessions_websockets_on_every_gateway() {
    let app = spawn_app().gateways(2).await;
    let email = format!("sam-{}@example.org", uuid::Uuid::new_v4().simple());
    let sam = Person::from_session(&app.register(&email, "Sam").await);
    let (first_access, first_refresh) = login(&app, &email).await;
    let (second_access, second_refresh) = login(&app, &email).await;
    let first = Person { id: sam.id, token: first_access };
    let second = Person { id: sam.id, token: second_access };
    let mut on_a = Client::connect(&app.base(0), &first, "").await;
    let mut on_b = Client::connect(&app.base(1), &first, "").await;
    let mut other_session = Client::connect(&app.base(1), &second, "").await;
    for client in [&mut on_a, &mut on_b, &mut other_session] {
        client.backlog().await;
    }

    let response = app
        .http
        .post(format!("{}/v1/auth/logout", app.base(0)))
        .bearer_auth(&first.token)
        .json(&json!({"refresh_token": first_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for client in [&mut on_a, &mut on_b] {
        let frames = client.until_closed().await;
        assert!(frames.iter().any(|f| f["code"] == "session_ended"), "{frames:?}");
    }
    assert_open(&mut other_session).await;

    // The second session's refresh token, spent and then presented again: its family is revoked.
    let refresh = |token: String| {
        app.http
            .post(format!("{}/v1/auth/refresh", app.base(0)))
            .json(&json!({"refresh_token": token}))
            .send()
    };
    assert_eq!(refresh(second_refresh.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(refresh(second_refresh).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let frames = other_session.until_closed().await;
    assert!(frames.iter().any(|f| f["code"] == "session_ended"), "{frames:?}");
    app.stop().await;
}
