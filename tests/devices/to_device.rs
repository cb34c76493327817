//! To-device messages: each target device gets its own, in order, over its
//! WebSocket and inbox until it acknowledges them; a retried batch delivers
//! nothing twice; strangers are refused; a blocker's messages are dropped;
//! batches are bounded.

use std::time::Duration;

use super::*;
use crate::realtime::{Client, body_of, cursor_of};
use crate::support::app::{Person, b64};
use crate::support::pending_for;

/// A person with a second device: (first device, second device, second's id).
struct TwoDevices {
    first: Person,
    second: Person,
    first_id: String,
    second_id: String,
}

async fn person_with_two_devices(app: &TestApp, name: &str) -> TwoDevices {
    let email = format!("{}-{}@example.com", name.to_lowercase(), uuid::Uuid::new_v4());
    let registered = app.register(&email, name).await;
    let laptop = login_on_new_device(app, &email, "laptop").await;
    TwoDevices {
        first_id: device_of(&registered),
        second_id: device_of(&laptop),
        first: Person::from_session(&registered),
        second: Person::from_session(&laptop),
    }
}

/// One message of a batch: to `device` of `user`, carrying `text`.
fn message(user: &Person, device: &str, text: &str) -> Value {
    json!({"user_id": user.id, "device_id": device, "kind": "m.room_key", "ciphertext": b64(text)})
}

async fn send_batch(
    app: &TestApp,
    sender: &Person,
    batch_id: &str,
    messages: Vec<Value>,
) -> (StatusCode, Value) {
    app.post(sender, "/v1/to-device", json!({"batch_id": batch_id, "messages": messages})).await
}

async fn sent(app: &TestApp, sender: &Person, batch_id: &str, messages: Vec<Value>) {
    let count = messages.len();
    let (status, body) = send_batch(app, sender, batch_id, messages).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], count, "{body}");
}

/// The texts of the `to_device` events in the device's inbox (from its
/// acknowledged cursor), with their cursors.
async fn to_device_inbox(app: &TestApp, device: &Person) -> Vec<(u64, String)> {
    inbox_items(app, device)
        .await
        .iter()
        .filter(|item| item["event"]["type"] == "to_device")
        .map(|item| (cursor_of(item), body_of(&item["event"])))
        .collect()
}

/// Waits until the device's inbox holds `count` to-device messages; returns them.
async fn to_device_inbox_of(app: &TestApp, device: &Person, count: usize) -> Vec<(u64, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let found = to_device_inbox(app, device).await;
        if found.len() >= count {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "only {found:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn texts(items: &[(u64, String)]) -> Vec<&str> {
    items.iter().map(|(_, text)| text.as_str()).collect()
}

/// The next `n` to-device event frames of a socket (others skipped).
async fn to_device_frames(client: &mut Client, n: usize) -> Vec<Value> {
    let mut frames = Vec::with_capacity(n);
    while frames.len() < n {
        let frame = client.next().await;
        if frame["type"] == "event" && frame["event"]["type"] == "to_device" {
            frames.push(frame);
        }
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_device_gets_only_its_own_messages_in_order_until_it_acknowledges() {
    let app = spawn_app().await;
    let alice = app.person("Alice").await;
    let bob = person_with_two_devices(&app, "Bob").await;
    app.group(&alice, &[&bob.first]).await;

    let mut phone = Client::connect(&app.base(0), &bob.first, "").await;
    phone.backlog().await;
    let (phone_id, laptop_id) = (bob.first_id.as_str(), bob.second_id.as_str());
    sent(
        &app,
        &alice,
        "b1",
        vec![
            message(&bob.first, phone_id, "p1"),
            message(&bob.second, laptop_id, "l1"),
            message(&bob.first, phone_id, "p2"),
        ],
    )
    .await;
    sent(
        &app,
        &alice,
        "b2",
        vec![message(&bob.second, laptop_id, "l2"), message(&bob.first, phone_id, "p3")],
    )
    .await;

    // Live, to the phone only, in the order sent, as API.md shows them.
    let frames = to_device_frames(&mut phone, 3).await;
    let bodies: Vec<String> = frames.iter().map(|frame| body_of(&frame["event"])).collect();
    assert_eq!(bodies, ["p1", "p2", "p3"]);
    let event = &frames[0]["event"];
    assert_eq!(event["from_user"], json!(alice.id), "{event}");
    assert!(event["from_device"].is_string() && event["at"].is_string(), "{event}");
    assert_eq!(event["kind"], "m.room_key");
    assert!(event.get("room_id").is_none(), "{event}");
    assert!(phone.next_within(Duration::from_millis(300)).await.is_none(), "nothing of the laptop's");

    // The laptop, offline, has its own two in its inbox and its backlog.
    let laptop_inbox = to_device_inbox_of(&app, &bob.second, 2).await;
    assert_eq!(texts(&laptop_inbox), ["l1", "l2"]);
    let mut laptop = Client::connect(&app.base(0), &bob.second, "").await;
    let (backlog, _) = laptop.backlog().await;
    let backlog: Vec<String> = backlog
        .iter()
        .filter(|frame| frame["event"]["type"] == "to_device")
        .map(|frame| body_of(&frame["event"]))
        .collect();
    assert_eq!(backlog, ["l1", "l2"]);
    drop(laptop);

    // Kept until that device acknowledges; the other device's stay.
    assert_eq!(texts(&to_device_inbox(&app, &bob.first).await), ["p1", "p2", "p3"]);
    let (status, body) =
        app.post(&bob.second, "/v1/inbox/ack", json!({"cursor": laptop_inbox[1].0.to_string()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(to_device_inbox(&app, &bob.second).await.is_empty());
    let mut laptop = Client::connect(&app.base(0), &bob.second, "").await;
    let (backlog, _) = laptop.backlog().await;
    assert!(backlog.iter().all(|frame| frame["event"]["type"] != "to_device"), "{backlog:?}");
    assert_eq!(texts(&to_device_inbox(&app, &bob.first).await), ["p1", "p2", "p3"]);
    // The phone acknowledges over its socket the cursor of a message the laptop never saw.
    let last = cursor_of(&frames[2]);
    assert_eq!(phone.ack(last).await, last);
    assert!(to_device_inbox(&app, &bob.first).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_batch_delivers_nothing_twice() {
    let app = spawn_app().await;
    let email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let alice = Person::from_session(&app.register(&email, "Alice").await);
    let bob = app.person("Bob").await;
    let (_, bob_session) = app.get(&bob, "/v1/devices").await;
    let bob_device = bob_session["items"][0]["device_id"].as_str().unwrap().to_owned();
    app.group(&alice, &[&bob]).await;

    let batch = || vec![message(&bob, &bob_device, "once"), message(&bob, &bob_device, "twice?")];
    sent(&app, &alice, "retry-me", batch()).await;
    sent(&app, &alice, "retry-me", batch()).await;
    // Another of Alice's devices may use the same id: its own batch.
    let laptop = Person::from_session(&login_on_new_device(&app, &email, "laptop").await);
    sent(&app, &laptop, "retry-me", vec![message(&bob, &bob_device, "laptop")]).await;

    let inbox = to_device_inbox_of(&app, &bob, 3).await;
    assert_eq!(texts(&inbox), ["once", "twice?", "laptop"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(to_device_inbox(&app, &bob).await.len(), 3, "the retry delivered nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strangers_are_refused_and_nothing_is_sent() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    app.group(&alice, &[&bob]).await;
    let device = |person: &Person| DeviceId::first_of(person.id).to_string();

    let (status, body) = send_batch(
        &app,
        &alice,
        "mixed",
        vec![message(&bob, &device(&bob), "to bob"), message(&carol, &device(&carol), "to carol")],
    )
    .await;
    assert_error(status, &body, 403, "not_allowed");

    // My own devices, and a contact, are always reachable.
    sent(&app, &alice, "me", vec![message(&alice, &device(&alice), "to me")]).await;
    let (status, body) = app.put(&alice, &format!("/v1/contacts/{}", carol.id), None).await;
    assert!(status.is_success(), "{body}");
    sent(&app, &alice, "mixed", vec![message(&carol, &device(&carol), "to carol")]).await;

    assert_eq!(texts(&to_device_inbox_of(&app, &carol, 1).await), ["to carol"]);
    assert_eq!(texts(&to_device_inbox_of(&app, &alice, 1).await), ["to me"]);
    assert!(to_device_inbox(&app, &bob).await.is_empty(), "the refused batch sent nothing");
}

/// The delivery projection may be behind the sender's own join: the batch
/// waits for it rather than being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_joiner_may_distribute_keys_at_once() {
    let app = spawn_app().await;
    let (owner, joiner) = (app.person("Owner").await, app.person("Joiner").await);
    let (status, room) = app
        .post(
            &owner,
            "/v1/rooms",
            json!({"kind": "group", "name": "open", "join_rule": "open", "members": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    // The delivery projection cannot apply the join until this ends (its
    // reads of the members go on; other projections are not held).
    let mut hold = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE delivery_members IN EXCLUSIVE MODE").execute(&mut *hold).await.unwrap();
    let (status, body) =
        app.post(&joiner, &format!("/v1/rooms/{}/join", room["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let owner_device = DeviceId::first_of(owner.id).to_string();
    let send = send_batch(&app, &joiner, "keys", vec![message(&owner, &owner_device, "sender key")]);
    let send = pending_for(send, Duration::from_millis(300)).await;
    hold.rollback().await.unwrap();
    let (status, body) = send.await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(texts(&to_device_inbox_of(&app, &owner, 1).await), ["sender key"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_to_a_user_who_blocked_the_sender_are_dropped_silently() {
    let app = spawn_app().await;
    let (alice, bob, dave) = (app.person("Alice").await, app.person("Bob").await, app.person("Dave").await);
    app.group(&alice, &[&bob, &dave]).await;
    let (status, body) = app.put(&bob, &format!("/v1/blocks/{}", alice.id), None).await;
    assert!(status.is_success(), "{body}");

    let device = |person: &Person| DeviceId::first_of(person.id).to_string();
    sent(
        &app,
        &alice,
        "keys",
        vec![message(&bob, &device(&bob), "to bob"), message(&dave, &device(&dave), "to dave")],
    )
    .await;
    assert_eq!(texts(&to_device_inbox_of(&app, &dave, 1).await), ["to dave"]);
    assert!(to_device_inbox(&app, &bob).await.is_empty(), "the blocker gets nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_are_bounded_and_bad_ones_refused() {
    let app = spawn_app()
        .config(|config| {
            config.keys.to_device_max_messages = 3;
            config.keys.to_device_max_bytes = 4000;
            config.events.max_event_bytes = 4096;
        })
        .await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    app.group(&alice, &[&bob]).await;
    let device = DeviceId::first_of(bob.id).to_string();
    let to_bob = |text: &str| message(&bob, &device, text);

    let (status, body) =
        send_batch(&app, &alice, "many", vec![to_bob("1"), to_bob("2"), to_bob("3"), to_bob("4")]).await;
    assert_error(status, &body, 413, "too_large");
    let big = "x".repeat(2100);
    let (status, body) = send_batch(&app, &alice, "big", vec![to_bob(&big), to_bob(&big)]).await;
    assert_error(status, &body, 413, "too_large");
    // Within the batch limits, but over what one event may hold.
    let (status, body) = send_batch(&app, &alice, "event", vec![to_bob(&"y".repeat(3900))]).await;
    assert_error(status, &body, 413, "too_large");

    let (status, body) = send_batch(&app, &alice, "none", vec![]).await;
    assert_error(status, &body, 422, "invalid_value");
    for (field, value) in
        [("kind", json!("no spaces")), ("ciphertext", json!("not base64!")), ("user_id", json!("x"))]
    {
        let mut bad = to_bob("1");
        bad[field] = value;
        let (status, body) = send_batch(&app, &alice, "bad", vec![bad]).await;
        assert!(status.is_client_error() && body["error"]["code"].is_string(), "{field}: {status} {body}");
    }
    let (status, body) =
        app.post(&alice, "/v1/to-device", json!({"batch_id": "", "messages": [to_bob("1")]})).await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) =
        app.post(Anonymous, "/v1/to-device", json!({"batch_id": "x", "messages": [to_bob("1")]})).await;
    assert_error(status, &body, 401, "unauthenticated");

    // A device Bob does not have: accepted, and nobody receives it.
    let unknown = uuid::Uuid::now_v7().to_string();
    sent(&app, &alice, "unknown", vec![message(&bob, &unknown, "lost"), to_bob("found")]).await;
    assert_eq!(texts(&to_device_inbox_of(&app, &bob, 1).await), ["found"]);
}
