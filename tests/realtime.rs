//! Realtime delivery: the WebSocket replays a user's queue from their cursor
//! and continues live (FIFO, no gap, no duplicate), acknowledged events are
//! not sent again, the inbox reads the same queue, several gateways serve
//! users who talk to each other, a killed gateway loses nothing, a slow client
//! is cut off without delaying anyone, typing and presence reach the right
//! people, and bad credentials and frames are refused.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ciphertalk_domain::ids::{MessageId, UserId};
use ciphertalk_domain::room::{Role, RoomCommand};
use ciphertalk_domain::user::{LastSeenVisibility, UserCommand};
use ciphertalk_domain::values::Ciphertext;
use ciphertalk_gateway::config::Toggle;
use ciphertalk_gateway::realtime::feed::{Feed, Signals};
use ciphertalk_projections::Projection;
use ciphertalk_projections::handoff::{self, StoredDelivery, StoredRun};
use ciphertalk_streams::{Topology, TopologySettings, subjects};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::support::app::{Anonymous, JWT_SECRET, PASSWORD, Person, TestApp, spawn_app};
use crate::support::binary::ServeProcess;
use crate::support::commands::{Commands, message};
use crate::support::{TestNats, eventually, hold_projections, pending_for, temp_dir};

/// How long a test waits for one frame before it calls the server stuck.
const FRAME_WAIT: Duration = Duration::from_secs(20);

impl TestApp {
    /// Waits until `user`'s delivery queue holds `count` events.
    async fn queue_holds(&self, user: &Person, count: u64) {
        let js = self.js();
        let subject = format!("chat.dlv.{}", user.id);
        let filled = eventually(60, || async {
            let stream = js.get_stream("CHAT_DELIVERY").await.unwrap();
            let info = stream.info_with_subjects(&subject).await.unwrap();
            let mut subjects = info.collect::<Vec<_>>().await;
            subjects.pop().and_then(|entry| entry.ok()).map_or(0, |(_, n)| n as u64) >= count
        })
        .await;
        assert!(filled, "{subject} did not reach {count} events");
    }
}

/// The plaintext a test put in a message (the "ciphertext" is just base64 of it).
fn body_of(event: &Value) -> String {
    let bytes = STANDARD.decode(event["ciphertext"].as_str().unwrap_or_default()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn cursor_of(frame: &Value) -> u64 {
    frame["cursor"].as_str().and_then(|c| c.parse().ok()).unwrap()
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client speaking the JSON frames of API.md.
struct Client {
    socket: Socket,
    /// Frames read while waiting for an `acked`, handed out by `next` first.
    stash: std::collections::VecDeque<Value>,
}

impl Client {
    async fn connect(base: &str, user: &Person, query: &str) -> Self {
        Self::try_connect(base, Some(&user.token), query).await.unwrap()
    }

    async fn try_connect(base: &str, token: Option<&str>, query: &str) -> Result<Self, StatusCode> {
        let url = format!("{}/v1/ws{query}", base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self { socket, stash: Default::default() }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(StatusCode::from_u16(response.status().as_u16()).unwrap())
            }
            Err(err) => panic!("websocket connect failed: {err}"),
        }
    }

    async fn send(&mut self, frame: Value) {
        self.socket.send(Message::Text(frame.to_string().into())).await.unwrap();
    }

    /// The next JSON frame; `None` when the connection ends or nothing comes in `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        if let Some(frame) = self.stash.pop_front() {
            return Some(frame);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??.ok()?;
            match message {
                Message::Text(text) => return Some(serde_json::from_str(text.as_str()).unwrap()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    async fn next(&mut self) -> Value {
        self.next_within(FRAME_WAIT).await.expect("a frame")
    }

    /// The next frame of `kind`, skipping others.
    async fn next_of(&mut self, kind: &str) -> Value {
        self.next_where(|frame| frame["type"] == kind).await
    }

    /// The next frame `wanted` accepts, skipping others.
    async fn next_where(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next().await;
            if wanted(&frame) {
                return frame;
            }
        }
    }

    /// Frames until the server closes the connection; panics if it stays open.
    async fn until_closed(&mut self) -> Vec<Value> {
        let mut frames: Vec<Value> = self.stash.drain(..).collect();
        loop {
            match tokio::time::timeout(FRAME_WAIT, self.socket.next()).await {
                Err(_) => panic!("the connection stayed open"),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return frames,
                Ok(Some(Ok(Message::Text(text)))) => {
                    frames.push(serde_json::from_str(text.as_str()).unwrap())
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Event frames up to `ready`: (events, ready cursor).
    async fn backlog(&mut self) -> (Vec<Value>, u64) {
        let mut events = Vec::new();
        loop {
            let frame = self.next().await;
            match frame["type"].as_str() {
                Some("event") => events.push(frame),
                Some("ready") => return (events, cursor_of(&frame)),
                _ => {}
            }
        }
    }

    /// The next `n` `message.sent` event frames (skipping other frames and events).
    async fn messages(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let frame = self.next().await;
            if frame["type"] == "event" && frame["event"]["type"] == "message.sent" {
                out.push(frame);
            }
        }
        out
    }

    /// Acknowledges `cursor`; frames that arrive meanwhile are kept for `next`.
    async fn ack(&mut self, cursor: u64) -> u64 {
        self.send(json!({"type": "ack", "cursor": cursor.to_string()})).await;
        let mut stash = std::mem::take(&mut self.stash);
        let acked = loop {
            let frame = self.next_within(FRAME_WAIT).await.expect("an acked frame");
            if frame["type"] == "acked" {
                break cursor_of(&frame);
            }
            stash.push_back(frame);
        };
        self.stash = stash;
        acked
    }
}

fn message_events(frames: &[Value]) -> Vec<&Value> {
    frames.iter().filter(|f| f["event"]["type"] == "message.sent").collect()
}

/// Cursors strictly increase, and no event comes twice.
fn assert_fifo(frames: &[Value]) {
    let cursors: Vec<u64> = frames.iter().map(cursor_of).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursors not strictly increasing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offline_user_gets_a_thousand_messages_from_three_rooms_in_order() {
    const MESSAGES: usize = 1000;
    let app = spawn_app().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let rooms = [
        app.commands().create_group(alice.id, vec![bob.id], "realtime").await,
        app.commands().create_group(alice.id, vec![bob.id], "realtime").await,
        app.commands().create_group(alice.id, vec![bob.id], "realtime").await,
    ];
    // Bob is online once (and acknowledges the room creations), then goes offline.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = client.next().await;
        if frame["type"] == "event" {
            seen.push(frame);
        }
    }
    assert!(seen.iter().all(|f| f["event"]["type"] == "room.created"));
    client.ack(cursor_of(&seen[2])).await;
    drop(client);

    for n in 0..MESSAGES {
        app.commands().send(rooms[n % 3], alice.id, format!("m{n}").as_bytes()).await;
    }

    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let mut events = Vec::new();
    while message_events(&events).len() < MESSAGES {
        let frame = client.next().await;
        if frame["type"] == "event" {
            events.push(frame);
        }
    }
    assert_fifo(&events);
    let messages = message_events(&events);
    let bodies: Vec<String> = messages.iter().map(|f| body_of(&f["event"])).collect();
    let expected: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    assert_eq!(bodies, expected, "FIFO across rooms, each message once");
    for (i, room) in rooms.iter().enumerate() {
        let seqs: Vec<u64> = messages
            .iter()
            .filter(|f| f["event"]["room_id"] == room.to_string())
            .map(|f| f["event"]["seq"].as_u64().unwrap())
            .collect();
        let count = (MESSAGES - i).div_ceil(3) as u64;
        assert_eq!(seqs, (1..=count).collect::<Vec<_>>(), "room {i} in seq order");
    }
    let event = &messages[0]["event"];
    for field in
        ["id", "room_id", "at", "seq", "sender_id", "client_msg_id", "ciphertext", "content_type", "sent_at"]
    {
        assert!(event.get(field).is_some(), "message.sent lacks {field}: {event}");
    }
    assert_eq!(event["sender_id"], alice.id.to_string());
    assert_eq!(event["deleted"], false);

    // The inbox pages through the same queue from the same cursor.
    let mut after = cursor_of(&seen[2]);
    let mut paged = Vec::new();
    loop {
        let (status, page) =
            app.call_at(0, &bob, "GET", &format!("/v1/inbox?after={after}&limit=200"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            paged.push(cursor_of(item));
        }
        match page["next"].as_str() {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(paged, events.iter().map(cursor_of).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disconnect_mid_backlog_resumes_exactly_and_acknowledged_events_do_not_return() {
    const MESSAGES: usize = 200;
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    for n in 0..MESSAGES {
        app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
    }
    app.queue_holds(&bob, MESSAGES as u64 + 1).await;
    let all = {
        let mut client = Client::connect(&app.base(0), &bob, "").await;
        let (events, ready) = client.backlog().await;
        assert_eq!(message_events(&events).len(), MESSAGES);
        assert_eq!(ready, cursor_of(events.last().unwrap()));
        events.iter().map(cursor_of).collect::<Vec<u64>>()
    };

    // Read 70 events, acknowledge the 50th, drop the connection mid-backlog.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let mut first = Vec::new();
    for _ in 0..70 {
        first.push(cursor_of(&client.next_of("event").await));
    }
    assert_eq!(first, all[..70]);
    assert_eq!(client.ack(all[49]).await, all[49]);
    // An older ack does not move the stored cursor back.
    assert_eq!(client.ack(all[10]).await, all[49]);
    drop(client);

    // Without `since`: everything after the acknowledged cursor, once.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let (events, _) = client.backlog().await;
    assert_eq!(events.iter().map(cursor_of).collect::<Vec<_>>(), all[50..]);
    // With `since`: from there instead.
    let mut other = Client::connect(&app.base(0), &bob, &format!("?since={}", all[69])).await;
    let (events, _) = other.backlog().await;
    assert_eq!(events.iter().map(cursor_of).collect::<Vec<_>>(), all[70..]);
    drop(other);

    // Everything acknowledged: nothing comes again, only `ready`.
    client.ack(*all.last().unwrap()).await;
    drop(client);
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let (events, ready) = client.backlog().await;
    assert!(events.is_empty(), "acknowledged events were sent again: {events:?}");
    assert_eq!(ready, *all.last().unwrap());
    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page, json!({"items": [], "next": null}));

    // Live from here: a new message arrives, then `pong` answers `ping`.
    app.commands().send(room, alice.id, b"live").await;
    let live = client.messages(1).await;
    assert_eq!(body_of(&live[0]["event"]), "live");
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_backlog_runs_into_live_events_without_gap_or_duplicate() {
    const MESSAGES: usize = 300;
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let backlog_stored = tokio::sync::Notify::new();
    let sender = async {
        for n in 0..MESSAGES {
            app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
            if n == MESSAGES / 3 {
                app.queue_holds(&bob, n as u64).await;
                backlog_stored.notify_one();
            }
        }
    };
    let receiver = async {
        // Connect while the messages are being written, with a backlog stored.
        backlog_stored.notified().await;
        let mut client = Client::connect(&app.base(0), &bob, "").await;
        let mut frames = Vec::new();
        let mut ready = false;
        while message_events(&frames).len() < MESSAGES || !ready {
            let frame = client.next().await;
            match frame["type"].as_str() {
                Some("event") => frames.push(frame),
                Some("ready") => ready = true,
                _ => {}
            }
        }
        assert!(ready, "no ready frame");
        frames
    };
    let ((), frames) = tokio::join!(sender, receiver);
    assert_fifo(&frames);
    let bodies: Vec<String> = message_events(&frames).iter().map(|f| body_of(&f["event"])).collect();
    assert_eq!(bodies, (0..MESSAGES).map(|n| format!("m{n}")).collect::<Vec<_>>());
    app.stop().await;
}

/// A send answered by one gateway is in the next read through another, even
/// while the timeline lags: the reading gateway finds the room's committed
/// sequence in the event store and waits for the projection to reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_send_through_one_gateway_is_in_the_next_read_through_another() {
    let app = spawn_app().gateways(2).config(|config| config.projections.read_your_writes_ms = 20_000).await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let hold = hold_projections(&app.db.pool, &["timeline"]).await;
    let messages = |gateway: usize| format!("{}/v1/rooms/{room}/messages", app.base(gateway));
    let body = json!({"client_msg_id": "across", "ciphertext": STANDARD.encode("across")});
    let sent = app.http.post(messages(0)).bearer_auth(&alice.token).json(&body).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    let sent: Value = sent.json().await.unwrap();

    let read = app.http.get(messages(1)).bearer_auth(&bob.token).send();
    let read = pending_for(read, Duration::from_millis(500)).await;
    hold.rollback().await.unwrap();
    let page: Value = read.await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().last().unwrap()["id"], sent["id"], "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_on_two_gateways_talk_to_each_other() {
    let app = spawn_app().gateways(2).await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let mut on_first = Client::connect(&app.base(0), &alice, "").await;
    let mut on_second = Client::connect(&app.base(1), &bob, "").await;
    on_first.backlog().await;
    on_second.backlog().await;

    // A message written through the second gateway reaches both.
    Commands(&app.gateways[1].state.write).send(room, bob.id, b"hello from two").await;
    assert_eq!(body_of(&on_first.messages(1).await[0]["event"]), "hello from two");
    assert_eq!(body_of(&on_second.messages(1).await[0]["event"]), "hello from two");

    // Typing and call signals cross gateways too.
    on_first.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    let typing = on_second.next_of("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "room_id": room.to_string(), "user_id": alice.id.to_string(), "typing": true})
    );
    let offer = json!({"sdp": "v=0"});
    on_second
        .send(json!({"type": "signal", "to": alice.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": offer}))
        .await;
    let signal = on_first.next_of("signal").await;
    assert_eq!(signal["from"], bob.id.to_string());
    assert_eq!(signal["kind"], "offer");
    assert_eq!(signal["payload"], offer);

    // Acknowledged on one gateway, resumed on the other.
    let (status, page) = app.call_at(1, &alice, "GET", "/v1/inbox?after=0", None).await;
    assert_eq!(status, StatusCode::OK);
    let last = cursor_of(page["items"].as_array().unwrap().last().unwrap());
    on_first.ack(last).await;
    drop(on_first);
    let mut again = Client::connect(&app.base(1), &alice, "").await;
    let (events, ready) = again.backlog().await;
    assert!(events.is_empty());
    assert_eq!(ready, last);
    app.stop().await;
}

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
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.gateways[0].addr).await.unwrap();
    let mut request = format!("ws://{}/v1/ws", app.gateways[0].addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", slow.token).parse().unwrap());
    let (slow_socket, _) =
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await.unwrap();

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
    let frames = Client { socket: slow_socket, stash: Default::default() }.until_closed().await;
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
async fn messages_reach_every_member_but_those_who_blocked_the_sender_at_the_time() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    // Sends and blocks back to back, so they are projected in one batch.
    app.commands().send(room, alice.id, b"a1").await;
    app.commands().send(room, carol.id, b"c1").await;
    app.commands().user(bob.id, UserCommand::BlockUser { blocked: alice.id, at: Utc::now() }).await;
    app.commands().send(room, alice.id, b"a2").await;
    app.commands().send(room, carol.id, b"c2").await;
    app.commands().user(bob.id, UserCommand::UnblockUser { blocked: alice.id, at: Utc::now() }).await;
    app.commands().send(room, alice.id, b"a3").await;
    app.queue_holds(&carol, 6).await;
    app.queue_holds(&bob, 5).await;

    let bodies = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["event"]["type"] == "message.sent")
            .map(|item| body_of(&item["event"]))
            .collect()
    };
    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(bodies(&page), ["a1", "c1", "c2", "a3"]);
    let (_, page) = app.call_at(0, &carol, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(bodies(&page), ["a1", "c1", "a2", "c2", "a3"]);
    // The sender's other devices get their own messages.
    let (_, page) = app.call_at(0, &alice, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(bodies(&page), ["a1", "c1", "a2", "c2", "a3"]);
    app.stop().await;
}

/// The user's inbox, a line per event: a message's text, else its type and user.
async fn inbox_summary(app: &TestApp, user: &Person) -> Vec<String> {
    let (status, page) = app.call_at(0, user, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| match item["event"]["type"].as_str() {
            Some("message.sent") => body_of(&item["event"]),
            other => {
                format!("{} {}", other.unwrap_or_default(), item["event"]["user_id"].as_str().unwrap_or(""))
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_and_leaves_change_who_receives_from_the_next_event_on() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id], "realtime").await;
    // The delivery projector has read the room's members by the time they change.
    app.commands().send(room, alice.id, b"m1").await;
    app.queue_holds(&bob, 2).await;
    let add = RoomCommand::AddMember { actor: alice.id, user: carol.id, role: Role::Member, at: Utc::now() };
    app.commands().room(room, alice.id, add).await;
    app.commands().send(room, alice.id, b"m2").await;
    app.commands().room(room, bob.id, RoomCommand::LeaveRoom { user: bob.id, at: Utc::now() }).await;
    app.commands().send(room, alice.id, b"m3").await;
    app.queue_holds(&carol, 4).await;

    let (joined, left) = (format!("member.joined {}", carol.id), format!("member.left {}", bob.id));
    assert_eq!(inbox_summary(&app, &carol).await, [joined.as_str(), "m2", left.as_str(), "m3"]);
    assert_eq!(
        inbox_summary(&app, &bob).await,
        ["room.created ", "m1", joined.as_str(), "m2", left.as_str()]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_and_deletions_reach_members_as_whole_messages() {
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let (kept, deleted) = (MessageId::new_v7(), MessageId::new_v7());
    let send = |message_id: MessageId, body: &[u8]| message(message_id, alice.id, body).build();
    let edit = |body: &[u8]| RoomCommand::EditMessage {
        actor: alice.id,
        message_id: kept,
        ciphertext: Ciphertext::parse(&STANDARD.encode(body)).unwrap(),
        at: Utc::now(),
    };
    let delete = |message_id| RoomCommand::DeleteMessage {
        actor: alice.id,
        message_id,
        scope: ciphertalk_domain::room::DeleteScope::ForEveryone,
        at: Utc::now(),
    };
    app.commands().room(room, alice.id, send(kept, b"first")).await;
    app.commands().room(room, alice.id, send(deleted, b"gone")).await;
    app.commands().room(room, alice.id, edit(b"second")).await;
    app.commands().room(room, alice.id, delete(deleted)).await;
    app.commands().room(room, alice.id, edit(b"third")).await;
    app.commands().room(room, alice.id, delete(kept)).await;
    app.queue_holds(&bob, 7).await;

    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events: Vec<&Value> = page["items"].as_array().unwrap().iter().map(|item| &item["event"]).collect();
    let types: Vec<&str> = events.iter().filter_map(|event| event["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "room.created",
            "message.sent",
            "message.sent",
            "message.edited",
            "message.deleted",
            "message.edited",
            "message.deleted"
        ]
    );
    let (sent, first_edit, gone, second_edit, tombstone) =
        (events[1], events[3], events[4], events[5], events[6]);
    // Each carries the whole message as it then stood, under its original seq and sender.
    for event in [first_edit, second_edit, tombstone] {
        assert_eq!(event["id"], sent["id"]);
        assert_eq!(event["seq"], sent["seq"]);
        assert_eq!(event["sender_id"], sent["sender_id"]);
        assert_eq!(event["sent_at"], sent["sent_at"]);
    }
    assert_eq!((body_of(first_edit), body_of(second_edit)), ("second".into(), "third".into()));
    assert_eq!(first_edit["edited_at"], first_edit["at"]);
    assert_eq!(second_edit["edited_at"], second_edit["at"]);
    assert!(tombstone["ciphertext"].is_null() && tombstone["deleted"] == true, "{tombstone}");
    assert_eq!(tombstone["edited_at"], second_edit["at"], "a tombstone keeps the last edit time");
    assert_eq!(gone["id"], deleted.to_string());
    assert!(gone["ciphertext"].is_null() && gone["edited_at"].is_null() && gone["deleted"] == true, "{gone}");
    assert_eq!(gone["by"], alice.id.to_string());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lagging_client_gets_what_overflowed_its_buffer_from_the_stream() {
    const MESSAGES: usize = 200;
    // Buffers of two frames overflow at once; a generous grace keeps the
    // client connected while it pauses, so what it missed live must come
    // from the stream.
    let app = spawn_app()
        .config(|config| {
            config.realtime.queue_frames = 2;
            config.realtime.slow_client_ms = 30_000;
        })
        .await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    client.backlog().await;
    for n in 0..MESSAGES {
        app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
    }
    app.queue_holds(&bob, MESSAGES as u64).await;
    let frames = client.messages(MESSAGES).await;
    assert_fifo(&frames);
    let bodies: Vec<String> = frames.iter().map(|f| body_of(&f["event"])).collect();
    assert_eq!(bodies, (0..MESSAGES).map(|n| format!("m{n}")).collect::<Vec<_>>());
    // Nothing more, and nothing twice.
    assert!(client.next_within(Duration::from_millis(500)).await.is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reading_a_backlog_leaves_no_consumer_behind() {
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    for n in 0..3 {
        app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
    }
    app.queue_holds(&bob, 4).await;
    let js = app.gateways[0].state.jetstream.clone();
    let consumers = || async {
        let mut stream = js.get_stream("CHAT_DELIVERY").await.unwrap();
        stream.info().await.unwrap().state.consumer_count
    };
    // The gateway's live feed.
    let feed = consumers().await;

    // A connection reads its backlog, then stays; the inbox reads a page.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let (events, _) = client.backlog().await;
    assert_eq!(message_events(&events).len(), 3);
    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(4));

    // Their consumers go as soon as they are read: left to expire (30 s),
    // each would be handed the user's next messages for nobody.
    assert!(
        eventually(10, || async { consumers().await == feed }).await,
        "a backlog's consumer was left behind"
    );
    app.commands().send(room, alice.id, b"live").await;
    assert_eq!(body_of(&client.messages(1).await[0]["event"]), "live");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typing_and_presence_reach_the_other_users_as_privacy_allows() {
    let app = spawn_app().config(|config| config.realtime.presence_ttl_secs = 3).await;
    let (alice, bob, carol, dave) = (
        app.person("Alice").await,
        app.person("Bob").await,
        app.person("Carol").await,
        app.person("Dave").await,
    );
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    // Alice shows her presence to her contacts only; Bob is one, Carol is not.
    app.commands().user(alice.id, UserCommand::AddContact { contact: bob.id, at: Utc::now() }).await;
    let settings = UserCommand::UpdateSettings {
        last_seen_visible_to: Some(LastSeenVisibility::Contacts),
        notifications: None,
        at: Utc::now(),
    };
    app.commands().user(alice.id, settings).await;
    // Presence goes to those the delivery projection knows share a room.
    let freshness = &app.gateways[0].state.freshness;
    let applied = freshness.wait_for(Projection::Delivery, &room.to_string(), 1, FRAME_WAIT).await.unwrap();
    assert!(applied, "the delivery projection did not apply the room");

    let mut bob_client = Client::connect(&app.base(0), &bob, "").await;
    let mut carol_client = Client::connect(&app.base(0), &carol, "").await;
    bob_client.backlog().await;
    carol_client.backlog().await;
    let mut alice_client = Client::connect(&app.base(0), &alice, "").await;
    alice_client.backlog().await;

    let is_alice = |frame: &Value| frame["type"] == "presence" && frame["user_id"] == alice.id.to_string();
    let online = bob_client.next_where(is_alice).await;
    assert_eq!(online["online"], true);

    // Typing goes to the other members (not back to Alice, not to outsiders).
    alice_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    for client in [&mut bob_client, &mut carol_client] {
        let typing = client.next_of("typing").await;
        assert_eq!(typing["user_id"], alice.id.to_string());
        assert_eq!(typing["typing"], true);
    }
    let mut dave_client = Client::connect(&app.base(0), &dave, "").await;
    dave_client.backlog().await;
    dave_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    assert_eq!(dave_client.next_of("error").await["code"], "not_found");
    dave_client
        .send(json!({"type": "signal", "to": alice.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(dave_client.next_of("error").await["code"], "not_found");

    // Asked directly: Bob sees Alice online, Carol sees nothing.
    bob_client.send(json!({"type": "presence", "user_id": alice.id.to_string()})).await;
    let seen = bob_client.next_where(is_alice).await;
    assert_eq!((seen["online"].clone(), seen["last_seen"].is_string()), (json!(true), true));
    carol_client.send(json!({"type": "presence", "user_id": alice.id.to_string()})).await;
    assert_eq!(
        carol_client.next_where(is_alice).await,
        json!({"type": "presence", "user_id": alice.id.to_string(), "online": false, "last_seen": null})
    );

    // The same rules hold over REST.
    let profile = |viewer: &Person| {
        let request = reqwest::Client::new()
            .get(format!("{}/v1/users/{}", app.base(0), alice.id))
            .bearer_auth(viewer.token.clone());
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let seen_by_bob = profile(&bob).await;
    assert_eq!((seen_by_bob["online"].clone(), seen_by_bob["last_seen"].is_string()), (json!(true), true));
    let seen_by_carol = profile(&carol).await;
    assert!(
        seen_by_carol.get("online").is_none() && seen_by_carol.get("last_seen").is_none(),
        "{seen_by_carol}"
    );

    // Alice leaves: Bob learns when she was last seen; Carol never hears of it.
    drop(alice_client);
    let offline = bob_client.next_where(is_alice).await;
    assert_eq!(offline["online"], false);
    assert!(offline["last_seen"].is_string());
    while let Some(frame) = carol_client.next_within(Duration::from_secs(2)).await {
        assert!(!is_alice(&frame), "Carol saw Alice's presence: {frame}");
    }
    app.stop().await;
}

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

/// The live feed dispatches the runs the local delivery leader hands over,
/// reads the stream for whatever it was not handed (a run that leaves a gap,
/// messages another writer stored), and dispatches every stream sequence
/// once, in order. Runs carry a payload other than the stored one here, so
/// each frame shows which way it came.
#[tokio::test]
async fn the_live_feed_takes_handed_over_runs_and_reads_the_stream_for_the_rest() {
    let nats = TestNats::start().await;
    let js = async_nats::jetstream::new(nats.client().await);
    Topology::new(TopologySettings::default()).unwrap().ensure(&js).await.unwrap();
    let stream = js.get_stream(subjects::DELIVERY_STREAM).await.unwrap();
    let (handoff, handed_over) = handoff::channel();
    let shutdown = CancellationToken::new();
    let feed =
        Feed::start(stream, 64, Signals { handed_over, reconnects: Default::default() }, shutdown.clone())
            .await
            .unwrap();
    let user = UserId::new_v7();
    let subject = subjects::delivery(&user.to_string()).unwrap();
    let mut subscription = feed.subscribe(user).unwrap();

    let store = |text: String| {
        let (js, subject) = (js.clone(), subject.clone());
        async move { js.publish(subject, text.into()).await.unwrap().await.unwrap().sequence }
    };
    let offer = |first_seq: u64, texts: &[String]| {
        let messages = texts
            .iter()
            .map(|text| StoredDelivery {
                subject: subject.clone(),
                recorded_at: Utc::now(),
                payload: text.clone().into(),
            })
            .collect();
        handoff.offer(StoredRun { first_seq, messages });
    };
    let mut received = Vec::new();
    let mut next = async || {
        let delivered = tokio::time::timeout(FRAME_WAIT, subscription.recv()).await.unwrap().unwrap();
        let text = String::from_utf8(delivered.event.to_vec()).unwrap();
        received.push(delivered.cursor.0);
        (delivered.cursor.0, text)
    };

    // Nothing handed over: read from the stream.
    let seq = store("stored-1".into()).await;
    assert_eq!(next().await, (seq, "stored-1".to_owned()));

    // A run that continues the feed is taken (once the feed has read up to
    // it, which may take a run or two that the stream delivers first).
    let mut taken = false;
    for n in 2..40 {
        let seq = store(format!("stored-{n}")).await;
        offer(seq, &[format!("handed-{n}")]);
        let (cursor, text) = next().await;
        assert_eq!(cursor, seq);
        if text == format!("handed-{n}") {
            taken = true;
            break;
        }
        assert_eq!(text, format!("stored-{n}"));
    }
    assert!(taken, "no handed-over run was ever taken");

    // Taking runs, the feed reads nothing else.
    let seq = store("stored-a".into()).await;
    offer(seq, &["handed-a".into()]);
    assert_eq!(next().await, (seq, "handed-a".to_owned()));

    // A run that leaves a gap: the gap is read from the stream, the run follows.
    let first = store("stored-b".into()).await;
    let second = store("stored-c".into()).await;
    offer(second, &["handed-c".into()]);
    assert_eq!(next().await, (first, "stored-b".to_owned()));
    assert_eq!(next().await, (second, "handed-c".to_owned()));

    // Stored by another writer, with no run: read from the stream all the same.
    let seq = store("stored-d".into()).await;
    assert_eq!(next().await, (seq, "stored-d".to_owned()));

    // Nothing skipped, nothing twice.
    let last = store("stored-e".into()).await;
    offer(last, &["handed-e".into()]);
    assert_eq!(next().await.0, last);
    assert_eq!(received, (1..=last).collect::<Vec<_>>());
    shutdown.cancel();
}

/// Who may exchange typing and signal frames is read from the room aggregate:
/// while the delivery projection lags a removal, the removed member neither
/// sends these frames nor receives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_member_exchanges_no_typing_or_signals_while_the_projection_lags() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    let freshness = &app.gateways[0].state.freshness;
    assert!(freshness.wait_for(Projection::Delivery, &room.to_string(), 1, FRAME_WAIT).await.unwrap());
    let mut clients = Vec::new();
    for user in [&alice, &bob, &carol] {
        let mut client = Client::connect(&app.base(0), user, "").await;
        client.backlog().await;
        clients.push(client);
    }
    let [alice_client, bob_client, carol_client] = &mut clients[..] else { unreachable!() };

    let hold = hold_projections(&app.db.pool, &["delivery"]).await;
    app.commands()
        .room(room, alice.id, RoomCommand::RemoveMember { actor: alice.id, user: carol.id, at: Utc::now() })
        .await;
    carol_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    assert_eq!(carol_client.next_of("error").await["code"], "not_found");
    carol_client
        .send(json!({"type": "signal", "to": alice.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(carol_client.next_of("error").await["code"], "not_found");
    alice_client
        .send(json!({"type": "signal", "to": carol.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(alice_client.next_of("error").await["code"], "not_found");
    alice_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    assert_eq!(bob_client.next_of("typing").await["user_id"], alice.id.to_string());
    while let Some(frame) = carol_client.next_within(Duration::from_secs(2)).await {
        assert!(frame["type"] != "typing" && frame["type"] != "signal", "Carol, removed, got {frame}");
    }
    hold.rollback().await.unwrap();
    app.stop().await;
}

/// A block hides more than messages: the blocker's presence and receipts from
/// the blocked user, the blocked user's receipts from the blocker, and the
/// blocked user's messages from the blocker's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_hides_presence_receipts_and_history_too() {
    use ciphertalk_domain::room::ReceiptKind;
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    app.commands().send(room, bob.id, b"from bob").await;
    app.commands().send(room, carol.id, b"from carol").await;
    app.commands().user(alice.id, UserCommand::BlockUser { blocked: bob.id, at: Utc::now() }).await;
    for reader in [&alice, &bob, &carol] {
        let read = RoomCommand::UpdateReceipt {
            user: reader.id,
            up_to_seq: 2,
            kind: ReceiptKind::Read,
            at: Utc::now(),
        };
        app.commands().room(room, reader.id, read).await;
    }
    let freshness = &app.gateways[0].state.freshness;
    assert!(freshness.wait_for(Projection::Delivery, &room.to_string(), 6, FRAME_WAIT).await.unwrap());
    let readers = |summary: Vec<String>| -> Vec<String> {
        summary.into_iter().filter(|line| line.starts_with("receipt.updated")).collect()
    };
    let receipt_of = |user: &Person| format!("receipt.updated {}", user.id);
    assert_eq!(readers(inbox_summary(&app, &alice).await), [receipt_of(&alice), receipt_of(&carol)]);
    assert_eq!(readers(inbox_summary(&app, &bob).await), [receipt_of(&bob), receipt_of(&carol)]);
    assert_eq!(
        readers(inbox_summary(&app, &carol).await),
        [receipt_of(&alice), receipt_of(&bob), receipt_of(&carol)]
    );

    // History: Alice's page has no message of Bob's; Carol's has both.
    let texts =
        |page: &Value| -> Vec<String> { page["items"].as_array().unwrap().iter().map(body_of).collect() };
    let path = format!("/v1/rooms/{room}/messages");
    assert!(
        eventually(10, || async {
            texts(&app.call_at(0, &alice, "GET", &path, None).await.1) == ["from carol"]
        })
        .await
    );
    assert_eq!(texts(&app.call_at(0, &carol, "GET", &path, None).await.1), ["from bob", "from carol"]);

    // Presence: Alice is online, and Bob cannot tell.
    let mut alice_client = Client::connect(&app.base(0), &alice, "").await;
    alice_client.backlog().await;
    let is_alice = |frame: &Value| frame["type"] == "presence" && frame["user_id"] == alice.id.to_string();
    for (viewer, online) in [(&carol, true), (&bob, false)] {
        let mut client = Client::connect(&app.base(0), viewer, "").await;
        client.backlog().await;
        let online_now = eventually(10, || async {
            let (_, profile) = app.call_at(0, viewer, "GET", &format!("/v1/users/{}", alice.id), None).await;
            profile["online"] == json!(true)
        })
        .await;
        assert_eq!(online_now, online, "over REST");
        client.send(json!({"type": "presence", "user_id": alice.id.to_string()})).await;
        assert_eq!(client.next_where(is_alice).await["online"], json!(online), "over the WebSocket");
    }
    app.stop().await;
}

/// Logs `email` in again through gateway 0: a new session's access and refresh tokens.
async fn login(app: &TestApp, email: &str) -> (String, String) {
    let (status, body) =
        app.post(Anonymous, "/v1/auth/login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

/// The connection is still served: a ping is answered.
async fn assert_open(client: &mut Client) {
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;
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
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.gateways[0].addr).await.unwrap();
    let mut request = format!("ws://{}/v1/ws", app.gateways[0].addr).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", slow.token).parse().unwrap());
    let (slow_socket, _) =
        tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await.unwrap();
    for n in 0..MESSAGES {
        let mut body = format!("m{n}:").into_bytes();
        body.resize(48 * 1024, b'x');
        app.commands().send(room, alice.id, &body).await;
    }
    let frames = Client { socket: slow_socket, stash: Default::default() }.until_closed().await;
    let got = frames.iter().filter(|f| f["type"] == "event").count();
    assert!(got < MESSAGES, "the slow client got everything: it was never cut off");
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
