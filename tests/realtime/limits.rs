//! Connection limits: slow consumers cut off, queues bounded, frames and connections capped, idle sockets closed.

use super::*;

/// A client of gateway 0 with a 4 KiB receive buffer, for one that never reads.
async fn connect_with_a_tiny_buffer(app: &TestApp, user: &Person) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.gateways[0].addr).await.unwrap();
    let mut request = format!("ws://{}/v1/ws", app.gateways[0].addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", user.token).parse().unwrap());
    let (socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await.unwrap();
    Client { socket, stash: Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_consumer_is_cut_off_without_delaying_a_fast_one() {
    const MESSAGES: usize = 150;
    let app = spawn_app()
        .config(|config| {
            config.realtime.queue_frames = 8;
            config.realtime.slow_client_ms = 300;
        })
        .await;
    let (alice, fast, slow) = (app.person("Alice").await, app.person("Fast").await, app.person("Slow").await);
    let room = app.commands().create_group(alice.id, vec![fast.id, slow.id], "realtime").await;
    let mut fast_client = Client::connect(&app.base(0), &fast, "").await;
    fast_client.backlog().await;

    // The slow client has a tiny receive buffer and never reads.
    let mut never_reading = connect_with_a_tiny_buffer(&app, &slow).await;

    // Big messages fill the slow client's buffers quickly.
    let mut worst = Duration::ZERO;
    for n in 0..MESSAGES {
        let mut body = format!("m{n}:").into_bytes();
        body.resize(48 * 1024, b'x');
        let sent = Instant::now();
        app.commands().send(room, alice.id, &body).await;
        let frame = fast_client.messages(1).await.remove(0);
        worst = worst.max(sent.elapsed());
        assert!(body_of(&frame["event"]).starts_with(&format!("m{n}:")));
    }
    assert!(worst < Duration::from_secs(3), "the fast client waited {worst:?} for a message");

    // The slow client was disconnected: its stream ends instead of waiting for more.
    let frames = never_reading.until_closed().await;
    let got = frames.iter().filter(|f| f["type"] == "event").count();
    assert!(got < MESSAGES, "the slow client got everything: it was never cut off");
    if let Some(error) = frames.iter().find(|f| f["type"] == "error") {
        assert_eq!(error["code"], "slow_consumer");
    }
    // It resumes from its cursor when it comes back (and reads this time).
    let mut slow_client = Client::connect(&app.base(0), &slow, "").await;
    let (events, _) = slow_client.backlog().await;
    assert_eq!(message_events(&events).len(), MESSAGES);
    let metrics =
        app.http.get(format!("{}/metrics", app.base(0))).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ciphertalk_ws_queue_drops_total"), "no queue drops recorded");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_are_closed() {
    let app = spawn_app().config(|config| config.realtime.idle_timeout_secs = 1).await;
    let bob = app.person("Bob").await;
    // A client that reads answers the server's pings and stays.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    client.backlog().await;
    assert!(client.next_within(Duration::from_secs(3)).await.is_none_or(|f| f["type"] != "error"));
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;
    // One that does not read answers no ping and is closed. (Read from the raw
    // socket: a WebSocket client would try to answer the pings and fail first.)
    let silent = Client::connect(&app.base(0), &bob, "").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let MaybeTlsStream::Plain(mut tcp) = silent.socket.into_inner() else { panic!("plain TCP expected") };
    let mut bytes = Vec::new();
    let read =
        tokio::time::timeout(FRAME_WAIT, tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut bytes)).await;
    assert!(read.is_ok(), "the idle connection stayed open");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(r#""code":"idle_timeout""#), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn websocket_frames_and_connections_over_their_limits_are_refused_and_the_connection_stays() {
    let app = spawn_app()
        .config(|config| {
            config.rate_limits.mode = Toggle::On;
            config.write_limits.typing_per_user = 2;
            config.write_limits.ws_connect_per_user = 3;
            config.realtime.max_connections_per_user = 2;
        })
        .await;
    let (alice, _bob, room) = app.alice_and_bob_in_a_group().await;
    let mut client = Client::connect(&app.base(0), &alice, "").await;
    client.backlog().await;
    for _ in 0..3 {
        client.send(json!({"type": "typing", "room_id": room, "typing": true})).await;
    }
    // (The read model may not know the room yet: not_found errors count as well.)
    let error = client.next_where(|frame| frame["type"] == "error" && frame["code"] != "not_found").await;
    assert_eq!(error["code"], "rate_limited", "{error}");
    assert_open(&mut client).await;

    // Two open connections per user; a third is refused, and connects are limited too.
    let second = Client::connect(&app.base(0), &alice, "").await;
    let third = Client::try_connect(&app.base(0), Some(&alice.token), "").await;
    assert_eq!(third.err(), Some(StatusCode::TOO_MANY_REQUESTS), "a third connection");
    drop(second);
    let reopened =
        eventually(5, || async { Client::try_connect(&app.base(0), Some(&alice.token), "").await.is_ok() })
            .await;
    assert!(!reopened, "the fourth connect within a minute was not limited");
    assert_open(&mut client).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_queue_is_bounded_in_bytes() {
    const MESSAGES: usize = 150;
    let app = spawn_app()
        .config(|config| {
            // Plenty of frames, few bytes: only the byte bound can cut the client off.
            config.realtime.queue_frames = 4096;
            config.realtime.queue_bytes = 64 * 1024;
            config.realtime.slow_client_ms = 300;
        })
        .await;
    let (alice, slow, room) = app.alice_and_bob_in_a_group().await;
    let mut never_reading = connect_with_a_tiny_buffer(&app, &slow).await;
    for n in 0..MESSAGES {
        let mut body = format!("m{n}:").into_bytes();
        body.resize(48 * 1024, b'x');
        app.commands().send(room, alice.id, &body).await;
    }
    let frames = never_reading.until_closed().await;
    let got = frames.iter().filter(|f| f["type"] == "event").count();
    assert!(got < MESSAGES, "the slow client got everything: it was never cut off");
    app.stop().await;
}
