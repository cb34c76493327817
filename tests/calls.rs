//! Calls: WebRTC signals relayed between members on different gateways (to
//! every device or one), refused across rooms, after a block, to a peer with
//! no connected device and over the limits, in order however many; TURN
//! credentials that a real coturn accepts (and a forged or expired one it
//! refuses); co-watch playback to the whole room and to a late joiner.

use std::time::{SystemTime, UNIX_EPOCH};

use ciphertalk_domain::UserId;
use ciphertalk_gateway::config::{Secret, Toggle};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::realtime::Client;
use crate::support::app::{Anonymous, PASSWORD, Person, TestApp, assert_error, spawn_app};
use crate::support::turn::TestTurn;

/// A registered person and the device of their session.
struct Member {
    person: Person,
    device: String,
    email: String,
}

async fn member(app: &TestApp, name: &str) -> Member {
    let email = format!("{}-{}@example.com", name.to_lowercase(), uuid::Uuid::new_v4());
    let body = app.register(&email, name).await;
    Member {
        person: Person::from_session(&body),
        device: body["device_id"].as_str().unwrap().to_owned(),
        email,
    }
}

/// Another device of `member`: a login without a device makes one.
async fn second_device(app: &TestApp, member: &Member) -> Member {
    let (status, body) =
        app.post(Anonymous, "/v1/auth/login", json!({"email": member.email, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let device = body["device_id"].as_str().unwrap().to_owned();
    assert_ne!(device, member.device);
    Member { person: Person::from_session(&body), device, email: member.email.clone() }
}

/// A connected client, past its backlog.
async fn connect(app: &TestApp, gateway: usize, who: &Person) -> Client {
    let mut client = Client::connect(&app.base(gateway), who, "").await;
    client.backlog().await;
    client
}

async fn signal_at(
    app: &TestApp,
    gateway: usize,
    who: &Person,
    kind: &str,
    body: Value,
) -> (StatusCode, Value) {
    app.call_at(gateway, who, "POST", &format!("/v1/webrtc/{kind}"), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_reach_every_device_or_the_one_named_on_any_gateway() {
    let app = spawn_app().gateways(2).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let alice_laptop = second_device(&app, &alice).await;
    let room = app.group(&alice.person, &[&bob.person]).await;
    let mut alice_phone_ws = connect(&app, 0, &alice.person).await;
    let mut alice_laptop_ws = connect(&app, 1, &alice_laptop.person).await;
    let mut bob_ws = connect(&app, 1, &bob.person).await;

    // Bob's offer, through the first gateway, reaches both of Alice's devices.
    let offer = json!({"sdp": "v=0 offer"});
    let (status, body) = signal_at(
        &app,
        0,
        &bob.person,
        "offer",
        json!({"room_id": room, "to": alice.person.id, "payload": offer}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for client in [&mut alice_phone_ws, &mut alice_laptop_ws] {
        let frame = client.next_of("signal").await;
        assert_eq!(
            frame,
            json!({"type": "signal", "from": bob.person.id, "from_device": bob.device, "room_id": room,
                   "kind": "offer", "payload": offer})
        );
    }

    // The laptop answers Bob's device alone, over the WebSocket.
    alice_laptop_ws
        .send(json!({"type": "signal", "to": bob.person.id, "device_id": bob.device, "room_id": room,
                     "kind": "answer", "payload": {"sdp": "v=0 answer"}}))
        .await;
    let answer = bob_ws.next_of("signal").await;
    assert_eq!(
        (answer["kind"].clone(), answer["from_device"].clone()),
        (json!("answer"), json!(alice_laptop.device))
    );

    // A candidate for the laptop alone: the phone's next signal is the one after it, for both.
    let candidate = |n: u32| json!({"room_id": room, "to": alice.person.id, "device_id": alice_laptop.device, "payload": {"candidate": n}});
    assert_eq!(signal_at(&app, 1, &bob.person, "candidate", candidate(1)).await.0, StatusCode::NO_CONTENT);
    let everyone = json!({"room_id": room, "to": alice.person.id, "payload": {"candidate": 2}});
    assert_eq!(signal_at(&app, 0, &bob.person, "candidate", everyone).await.0, StatusCode::NO_CONTENT);
    assert_eq!(alice_laptop_ws.next_of("signal").await["payload"], json!({"candidate": 1}));
    assert_eq!(alice_laptop_ws.next_of("signal").await["payload"], json!({"candidate": 2}));
    assert_eq!(alice_phone_ws.next_of("signal").await["payload"], json!({"candidate": 2}));

    // The relayed frames are counted.
    let metrics =
        app.http.get(format!("{}/metrics", app.base(0))).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"ciphertalk_signal_frames_relayed_total{kind="candidate"}"#), "{metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_are_refused_across_rooms_after_a_block_to_offline_peers_and_over_the_limits() {
    let app = spawn_app().config(|config| config.webrtc.max_payload_bytes = 1024).await;
    let (alice, bob, carol) =
        (member(&app, "Alice").await, member(&app, "Bob").await, member(&app, "Carol").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    let elsewhere = app.group(&alice.person, &[&carol.person]).await;
    let offer = |to: UserId, room: &str| json!({"room_id": room, "to": to, "payload": {"sdp": "v=0"}});

    // Nobody of Bob's is connected: the caller can say so.
    let (status, body) = signal_at(&app, 0, &alice.person, "offer", offer(bob.person.id, &room)).await;
    assert_error(status, &body, 409, "peer_offline");
    let mut alice_ws = connect(&app, 0, &alice.person).await;
    alice_ws
        .send(json!({"type": "signal", "to": bob.person.id, "room_id": room, "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(alice_ws.next_of("error").await["code"], "peer_offline");
    let mut bob_ws = connect(&app, 0, &bob.person).await;
    let mut carol_ws = connect(&app, 0, &carol.person).await;
    // Connected now, but not on the device named.
    let mut to_device = offer(bob.person.id, &room);
    to_device["device_id"] = json!(uuid::Uuid::now_v7());
    let (status, body) = signal_at(&app, 0, &alice.person, "offer", to_device).await;
    assert_error(status, &body, 409, "peer_offline");
    assert_eq!(
        signal_at(&app, 0, &alice.person, "offer", offer(bob.person.id, &room)).await.0,
        StatusCode::NO_CONTENT
    );
    bob_ws.next_of("signal").await;

    // Across rooms: Carol shares a room with Alice, not this one.
    let (status, body) = signal_at(&app, 0, &alice.person, "offer", offer(carol.person.id, &room)).await;
    assert_error(status, &body, 403, "not_allowed");
    let (status, body) = signal_at(&app, 0, &carol.person, "offer", offer(bob.person.id, &room)).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = signal_at(&app, 0, &bob.person, "offer", offer(carol.person.id, &elsewhere)).await;
    assert_error(status, &body, 404, "not_found");
    carol_ws
        .send(json!({"type": "signal", "to": bob.person.id, "room_id": room, "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(carol_ws.next_of("error").await["code"], "not_found");

    // A block stops signals both ways, at once; lifting it lets them through.
    let (status, _) = app.put(&bob.person, &format!("/v1/blocks/{}", alice.person.id), None).await;
    assert!(status.is_success());
    let (status, body) = signal_at(&app, 0, &alice.person, "offer", offer(bob.person.id, &room)).await;
    assert_error(status, &body, 403, "not_allowed");
    let (status, body) = signal_at(&app, 0, &bob.person, "answer", offer(alice.person.id, &room)).await;
    assert_error(status, &body, 403, "not_allowed");
    bob_ws.send(json!({"type": "signal", "to": alice.person.id, "room_id": room, "kind": "answer", "payload": {}})).await;
    assert_eq!(bob_ws.next_of("error").await["code"], "not_allowed");
    app.delete(&bob.person, &format!("/v1/blocks/{}", alice.person.id)).await;
    assert_eq!(
        signal_at(&app, 0, &bob.person, "answer", offer(alice.person.id, &room)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(alice_ws.next_of("signal").await["kind"], "answer");

    // Bounded: the payload, and bad bodies are 4xx.
    let big = json!({"room_id": room, "to": bob.person.id, "payload": {"sdp": "x".repeat(1100)}});
    let (status, body) = signal_at(&app, 0, &alice.person, "candidate", big).await;
    assert_error(status, &body, 413, "too_large");
    alice_ws
        .send(json!({"type": "signal", "to": bob.person.id, "room_id": room, "kind": "offer", "payload": "x".repeat(1100)}))
        .await;
    assert_eq!(alice_ws.next_of("error").await["code"], "too_large");
    let (status, body) =
        signal_at(&app, 0, &alice.person, "offer", json!({"room_id": room, "payload": {}})).await;
    assert_error(status, &body, 422, "invalid_value");
    alice_ws.send(json!({"type": "signal", "room_id": room, "kind": "offer", "payload": {}})).await;
    assert_eq!(alice_ws.next_of("error").await["code"], "invalid_value");
    let (status, _) = signal_at(
        &app,
        0,
        &alice.person,
        "offer",
        json!({"room_id": "nope", "to": bob.person.id, "payload": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let metrics =
        app.http.get(format!("{}/metrics", app.base(0))).send().await.unwrap().text().await.unwrap();
    for reason in ["peer_offline", "not_allowed", "not_found", "too_large", "invalid_value"] {
        let series = format!(r#"ciphertalk_signal_refusals_total{{reason="{reason}"}}"#);
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_over_their_rate_limit_are_refused_429() {
    let app = spawn_app()
        .config(|config| {
            config.rate_limits.mode = Toggle::On;
            config.write_limits.signal_per_user = 3;
            config.write_limits.playback_per_user = 2;
        })
        .await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    let _bob_ws = connect(&app, 0, &bob.person).await;
    let candidate = json!({"room_id": room, "to": bob.person.id, "payload": {"candidate": "c"}});
    for _ in 0..3 {
        assert_eq!(
            signal_at(&app, 0, &alice.person, "candidate", candidate.clone()).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let (status, body) = signal_at(&app, 0, &alice.person, "candidate", candidate).await;
    assert_error(status, &body, 429, "rate_limited");
    // Playback has a bucket of its own.
    let request = json!({"room_id": room, "payload": {"op": "request"}});
    for _ in 0..2 {
        assert_eq!(
            signal_at(&app, 0, &alice.person, "playback", request.clone()).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let (status, body) = signal_at(&app, 0, &alice.person, "playback", request).await;
    assert_error(status, &body, 429, "rate_limited");
    app.stop().await;
}

/// Candidates sent one after the other arrive in that order, whichever
/// gateway each went through, and so do a WebSocket's frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_candidates_arrive_in_the_order_they_were_sent() {
    let app = spawn_app().gateways(2).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    let mut alice_ws = connect(&app, 0, &alice.person).await;
    let mut bob_ws = connect(&app, 1, &bob.person).await;

    const OVER_HTTP: u64 = 60;
    const OVER_WS: u64 = 300;
    for n in 0..OVER_HTTP {
        let body = json!({"room_id": room, "to": bob.person.id, "payload": {"n": n}});
        let (status, body) = signal_at(&app, (n % 2) as usize, &alice.person, "candidate", body).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    for n in OVER_HTTP..OVER_HTTP + OVER_WS {
        alice_ws
            .send(json!({"type": "signal", "to": bob.person.id, "room_id": room, "kind": "candidate", "payload": {"n": n}}))
            .await;
    }
    for n in 0..OVER_HTTP + OVER_WS {
        assert_eq!(bob_ws.next_of("signal").await["payload"]["n"], n);
    }
    app.stop().await;
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turn_credentials_get_an_allocation_from_a_real_coturn_and_forged_or_expired_ones_do_not() {
    let turn = TestTurn::start().await;
    let (secret, url) = (turn.secret.clone(), turn.url());
    let app = spawn_app()
        .config(move |config| {
            config.webrtc.turn_secret = Some(Secret::new(secret.clone()));
            config.webrtc.turn_urls = url.clone();
            config.webrtc.turn_ttl_secs = 600;
        })
        .await;
    let alice = app.person("Alice").await;
    let (status, _) = app.get(Anonymous, "/v1/webrtc/turn").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, issued) = app.get(&alice, "/v1/webrtc/turn").await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["urls"], json!([turn.url()]));
    assert_eq!(issued["ttl"], 600);
    let username = issued["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, alice.id.to_string());
    let expiry: u64 = expiry.parse().unwrap();
    assert!(expiry.abs_diff(unix_now() + 600) <= 5, "expiry {expiry}");
    let credential = issued["credential"].as_str().unwrap();

    let metrics =
        app.http.get(format!("{}/metrics", app.base(0))).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("ciphertalk_turn_credentials_issued_total 1"), "{metrics}");
    let accepted = turn.allocate(username, credential).await;
    assert!(accepted.accepted, "refused:\n{}\n{}", accepted.output, turn.log_tail());
    let forged = turn.allocate(username, "bm90IHRoZSByaWdodCBvbmU=").await;
    assert!(!forged.accepted, "a forged credential was accepted:\n{}", forged.output);
    // Signed with the right secret, but its time is up.
    let expired = format!("{}:{}", unix_now() - 60, alice.id);
    let signed = ciphertalk_gateway::turn::credential(turn.secret.as_bytes(), &expired);
    let late = turn.allocate(&expired, &signed).await;
    assert!(!late.accepted, "an expired username was accepted:\n{}", late.output);
    // Another user's name with Alice's credential is forged too.
    let stolen = turn.allocate(&format!("{expiry}:{}", UserId::new_v7()), credential).await;
    assert!(!stolen.accepted, "a credential worked for another username:\n{}", stolen.output);
    app.stop().await;

    // Without a TURN secret there is no TURN server to hand out.
    let app = spawn_app().await;
    let alice = app.person("Alice").await;
    let (status, body) = app.get(&alice, "/v1/webrtc/turn").await;
    assert_error(status, &body, 404, "turn_not_configured");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn playback_reaches_every_member_and_a_late_joiner_gets_the_state_from_a_peer() {
    let app = spawn_app().gateways(2).await;
    let (alice, bob, carol, dave) = (
        member(&app, "Alice").await,
        member(&app, "Bob").await,
        member(&app, "Carol").await,
        member(&app, "Dave").await,
    );
    let room = app.group(&alice.person, &[&bob.person, &carol.person]).await;
    let mut alice_ws = connect(&app, 0, &alice.person).await;
    let mut bob_ws = connect(&app, 1, &bob.person).await;
    let file = uuid::Uuid::now_v7().to_string();

    // Alice presses play: everyone else connected hears it, she does not.
    let playing = json!({"op": "state", "file_id": file, "state": "playing", "position": 12.5});
    alice_ws.send(json!({"type": "signal", "room_id": room, "kind": "playback", "payload": playing})).await;
    let heard = bob_ws.next_of("signal").await;
    assert_eq!(
        heard,
        json!({"type": "signal", "from": alice.person.id, "from_device": alice.device, "room_id": room,
               "kind": "playback", "payload": playing})
    );

    // Carol joins late and asks the room; Alice's answer reaches her alone.
    let mut carol_ws = connect(&app, 1, &carol.person).await;
    let (status, body) =
        signal_at(&app, 1, &carol.person, "playback", json!({"room_id": room, "payload": {"op": "request"}}))
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let asked = alice_ws.next_of("signal").await;
    assert_eq!(
        (asked["from"].clone(), asked["payload"].clone()),
        (json!(carol.person.id), json!({"op": "request"}))
    );
    assert_eq!(bob_ws.next_of("signal").await["payload"], json!({"op": "request"}));
    let paused = json!({"op": "state", "file_id": file, "state": "paused", "position": 30.0});
    alice_ws
        .send(
            json!({"type": "signal", "to": asked["from"], "device_id": asked["from_device"], "room_id": room,
                     "kind": "playback", "payload": paused}),
        )
        .await;
    let answer = carol_ws.next_of("signal").await;
    assert_eq!((answer["from"].clone(), answer["payload"].clone()), (json!(alice.person.id), paused));

    // Bob got neither his own echo nor Alice's answer to Carol: his next is Alice's next state.
    let again = json!({"op": "state", "file_id": file, "state": "playing", "position": 30.0});
    let (status, _) =
        signal_at(&app, 0, &alice.person, "playback", json!({"room_id": room, "payload": again})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(bob_ws.next_of("signal").await["payload"], again);
    assert_eq!(carol_ws.next_of("signal").await["payload"], again);

    // Outsiders and nonsense are refused.
    let (status, body) =
        signal_at(&app, 0, &dave.person, "playback", json!({"room_id": room, "payload": {"op": "request"}}))
            .await;
    assert_error(status, &body, 404, "not_found");
    let rewinding = json!({"op": "state", "file_id": file, "state": "rewinding", "position": 1});
    let (status, body) =
        signal_at(&app, 0, &alice.person, "playback", json!({"room_id": room, "payload": rewinding})).await;
    assert_error(status, &body, 422, "invalid_value");
    alice_ws
        .send(json!({"type": "signal", "room_id": room, "kind": "playback", "payload": {"op": "state"}}))
        .await;
    assert_eq!(alice_ws.next_of("error").await["code"], "invalid_value");
    app.stop().await;
}

/// Two `ciphertalk serve` processes: an offer posted to one reaches the
/// callee connected to the other, the answer comes back the other way, and a
/// callee with no connection anywhere is `peer_offline`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_cross_two_gateway_processes() {
    use crate::support::app::JWT_SECRET;
    use crate::support::binary::ServeProcess;
    use crate::support::temp_dir;

    let app = spawn_app().await;
    let env = [
        ("DATABASE_URL", app.db.url.clone()),
        ("NATS_URL", app.nats.url()),
        ("CIPHERTALK_JWT_SECRET", JWT_SECRET.to_owned()),
    ];
    let (dirs, logs) = (temp_dir("calls-serve"), temp_dir("calls-logs"));
    let first = ServeProcess::start(&dirs.path().join("a"), logs.path(), &env).await;
    let second = ServeProcess::start(&dirs.path().join("b"), logs.path(), &env).await;
    let (alice, bob) = (member(&app, "Alice").await, member(&app, "Bob").await);
    let room = app.group(&alice.person, &[&bob.person]).await;
    let http = reqwest::Client::new();
    let post = |base: &str, who: &Person, kind: &str, body: Value| {
        http.post(format!("{base}/v1/webrtc/{kind}")).bearer_auth(&who.token).json(&body).send()
    };

    let offline = post(
        &first.base,
        &alice.person,
        "offer",
        json!({"room_id": room, "to": bob.person.id, "payload": {"sdp": "o"}}),
    );
    let offline = offline.await.unwrap();
    assert_eq!(offline.status(), StatusCode::CONFLICT);
    assert_eq!(offline.json::<Value>().await.unwrap()["error"]["code"], "peer_offline");

    let mut bob_ws = Client::connect(&second.base, &bob.person, "").await;
    bob_ws.backlog().await;
    let mut alice_ws = Client::connect(&first.base, &alice.person, "").await;
    alice_ws.backlog().await;
    let offer = post(
        &first.base,
        &alice.person,
        "offer",
        json!({"room_id": room, "to": bob.person.id, "payload": {"sdp": "v=0 offer"}}),
    );
    assert_eq!(offer.await.unwrap().status(), StatusCode::NO_CONTENT);
    let frame = bob_ws.next_of("signal").await;
    assert_eq!((frame["kind"].clone(), frame["from_device"].clone()), (json!("offer"), json!(alice.device)));
    let answer = json!({"room_id": room, "to": alice.person.id, "device_id": alice.device, "payload": {"sdp": "v=0 answer"}});
    assert_eq!(
        post(&second.base, &bob.person, "answer", answer).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let frame = alice_ws.next_of("signal").await;
    assert_eq!(
        (frame["kind"].clone(), frame["payload"].clone()),
        (json!("answer"), json!({"sdp": "v=0 answer"}))
    );
    first.terminate();
    second.terminate();
}
