//! Device events: `device.added` and `device.removed` reach the user's other
//! devices and everyone sharing a room with them, nobody else; a removed
//! device gets no more to-device messages.

use futures::StreamExt;

use super::*;
use crate::realtime::Client;
use crate::support::app::{Person, b64};
use crate::support::eventually;

/// The `device.*` events in `person`'s inbox (from its acknowledged cursor).
async fn device_events(app: &TestApp, person: &Person) -> Vec<Value> {
    inbox_items(app, person)
        .await
        .iter()
        .map(|item| item["event"].clone())
        .filter(|event| event["type"].as_str().is_some_and(|kind| kind.starts_with("device.")))
        .collect()
}

/// Waits until `person`'s inbox holds `count` events about `device`; returns them.
async fn tablet_events(app: &TestApp, person: &Person, device: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut found = device_events(app, person).await;
        found.retain(|event| event["device_id"] == device);
        if found.len() >= count {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "only {found:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The next device event frame of a socket (others skipped).
async fn next_device_event(client: &mut Client) -> Value {
    loop {
        let frame = client.next().await;
        if frame["event"]["type"].as_str().is_some_and(|kind| kind.starts_with("device.")) {
            return frame["event"].clone();
        }
    }
}

/// Messages CHAT_DELIVERY holds on `subject`.
async fn stored_on(app: &TestApp, subject: &str) -> u64 {
    let stream = app.js().get_stream("CHAT_DELIVERY").await.unwrap();
    let info = stream.info_with_subjects(subject).await.unwrap();
    info.collect::<Vec<_>>().await.into_iter().filter_map(Result::ok).map(|(_, n)| n as u64).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn co_members_and_the_users_devices_learn_of_added_and_removed_devices() {
    let app = spawn_app().await;
    let email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let phone = Person::from_session(&app.register(&email, "Alice").await);
    let laptop = Person::from_session(&login_on_new_device(&app, &email, "laptop").await);
    let (carol, bob) = (app.person("Carol").await, app.person("Bob").await);
    app.group(&carol, &[&phone]).await;
    let mut laptop_socket = Client::connect(&app.base(0), &laptop, "").await;
    laptop_socket.backlog().await;

    let tablet = login_on_new_device(&app, &email, "tablet").await;
    let tablet_id = device_of(&tablet);
    let added = json!({"type": "device.added", "user_id": phone.id, "device_id": tablet_id});
    let matches = |event: &Value, expected: &Value| {
        event["type"] == expected["type"]
            && event["user_id"] == expected["user_id"]
            && event["device_id"] == expected["device_id"]
            && event["at"].is_string()
            && event.get("name").is_none()
    };
    let live = next_device_event(&mut laptop_socket).await;
    assert!(matches(&live, &added), "{live}");
    // The phone also has the laptop's, from before the room.
    for person in [&phone, &carol] {
        let events = tablet_events(&app, person, &tablet_id, 1).await;
        assert!(matches(&events[0], &added), "{events:?}");
    }

    let (status, body) = app.delete(&phone, &format!("/v1/devices/{tablet_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let removed = json!({"type": "device.removed", "user_id": phone.id, "device_id": tablet_id});
    let live = next_device_event(&mut laptop_socket).await;
    assert!(matches(&live, &removed), "{live}");
    for person in [&phone, &carol] {
        let events = tablet_events(&app, person, &tablet_id, 2).await;
        assert!(matches(&events[1], &removed), "{events:?}");
    }
    assert!(device_events(&app, &bob).await.is_empty(), "a stranger learns nothing");

    // A message to the removed device is accepted and not stored for it.
    let to = |device: &str, text: &str| json!({"user_id": phone.id, "device_id": device, "kind": "k", "ciphertext": b64(text)});
    let phone_id = DeviceId::first_of(phone.id).to_string();
    let (status, body) = app
        .post(
            &phone,
            "/v1/to-device",
            json!({"batch_id": "after", "messages": [to(&tablet_id, "gone"), to(&phone_id, "here")]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = app
        .post(&carol, "/v1/to-device", json!({"batch_id": "marker", "messages": [to(&phone_id, "marker")]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let phone_subject = format!("chat.dlv.{}.{phone_id}", phone.id);
    assert!(eventually(30, || async { stored_on(&app, &phone_subject).await >= 2 }).await);
    assert_eq!(stored_on(&app, &format!("chat.dlv.{}.{tablet_id}", phone.id)).await, 0);
}
