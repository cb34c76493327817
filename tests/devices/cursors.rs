//! Delivery cursors per device: each device receives everything after its own
//! acknowledged cursor, whatever the user's other devices acknowledged; a new
//! device starts at the end of the user's queue; a cursor stored before
//! devices is the first device's.

use ciphertalk_domain::RoomId;

use super::*;
use crate::realtime::{Client, body_of, cursor_of};
use crate::support::app::Person;

/// A user's first device and a second one, added before Bob puts the user in a
/// group and sends `messages` messages; the queue of both (cursor, event type).
async fn two_devices_with_messages(app: &TestApp, messages: usize) -> (Person, Person, Vec<(u64, String)>) {
    let bob = app.person("Bob").await;
    let email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let first = Person::from_session(&app.register(&email, "Alice").await);
    let second = Person::from_session(&login_on_new_device(app, &email, "laptop").await);
    let room = group_of(app, &bob, &first).await;
    send_messages(app, room, &bob, 0, messages).await;
    // The second device's `device.added`, the room, the messages.
    app.queue_holds(&first, 2 + messages as u64).await;
    let all = inbox(app, &first).await;
    assert_eq!(all.len(), 1 + messages, "{all:?}");
    (first, second, all)
}

/// A group of `owner` and `member`, created before `member`'s second device exists.
async fn group_of(app: &TestApp, owner: &Person, member: &Person) -> RoomId {
    app.commands().create_group(owner.id, vec![member.id], "devices").await
}

/// Sends `count` messages `m<n>` from `sender` to `room`, numbered from `from`.
async fn send_messages(app: &TestApp, room: RoomId, sender: &Person, from: usize, count: usize) {
    for n in from..from + count {
        app.commands().send(room, sender.id, format!("m{n}").as_bytes()).await;
    }
}

/// Whether a frame or inbox item carries a `device.*` event: these tests are
/// about room events (a new device may also get its own `device.added`).
fn is_device_event(item: &Value) -> bool {
    item["event"]["type"].as_str().is_some_and(|kind| kind.starts_with("device."))
}

/// Event frames but the device events.
fn room_events(frames: Vec<Value>) -> Vec<Value> {
    frames.into_iter().filter(|frame| !is_device_event(frame)).collect()
}

/// The inbox of `device` from its acknowledged cursor: (cursor, event type)
/// pairs of its room events.
async fn inbox(app: &TestApp, device: &Person) -> Vec<(u64, String)> {
    inbox_items(app, device)
        .await
        .iter()
        .filter(|item| !is_device_event(item))
        .map(|item| (cursor_of(item), item["event"]["type"].as_str().unwrap().to_owned()))
        .collect()
}

async fn inbox_ack(app: &TestApp, device: &Person, cursor: u64) {
    let (status, body) = app.post(device, "/v1/inbox/ack", json!({"cursor": cursor.to_string()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offline_device_gets_everything_another_device_acknowledged() {
    const MESSAGES: usize = 500;
    let app = spawn_app().await;
    let bob = app.person("Bob").await;
    let email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let first = Person::from_session(&app.register(&email, "Alice").await);
    let room = group_of(&app, &bob, &first).await;
    let second = Person::from_session(&login_on_new_device(&app, &email, "laptop").await);

    // The second device is online, reads and acknowledges all 500; the first is offline.
    let mut laptop = Client::connect(&app.base(0), &second, "").await;
    let (backlog, _) = laptop.backlog().await;
    let backlog = room_events(backlog);
    assert!(backlog.is_empty(), "a new device starts at the end: {backlog:?}");
    send_messages(&app, room, &bob, 0, MESSAGES).await;
    let read = laptop.messages(MESSAGES).await;
    let last = cursor_of(read.last().unwrap());
    assert_eq!(laptop.ack(last).await, last);
    drop(laptop);

    let mut phone = Client::connect(&app.base(0), &first, "").await;
    let (events, ready) = phone.backlog().await;
    let events = room_events(events);
    assert_eq!(ready, last, "the backlog reaches the end of the queue");
    let cursors: Vec<u64> = events.iter().map(cursor_of).collect();
    assert!(cursors.windows(2).all(|pair| pair[0] < pair[1]), "in order, once: {cursors:?}");
    assert_eq!(events[0]["event"]["type"], "room.created");
    let bodies: Vec<String> = events[1..]
        .iter()
        .inspect(|frame| assert_eq!(frame["event"]["type"], "message.sent"))
        .map(|frame| body_of(&frame["event"]))
        .collect();
    let expected: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    assert_eq!(bodies, expected, "every message the other device acknowledged, in order, once");
    assert!(phone.next_within(std::time::Duration::from_millis(300)).await.is_none(), "nothing more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbox_acks_of_one_device_do_not_move_the_other() {
    let app = spawn_app().await;
    let (first, second, all) = two_devices_with_messages(&app, 3).await;
    assert_eq!(inbox(&app, &second).await, all, "the second device was added before the room");
    inbox_ack(&app, &second, all[3].0).await;
    assert!(inbox(&app, &second).await.is_empty());
    assert_eq!(inbox(&app, &first).await, all, "the first device's cursor did not move");

    inbox_ack(&app, &first, all[1].0).await;
    assert_eq!(inbox(&app, &first).await, all[2..]);
    assert!(inbox(&app, &second).await.is_empty(), "nor did the second's go back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_device_starts_at_the_end_of_the_queue() {
    let app = spawn_app().await;
    let bob = app.person("Bob").await;
    let email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let first = Person::from_session(&app.register(&email, "Alice").await);
    let room = group_of(&app, &bob, &first).await;
    send_messages(&app, room, &bob, 0, 10).await;
    app.queue_holds(&first, 11).await;

    let second = Person::from_session(&login_on_new_device(&app, &email, "laptop").await);
    assert!(inbox(&app, &second).await.is_empty());
    let mut laptop = Client::connect(&app.base(0), &second, "").await;
    let (backlog, ready) = laptop.backlog().await;
    let backlog = room_events(backlog);
    assert!(backlog.is_empty(), "{backlog:?}");
    send_messages(&app, room, &bob, 10, 1).await;
    let next = laptop.messages(1).await;
    assert_eq!(body_of(&next[0]["event"]), "m10");
    assert!(cursor_of(&next[0]) > ready);
    assert_eq!(inbox(&app, &first).await.len(), 12, "the first device still has all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_stored_before_devices_is_the_first_devices() {
    let app = spawn_app().await;
    let (first, second, all) = two_devices_with_messages(&app, 3).await;

    // The shape the previous code wrote: one row per user, no device.
    sqlx::query("INSERT INTO delivery_cursors (user_id, cursor) VALUES ($1, $2)")
        .bind(first.id.as_uuid())
        .bind(i64::try_from(all[1].0).unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    let before_devices = Person { id: first.id, token: token_without_device(first.id) };
    for device in [&first, &before_devices] {
        assert_eq!(inbox(&app, device).await, all[2..], "the old row is the first device's");
    }
    assert_eq!(inbox(&app, &second).await, all, "and not the second's");

    // Acks of the first device move that same row.
    inbox_ack(&app, &before_devices, all[3].0).await;
    assert!(inbox(&app, &first).await.is_empty());
    let rows: Vec<i64> =
        sqlx::query_scalar("SELECT cursor FROM delivery_cursors WHERE user_id = $1 AND device_id = '00000000-0000-0000-0000-000000000000'")
            .bind(first.id.as_uuid())
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, [i64::try_from(all[3].0).unwrap()], "the old row moved, no second one for the device");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_socket_acks_its_devices_cursor_and_a_removed_device_is_forgotten() {
    let app = spawn_app().await;
    let bob = app.person("Bob").await;
    let email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let first = Person::from_session(&app.register(&email, "Alice").await);
    let laptop = login_on_new_device(&app, &email, "laptop").await;
    let second = Person::from_session(&laptop);
    let room = group_of(&app, &bob, &first).await;
    send_messages(&app, room, &bob, 0, 2).await;
    app.queue_holds(&first, 4).await;

    let (status, ticket) = app.post(&second, "/v1/ws/ticket", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let query = format!("?ticket={}", ticket["ticket"].as_str().unwrap());
    let mut socket = Client::try_connect(&app.base(0), None, &query).await.unwrap();
    let (events, ready) = socket.backlog().await;
    let events = room_events(events);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(socket.ack(ready).await, ready);
    assert!(inbox(&app, &second).await.is_empty(), "the ticket's device acknowledged");
    assert_eq!(inbox(&app, &first).await.len(), 3, "not the first device");

    let path = format!("/v1/devices/{}", device_of(&laptop));
    let (status, body) = app.delete(&first, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM delivery_cursors WHERE device_id = $1")
        .bind(device_of(&laptop).parse::<uuid::Uuid>().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "a removed device's cursor is deleted");
}
