//! Who is woken and how often: bursts grouped, the sender never, mutes
//! until they end, notifications off, connected devices skipped, and a
//! restart mid-queue that loses and doubles nothing.

use super::*;

/// Waits long enough for any push still on its way (coalesce window, retries).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn a_burst_in_one_room_becomes_one_push_with_its_count_and_the_sender_gets_none() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).config(|config| config.push.coalesce_ms = 1500).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;
    register_webhook(&app, &alice, &inbox.url("/hook/alice")).await;

    let mut seqs = Vec::new();
    for _ in 0..5 {
        seqs.push(send(&app, &alice, &room).await);
    }
    let pushes = inbox.wait_delivered("/hook/bob", 1).await;
    settle().await;
    assert_eq!(inbox.received("/hook/bob").len(), 1, "one push for the burst: {pushes:?}");
    let push = pushes[0].json();
    assert_payload(&push, &room);
    assert_eq!((push["count"].as_u64(), push["first_seq"].as_u64()), (Some(5), Some(seqs[0])));
    assert!(inbox.received("/hook/alice").is_empty(), "the sender is not woken by her own messages");
}

#[tokio::test]
async fn mutes_until_they_end_and_notifications_off_are_honoured() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob, carol) =
        (member(&app, "Alice").await, member(&app, "Bob").await, member(&app, "Carol").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;
    let mute = format!("/v1/rooms/{room}/mute");
    let gap = || tokio::time::sleep(Duration::from_millis(700));

    // Muted for two seconds: the message inside the window is not pushed, the one after is.
    let until = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    let (status, body) = app.put(&bob.person, &mute, Some(json!({"until": until}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["room_id"], room.as_str());
    let _muted = send(&app, &alice, &room).await;
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(2300)).await;
    let after_mute = send(&app, &alice, &room).await;
    gap().await;

    // Muted until unmuted.
    let (status, _) = app.put(&bob.person, &mute, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let _muted_for_good = send(&app, &alice, &room).await;
    gap().await;
    let (status, _) = app.delete(&bob.person, &mute).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let unmuted = send(&app, &alice, &room).await;
    gap().await;

    // Notifications off, then on again.
    let settings = "/v1/users/me/settings";
    let (status, body) = app.patch(&bob.person, settings, json!({"notifications": false})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _quiet = send(&app, &alice, &room).await;
    gap().await;
    let (status, _) = app.patch(&bob.person, settings, json!({"notifications": true})).await;
    assert_eq!(status, StatusCode::OK);
    let loud = send(&app, &alice, &room).await;

    inbox.wait_delivered("/hook/bob", 3).await;
    settle().await;
    let pushes: Vec<Value> = inbox.delivered("/hook/bob").iter().map(Received::json).collect();
    assert_eq!(covered(&pushes), BTreeSet::from([after_mute, unmuted, loud]), "{pushes:?}");

    // Only a member mutes a room; a mute must end in the future.
    let (status, body) = app.put(&carol.person, &mute, Some(json!({}))).await;
    assert_error(status, &body, 404, "not_found");
    let past = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    let (status, body) = app.put(&bob.person, &mute, Some(json!({"until": past}))).await;
    assert_error(status, &body, 422, "invalid_value");
}

#[tokio::test]
async fn a_connected_device_is_not_woken_and_a_disconnected_one_is() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;

    let mut socket = Client::connect(&app.base(0), &bob.person, "").await;
    socket.next_of("ready").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let while_connected = send(&app, &alice, &room).await;
    // The connected device gets the message over its socket, not as a push.
    socket.next_of("event").await;
    settle().await;
    assert!(inbox.received("/hook/bob").is_empty(), "pushed to a connected device");
    let connected = ["provider=\"webhook\"", "reason=\"connected\""];
    assert!(metric(&app, "ciphertalk_push_dropped_total", &connected).await >= 1.0);
    drop(socket);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = send(&app, &alice, &room).await;
    let pushes = inbox.wait_delivered("/hook/bob", 1).await;
    assert_eq!(pushes[0].json()["first_seq"].as_u64(), Some(after));
    assert_ne!(while_connected, after);
}

#[tokio::test]
async fn a_device_with_a_second_socket_open_stays_connected_when_the_first_closes() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;

    // An app that reconnected: the old socket closes after the new one is up.
    let mut first = Client::connect(&app.base(0), &bob.person, "").await;
    first.next_of("ready").await;
    let mut second = Client::connect(&app.base(0), &bob.person, "").await;
    second.next_of("ready").await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(500)).await;

    send(&app, &alice, &room).await;
    second.next_of("event").await;
    settle().await;
    assert!(inbox.received("/hook/bob").is_empty(), "pushed to a device whose second socket is open");
    let connected = ["provider=\"webhook\"", "reason=\"connected\""];
    assert!(metric(&app, "ciphertalk_push_dropped_total", &connected).await >= 1.0);
}

#[tokio::test]
async fn a_restart_of_the_gateway_mid_queue_loses_and_doubles_nothing() {
    let inbox = Inbox::start().await;
    let mut app = spawn_app()
        .config(push_config)
        .config(|config| {
            config.push.attempts = 20;
            config.push.backoff_ms = 300;
            config.push.max_backoff_ms = 300;
        })
        .await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;
    // The webhook is down for a while: every job is waiting or being retried.
    inbox.fail_next(&[503; 12]);

    let mut seqs = BTreeSet::new();
    for _ in 0..4 {
        seqs.insert(send(&app, &alice, &room).await);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    app.stop_gateways().await;
    app.add_gateway(|_| {}).await;
    let more = send(&app, &alice, &room).await;
    seqs.insert(more);

    let complete = eventually(60, || async {
        let pushes: Vec<Value> = inbox.delivered("/hook/bob").iter().map(Received::json).collect();
        pushes.iter().map(|p| p["count"].as_u64().unwrap()).sum::<u64>() >= seqs.len() as u64
    })
    .await;
    assert!(complete, "got {:?}", inbox.received("/hook/bob"));
    settle().await;
    let pushes: Vec<Value> = inbox.delivered("/hook/bob").iter().map(Received::json).collect();
    assert_eq!(covered(&pushes), seqs, "every message pushed exactly once: {pushes:?}");
}

#[tokio::test]
async fn a_job_redelivered_after_its_push_went_out_is_not_pushed_again() {
    let inbox = Inbox::start().await;
    let app = spawn_app().config(push_config).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    register_webhook(&app, &bob, &inbox.url("/hook/bob")).await;
    let device: uuid::Uuid = bob.device.parse().unwrap();

    // Job 1 was pushed to Bob's device before a crash lost its ack; it comes
    // again, together with job 2, which was not pushed yet.
    sqlx::query(
        "INSERT INTO push_outcomes (job_id, device_id, outcome) VALUES ('900:redelivered', $1, 'sent')",
    )
    .bind(device)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let js = app.js();
    for (id, seq) in [("900:redelivered", 41_u64), ("901:fresh", 42)] {
        let job = ciphertalk_projections::notifications::Job {
            user_id: bob.person.id,
            room_id: room.parse().unwrap(),
            seq,
            sent_at: chrono::Utc::now(),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let payload = serde_json::to_vec(&job).unwrap();
        js.publish_with_headers(format!("chat.notify.{}", bob.person.id), headers, payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let pushes = inbox.wait_delivered("/hook/bob", 1).await;
    settle().await;
    assert_eq!(inbox.received("/hook/bob").len(), 1);
    let push = pushes[0].json();
    assert_eq!((push["count"].as_u64(), push["first_seq"].as_u64()), (Some(1), Some(42)), "{push}");
}
