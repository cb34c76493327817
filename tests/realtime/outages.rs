//! Failures under the gateways: a killed gateway, a NATS restart, Postgres down or out of connections.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_gateway_loses_nothing() {
    const MESSAGES: usize = 300;
    // One in-process gateway writes; two `ciphertalk serve` processes serve Bob.
    let app = spawn_app().await;
    let env = [
        ("DATABASE_URL", app.db.url.clone()),
        ("NATS_URL", app.nats.url()),
        ("CIPHERTALK_JWT_SECRET", JWT_SECRET.to_owned()),
        ("CIPHERTALK_RATE_LIMITS", "off".to_owned()),
    ];
    let (dirs, logs) = (temp_dir("rt-serve"), temp_dir("rt-logs"));
    let doomed = ServeProcess::start(&dirs.path().join("a"), logs.path(), &env).await;
    let survivor = ServeProcess::start(&dirs.path().join("b"), logs.path(), &env).await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;

    let write = app.gateways[0].state.write.clone();
    let alice_id = alice.id;
    let sender = tokio::spawn(async move {
        for n in 0..MESSAGES {
            Commands(&write).send(room, alice_id, format!("m{n}").as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    // Bob reads on the doomed gateway, acknowledging every 10 events.
    let mut client = Client::connect(&doomed.base, &bob, "").await;
    let mut received: Vec<Value> = Vec::new();
    let mut acked = 0;
    while message_events(&received).len() < 60 {
        let frame = client.next().await;
        if frame["type"] == "event" {
            received.push(frame);
            if received.len().is_multiple_of(10) {
                acked = client.ack(cursor_of(received.last().unwrap())).await;
            }
        }
    }
    doomed.process.signal(libc::SIGKILL).unwrap();
    // The connection dies with the process (whatever was buffered still arrives).
    while let Some(frame) = client.next_within(Duration::from_secs(10)).await {
        if frame["type"] == "event" {
            received.push(frame);
        }
    }

    // Bob reconnects elsewhere: everything after his acknowledged cursor comes again.
    let mut client = Client::connect(&survivor.base, &bob, "").await;
    let first = client.next_of("event").await;
    let expected_first = received.iter().map(cursor_of).find(|c| *c > acked).unwrap_or(u64::MAX);
    assert!(cursor_of(&first) <= expected_first, "events after the acknowledged cursor were skipped");
    let kept = message_events(&received).iter().filter(|f| cursor_of(f) <= acked).count();
    let mut resumed = vec![first];
    while message_events(&resumed).len() < MESSAGES - kept {
        let Some(frame) = client.next_within(FRAME_WAIT).await else {
            let got: HashSet<String> = message_events(&received)
                .iter()
                .chain(&message_events(&resumed))
                .map(|f| body_of(&f["event"]))
                .collect();
            let missing: Vec<usize> = (0..MESSAGES).filter(|n| !got.contains(&format!("m{n}"))).collect();
            panic!("messages never delivered (acked {acked}): {missing:?}");
        };
        if frame["type"] == "event" {
            resumed.push(frame);
        }
    }
    sender.await.unwrap();
    assert_fifo(&resumed);
    assert!(cursor_of(&resumed[0]) > acked);
    // Before the kill up to the ack, then everything after it: every message once, in order.
    let mut merged: Vec<&Value> = received.iter().filter(|f| cursor_of(f) <= acked).collect();
    merged.extend(resumed.iter());
    let bodies: Vec<String> = merged
        .iter()
        .filter(|f| f["event"]["type"] == "message.sent")
        .map(|f| body_of(&f["event"]))
        .collect();
    assert_eq!(bodies, (0..MESSAGES).map(|n| format!("m{n}")).collect::<Vec<_>>());
    survivor.terminate();
    app.stop().await;
}

/// Kills nats-server under load and starts it again: both gateways (only one
/// leads the delivery projection) deliver again within 2 s of it being back,
/// without closing their sockets and without loss or duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_resume_on_both_gateways_within_two_seconds_of_nats_restarting() {
    let mut app = spawn_app().gateways(2).await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let mut on_a = Client::connect(&app.base(0), &alice, "").await;
    let mut on_b = Client::connect(&app.base(1), &bob, "").await;
    on_a.backlog().await;
    on_b.backlog().await;
    app.commands().send(room, alice.id, b"before").await;
    assert_eq!(body_of(&on_a.messages(1).await[0]["event"]), "before");
    assert_eq!(body_of(&on_b.messages(1).await[0]["event"]), "before");

    // Load: a send every 20 ms, through the outage and after.
    let write = app.gateways[0].state.write.clone();
    let sender = alice.id;
    let load = tokio::spawn(async move {
        for n in 0..200 {
            Commands(&write).send(room, sender, format!("load {n}").as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.nats.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.nats.restart().await;
    let back = Instant::now();
    app.commands().send(room, alice.id, b"after").await;
    let mut resumed = Vec::new();
    for client in [&mut on_a, &mut on_b] {
        let mut bodies = Vec::new();
        loop {
            let frame = client.next().await;
            assert_ne!(frame["type"], "error", "{frame}");
            if frame["type"] == "event" && frame["event"]["type"] == "message.sent" {
                let body = body_of(&frame["event"]);
                if body == "after" {
                    break;
                }
                bodies.push(body);
            }
        }
        resumed.push(back.elapsed());
        let numbers: Vec<usize> =
            bodies.iter().filter_map(|b| b.strip_prefix("load ")?.parse().ok()).collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "a gap or a duplicate: {numbers:?}");
    }
    eprintln!("delivery resumed {resumed:?} after nats-server was back");
    assert!(resumed.iter().all(|took| *took < Duration::from_secs(2)), "delivery resumed after {resumed:?}");
    load.await.unwrap();
    let metrics =
        app.http.get(format!("{}/metrics", app.base(1))).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ciphertalk_nats_resume_seconds"), "no resume time recorded");
    app.stop().await;
}

/// With Postgres down, a request that needs it answers 503 within a second.
#[tokio::test]
async fn with_postgres_down_requests_answer_503_within_a_second() {
    use ciphertalk_gateway::embedded::EmbeddedPostgres;
    let dir = temp_dir("pg-down");
    let options = crate::support::postgres_options(dir.path().join("cluster"), "postgres", 100);
    let mut postgres = EmbeddedPostgres::start(options).await.unwrap();
    let app = spawn_app().database_url(postgres.url()).await;
    let alice = app.person("Alice").await;
    assert_eq!(app.call_at(0, &alice, "GET", "/v1/rooms", None).await.0, StatusCode::OK);
    postgres.stop().unwrap();
    let room = uuid::Uuid::new_v4();
    for _ in 0..3 {
        let asked = Instant::now();
        let (status, body) = app.call_at(0, &alice, "GET", "/v1/rooms", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(asked.elapsed() < Duration::from_secs(1), "a read answered after {:?}", asked.elapsed());
        let asked = Instant::now();
        let response = app
            .http
            .post(format!("{}/v1/rooms/{room}/messages", app.base(0)))
            .bearer_auth(&alice.token)
            .json(&json!({"client_msg_id": "c1", "ciphertext": STANDARD.encode(b"hi")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(asked.elapsed() < Duration::from_secs(1), "a send answered after {:?}", asked.elapsed());
        let asked = Instant::now();
        assert_eq!(
            Client::try_connect(&app.base(0), Some(&alice.token), "").await.err(),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(asked.elapsed() < Duration::from_secs(1), "a connect answered after {:?}", asked.elapsed());
    }
    app.stop().await;
}

/// The other way Postgres fails a request: not refusing connections but
/// having none to give (a pool held by slow queries, a host that does not
/// answer). A request waits at most the pool's acquire timeout for one and
/// then answers 503 (the old fixed wait was 5 s).
#[tokio::test]
async fn with_every_database_connection_taken_a_request_answers_503_within_a_second() {
    let app = spawn_app().config(|config| config.database_max_connections = 8).await;
    let alice = app.person("Alice").await;
    assert_eq!(app.call_at(0, &alice, "GET", "/v1/rooms", None).await.0, StatusCode::OK);
    let pool = app.gateways[0].state.db.clone();
    let mut held = Vec::new();
    while let Ok(conn) = pool.acquire().await {
        held.push(conn);
    }
    let asked = Instant::now();
    let (status, body) = app.call_at(0, &alice, "GET", "/v1/rooms", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(asked.elapsed() < Duration::from_secs(1), "a read answered after {:?}", asked.elapsed());
    drop(held);
    assert_eq!(app.call_at(0, &alice, "GET", "/v1/rooms", None).await.0, StatusCode::OK);
    app.stop().await;
}
