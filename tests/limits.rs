//! What every committed event must fit in, and components that cannot make
//! progress: events too large to publish are refused before they commit, a
//! relay stuck on one anyway (or held back by an idle transaction) says so on
//! `/health` and in a metric, rooms have a maximum size and work at it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciphertalk_domain::UserId;
use ciphertalk_gateway::serve::ServeError;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Person, TestApp, assert_error, spawn_app};
use crate::support::eventually;

/// A key bundle of `count` one-time prekeys of `key_bytes` bytes each.
fn bundle(count: u32, key_bytes: usize) -> Value {
    let key = STANDARD.encode(vec![7u8; key_bytes]);
    let one_time: Vec<Value> = (0..count).map(|id| json!({"key_id": id, "public_key": key})).collect();
    json!({
        "identity_key": STANDARD.encode([1u8; 32]),
        "signed_prekey": {"key_id": 1, "public_key": STANDARD.encode([2u8; 32]), "signature": STANDARD.encode([3u8; 64])},
        "one_time_prekeys": one_time,
    })
}

/// `PUT /v1/keys` as `who` with `request_id`; the status and the request id answered.
async fn put_keys(
    chat: &TestApp,
    who: &Person,
    request_id: &str,
    body: &Value,
) -> (StatusCode, Value, String) {
    let response = reqwest::Client::new()
        .put(format!("{}/v1/keys", chat.base(0)))
        .bearer_auth(&who.token)
        .header("x-request-id", request_id)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let echoed = response.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, echoed)
}

/// Whether `who`'s inbox holds a `message.sent` with `ciphertext`.
async fn has_message(chat: &TestApp, who: &Person, ciphertext: &str) -> bool {
    let (status, page) = chat.get(who, "/v1/inbox?limit=200").await;
    status == StatusCode::OK
        && page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["event"]["type"] == "message.sent" && item["event"]["ciphertext"] == ciphertext)
}

async fn health(chat: &TestApp) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{}/health", chat.base(0))).await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn metrics(chat: &TestApp) -> String {
    reqwest::get(format!("{}/metrics", chat.base(0))).await.unwrap().text().await.unwrap()
}

/// The value of the first sample of `series` (name and labels, as exported).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// After a refused command: a message from `alice` still reaches `bob` and
/// `/health` is green (nothing was committed that could hold the log back).
async fn the_instance_goes_on(chat: TestApp, alice: &Person, bob: &Person, room: &str) {
    let sent = chat.send(alice, room, "after the refusal").await;
    assert!(
        eventually(10, || has_message(&chat, bob, sent["ciphertext"].as_str().unwrap())).await,
        "a message after the refused command is not delivered"
    );
    let (status, body) = health(&chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    chat.stop().await;
}

#[tokio::test]
async fn an_event_too_large_to_publish_is_refused_with_413_and_later_messages_still_arrive() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;

    // 1000 keys of 720 bytes: a body under the 1 MiB body limit whose event,
    // with a 60 KB request id in its metadata, used to be over NATS's 1 MiB.
    let (status, body, echoed) = put_keys(&chat, &alice, &"r".repeat(60_000), &bundle(1000, 720)).await;
    assert_error(status, &body, 413, "too_large");
    assert!(echoed.len() <= 64, "the client's request id was kept: {} bytes", echoed.len());
    let (_, count) = chat.get(&alice, "/v1/keys/count").await;
    assert_eq!(count["one_time_prekeys"], 0, "nothing committed: {count}");

    the_instance_goes_on(chat, &alice, &bob, &room).await;
}

#[tokio::test]
async fn a_client_request_id_is_kept_when_short_visible_ascii_and_replaced_otherwise() {
    let chat = spawn_app().await;
    let alice = chat.person("Alice").await;
    let small = bundle(1, 32);
    let (status, _, echoed) = put_keys(&chat, &alice, "trace-42.abc", &small).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(echoed, "trace-42.abc");
    for bad in ["x".repeat(65), "has space".to_owned()] {
        let (status, _, echoed) = put_keys(&chat, &alice, &bad, &small).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_ne!(echoed, bad);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "replaced by a fresh id: {echoed}");
    }
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT metadata->>'request_id' FROM events WHERE aggregate_id = $1 AND event_type = 'KeysPublished'",
    )
    .bind(alice.id.to_string())
    .fetch_all(&chat.server().state.db)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|id| id.len() <= 64 && !id.contains(' ')), "{stored:?}");
    chat.stop().await;
}

#[tokio::test]
async fn a_relay_stuck_on_an_unpublishable_event_says_so_on_health_and_in_a_metric() {
    let chat = spawn_app().config(|config| config.events.stall_rounds = 2).await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let db = &chat.server().state.db;

    // Committed behind the writer's back: more than NATS takes in one message.
    let junk = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('user', $1, 1, 'Junk', '1', json_build_object('Junk', repeat('x', 1100000)), '{}')",
    )
    .bind(&junk)
    .execute(db)
    .await
    .unwrap();
    let stuck = eventually(20, || async {
        let (status, body) = health(&chat).await;
        status == StatusCode::SERVICE_UNAVAILABLE
            && body["stalled"]["relay"].as_str().is_some_and(|why| why.contains("in a row"))
            && body["error"]["details"]["down"].as_array().unwrap().contains(&json!("relay"))
    })
    .await;
    assert!(stuck, "/health does not name the stuck relay: {:?}", health(&chat).await);
    let text = metrics(&chat).await;
    assert_eq!(sample(&text, r#"ciphertalk_component_stalled{component="relay"}"#), Some(1.0), "{text}");
    assert!(sample(&text, r#"ciphertalk_component_failed_rounds{component="relay"}"#).unwrap() > 2.0);

    // An operator removes the event: the relay moves on and says so.
    sqlx::query("DELETE FROM events WHERE aggregate_id = $1").bind(&junk).execute(db).await.unwrap();
    let sent = chat.send(&alice, &room, "after the repair").await;
    assert!(eventually(20, || has_message(&chat, &bob, sent["ciphertext"].as_str().unwrap())).await);
    assert!(eventually(5, || async { health(&chat).await.0 == StatusCode::OK }).await);
    assert_eq!(
        sample(&metrics(&chat).await, r#"ciphertalk_component_stalled{component="relay"}"#),
        Some(0.0)
    );
    chat.stop().await;
}

#[tokio::test]
async fn an_idle_transaction_holding_the_relay_back_is_named_on_health_and_in_a_metric() {
    let chat = spawn_app().config(|config| config.relay.held_back_alarm_secs = 1).await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let db = &chat.server().state.db;
    let timeout: String =
        sqlx::query_scalar("SHOW idle_in_transaction_session_timeout").fetch_one(db).await.unwrap();
    assert_eq!(timeout, "1min", "the embedded Postgres ends idle transactions");

    // A session that wrote something and then went idle inside its transaction.
    let mut holder = db.begin().await.unwrap();
    sqlx::query("SET application_name = 'forgotten-console'").execute(&mut *holder).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *holder).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut *holder).await.unwrap();

    let sent = chat.send(&alice, &room, "held back").await;
    let ciphertext = sent["ciphertext"].as_str().unwrap().to_owned();
    let named = eventually(15, || async {
        let (status, body) = health(&chat).await;
        status == StatusCode::SERVICE_UNAVAILABLE
            && body["stalled"]["relay_held_back"].as_str().is_some_and(|why| {
                why.contains(&format!("pid {pid}"))
                    && why.contains("forgotten-console")
                    && why.contains("idle in transaction")
            })
    })
    .await;
    assert!(named, "/health does not name the holder: {:?}", health(&chat).await);
    // The gauge is the process's (other tests' relays set it too) and grows
    // each round while this relay is held back.
    let held_a_second = eventually(5, || async {
        sample(&metrics(&chat).await, "ciphertalk_relay_held_back_seconds").is_some_and(|held| held >= 1.0)
    })
    .await;
    assert!(
        held_a_second,
        "held back for {:?} s",
        sample(&metrics(&chat).await, "ciphertalk_relay_held_back_seconds")
    );
    assert!(!has_message(&chat, &bob, &ciphertext).await, "delivered past an open transaction");

    holder.rollback().await.unwrap();
    assert!(eventually(10, || has_message(&chat, &bob, &ciphertext)).await);
    assert!(eventually(5, || async { health(&chat).await.0 == StatusCode::OK }).await);
    assert_eq!(sample(&metrics(&chat).await, "ciphertalk_relay_held_back_seconds"), Some(0.0));
    chat.stop().await;
}

#[tokio::test]
async fn a_max_event_bytes_above_the_servers_max_payload_is_refused_at_start() {
    let app = spawn_app().gateways(0).await;
    match app.try_gateway(|config| config.events.max_event_bytes = 2 * 1024 * 1024).await {
        Err(err @ ServeError::EventLimit { max_payload: 1_048_576, .. }) => {
            assert!(err.to_string().contains("max_payload"), "{err}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("started with events larger than NATS carries"),
    }
}

#[tokio::test]
async fn a_room_at_its_maximum_size_reaches_every_member_and_takes_no_more() {
    const MAX: usize = 6;
    let chat = spawn_app().config(|config| config.rooms.max_members = MAX).await;
    let owner = chat.person("Owner").await;
    let mut members = Vec::new();
    for i in 0..MAX {
        members.push(chat.person(&format!("Member {i}")).await);
    }
    let (late, extra) = members.split_at(MAX - 1);
    let everyone: Vec<UserId> = members.iter().map(|p| p.id).collect();
    let (status, body) = chat.post(&owner, "/v1/rooms", json!({"kind": "group", "members": everyone})).await;
    assert_error(status, &body, 422, "invalid_value");
    assert_eq!(body["error"]["details"]["field"], "members");

    let room = chat.group(&owner, &late.iter().collect::<Vec<_>>()).await;
    let (status, body) =
        chat.put(&owner, &format!("/v1/rooms/{room}/members/{}", extra[0].id), Some(json!({}))).await;
    assert_error(status, &body, 409, "room_full");

    let sent = chat.send(&owner, &room, "to all of you").await;
    let ciphertext = sent["ciphertext"].as_str().unwrap();
    for member in late {
        assert!(
            eventually(10, || has_message(&chat, member, ciphertext)).await,
            "not delivered to {member:?}"
        );
        let (_, page) = chat.get(member, "/v1/inbox?limit=200").await;
        let created = page["items"].as_array().unwrap().iter().find(|i| i["event"]["type"] == "room.created");
        let created = &created.unwrap()["event"];
        assert_eq!(created["member_count"], MAX, "{created}");
        assert!(created.get("members").is_none(), "room.created carries the member list: {created}");
    }
    let (_, read) = chat.get(&owner, &format!("/v1/rooms/{room}")).await;
    assert_eq!(read["members"].as_array().unwrap().len(), MAX);

    // Room for one more once someone leaves.
    let (status, _) = chat.post(&late[0], &format!("/v1/rooms/{room}/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) =
        chat.put(&owner, &format!("/v1/rooms/{room}/members/{}", extra[0].id), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    chat.stop().await;
}

/// The largest request each write route changed here accepts (a key bundle
/// just under the event limit with the longest request id kept, a room at
/// its maximum size, a message at the ciphertext limit), and delivery after.
#[tokio::test]
async fn the_largest_requests_the_write_routes_accept_leave_delivery_working() {
    const MAX: usize = 4;
    let chat = spawn_app().config(|config| config.rooms.max_members = MAX).await;
    let alice = chat.person("Alice").await;
    let mut others = Vec::new();
    for i in 1..MAX {
        others.push(chat.person(&format!("Friend {i}")).await);
    }
    let request_id = "q".repeat(64);

    // The largest accepted bundle of 1000 keys (the pool limit): found by
    // bisection over the key size; it is within a key of the event limit.
    let (mut accepted, mut refused) = (32, 1024);
    while refused - accepted > 1 {
        let size = (accepted + refused) / 2;
        let (status, body, echoed) = put_keys(&chat, &alice, &request_id, &bundle(1000, size)).await;
        assert_eq!(echoed, request_id);
        match status {
            StatusCode::NO_CONTENT => accepted = size,
            StatusCode::PAYLOAD_TOO_LARGE => refused = size,
            other => panic!("{other}: {body}"),
        }
    }
    let (status, _, _) = put_keys(&chat, &alice, &request_id, &bundle(1000, accepted)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let largest: i32 = sqlx::query_scalar(
        "SELECT octet_length(payload::text) + octet_length(metadata::text) FROM events
          WHERE aggregate_id = $1 ORDER BY sequence DESC LIMIT 1",
    )
    .bind(alice.id.to_string())
    .fetch_one(&chat.server().state.db)
    .await
    .unwrap();
    let limit = chat.server().state.config.events.max_event_bytes as i32;
    assert!(largest < limit && largest > limit - 8 * 1024, "largest event {largest} bytes, limit {limit}");

    let room = chat.group(&alice, &others.iter().collect::<Vec<_>>()).await;
    let ciphertext = STANDARD.encode(vec![9u8; chat.server().state.config.messages.max_ciphertext_bytes]);
    let (status, body) = chat
        .post(
            &alice,
            &format!("/v1/rooms/{room}/messages"),
            json!({"client_msg_id": "largest", "ciphertext": ciphertext}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let small = chat.send(&alice, &room, "and a small one").await;
    for friend in &others {
        assert!(eventually(10, || has_message(&chat, friend, &ciphertext)).await);
        assert!(eventually(10, || has_message(&chat, friend, small["ciphertext"].as_str().unwrap())).await);
    }
    assert_eq!(health(&chat).await.0, StatusCode::OK);
    chat.stop().await;
}

/// An event whose aggregate id cannot be a subject token is refused before
/// it commits (the relay could never publish it, and every later event of the
/// instance would wait behind it), and the rest of the instance goes on.
#[tokio::test]
async fn an_event_the_relay_could_not_publish_is_refused_and_later_messages_still_arrive() {
    use ciphertalk_commands::CommandError;
    use ciphertalk_commands::store::StoreError;
    use ciphertalk_domain::DeviceId;
    use ciphertalk_domain::user::UserCommand;
    use ciphertalk_domain::values::{DisplayName, Email};

    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let id = UserId::new_v7();
    let command = UserCommand::RegisterUser {
        user_id: id,
        email: Some(Email::parse("dotted@example.org").unwrap()),
        phone: None,
        display_name: DisplayName::parse("Dotted").unwrap(),
        device_id: DeviceId::first_of(id),
        device_name: None,
        at: chrono::Utc::now(),
    };
    let refused =
        chat.write().users.execute("not.a.token", command, &crate::support::commands::meta(id)).await;
    assert!(matches!(refused, Err(CommandError::Store(StoreError::Unpublishable { .. }))), "{refused:?}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = 'not.a.token'")
        .fetch_one(&chat.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing committed");

    the_instance_goes_on(chat, &alice, &bob, &room).await;
}
