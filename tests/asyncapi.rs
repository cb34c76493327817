//! `/v1/asyncapi.json` describes the frames the server really sends: a
//! session that provokes every server frame and every client event type is
//! validated frame by frame against the document's schemas (formats
//! checked), and every frame and event type the document names is seen.

use std::collections::BTreeSet;

use chrono::Utc;
use ciphertalk_domain::DeviceId;
use ciphertalk_domain::room::RoomCommand;
use ciphertalk_domain::user::UserCommand;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::devices::{device_of, login_on_new_device};
use crate::files::{put_chunk, registered};
use crate::realtime::Client;
use crate::support::app::{Anonymous, Person, spawn_app};

/// Validates frames against the schemas of one AsyncAPI document.
struct Frames {
    doc: Value,
}

impl Frames {
    fn schema_names(&self, prefix: &str) -> BTreeSet<String> {
        let schemas = self.doc["components"]["schemas"].as_object().unwrap();
        schemas.keys().filter_map(|name| name.strip_prefix(prefix)).map(str::to_owned).collect()
    }

    /// Panics unless `frame` is valid against schema `name`.
    fn check(&self, name: &str, frame: &Value) {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
            "components": self.doc["components"],
        });
        let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(frame).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{frame} does not match {name}: {errors:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_frame_of_a_session_matches_the_asyncapi_document() {
    let app = spawn_app().await;
    let (status, doc) = app.call(Anonymous, "GET", "/v1/asyncapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["asyncapi"], "3.0.0");
    let frames = Frames { doc };

    let alice_email = format!("alice-{}@example.com", uuid::Uuid::new_v4());
    let alice = Person::from_session(&app.register(&alice_email, "Alice").await);
    let (bob, carol, dave) = (app.person("Bob").await, app.person("Carol").await, app.person("Dave").await);
    let mut bob_ws = Client::connect(&app.base(0), &bob, "").await;
    let mut alice_ws = Client::connect(&app.base(0), &alice, "").await;

    // Every client event type, provoked for Bob.
    let room = app.group(&alice, &[&bob]).await;
    let rooms = format!("/v1/rooms/{room}");
    let ok = |(status, body): (StatusCode, Value)| {
        assert!(status.is_success(), "{status}: {body}");
        body
    };
    ok(app.patch(&alice, &rooms, json!({"name": "renamed"})).await);
    ok(app.put(&alice, &format!("{rooms}/members/{}", carol.id), Some(json!({}))).await);
    ok(app.put(&alice, &format!("{rooms}/members/{}", carol.id), Some(json!({"role": "admin"}))).await);
    app.delete(&alice, &format!("{rooms}/members/{}", carol.id)).await;
    let invite = RoomCommand::InviteMember { actor: alice.id, user: dave.id, at: Utc::now() };
    app.commands().room(room.parse().unwrap(), alice.id, invite).await;
    let first = app.send(&alice, &room, "first").await;
    let second = app.send(&alice, &room, "second").await;
    let third = app.send(&alice, &room, "third").await;
    let message = |m: &Value| format!("{rooms}/messages/{}", m["id"].as_str().unwrap());
    ok(app.patch(&alice, &message(&first), json!({"ciphertext": "ZWRpdGVk"})).await);
    app.delete(&alice, &message(&second)).await;
    app.delete(&bob, &format!("{}?for=me", message(&first))).await;
    ok(app.post(&alice, &format!("{rooms}/receipts"), json!({"up_to_seq": 3, "kind": "read"})).await);
    let takedown = RoomCommand::TakeDownMessage {
        moderator: alice.id,
        message_id: third["id"].as_str().unwrap().parse().unwrap(),
        report_id: None,
        at: Utc::now(),
    };
    app.commands().room(room.parse().unwrap(), alice.id, takedown).await;
    // Bob, an instance admin, is told of a new report at once.
    app.commands().user(bob.id, UserCommand::GrantAdmin { by: None, at: Utc::now() }).await;
    let report = json!({"target": {"kind": "user", "id": alice.id.to_string()}, "reason": "spam"});
    assert_eq!(app.post(&dave, "/v1/reports", report).await.0, StatusCode::CREATED);
    // A device of Alice's, who shares the room with Bob, comes and goes.
    let tablet = device_of(&login_on_new_device(&app, &alice_email, "tablet").await);
    assert_eq!(app.delete(&alice, &format!("/v1/devices/{tablet}")).await.0, StatusCode::NO_CONTENT);
    // A to-device message for Bob's device.
    let to_bob = json!({"user_id": bob.id, "device_id": DeviceId::first_of(bob.id), "kind": "m.room_key", "ciphertext": "a2V5"});
    ok(app.post(&alice, "/v1/to-device", json!({"batch_id": "keys-1", "messages": [to_bob]})).await);
    // A file in the room: its chunk stored, completed, deleted.
    let (file, urls) = registered(&app, &alice, &room, 10, 10).await;
    assert_eq!(put_chunk(&app, &urls[0], vec![7; 10]).await.0, StatusCode::OK);
    ok(app.post(&alice, &format!("/v1/files/{file}/complete"), json!({})).await);
    assert_eq!(app.delete(&alice, &format!("/v1/files/{file}")).await.0, StatusCode::NO_CONTENT);

    // Every other server frame.
    alice_ws.backlog().await;
    alice_ws.send(json!({"type": "typing", "room_id": room, "typing": true})).await;
    alice_ws
        .send(json!({"type": "signal", "to": bob.id.to_string(), "room_id": room, "kind": "offer", "payload": {"sdp": "v=0"}}))
        .await;
    // Co-watch: a playback state for the whole room.
    let playback =
        json!({"op": "state", "file_id": uuid::Uuid::now_v7(), "state": "paused", "position": 3.5});
    let to_room = json!({"type": "signal", "room_id": room, "kind": "playback", "payload": playback});
    frames.check("ClientFrame_signal", &to_room);
    frames.check("Playback", &playback);
    alice_ws.send(to_room).await;
    let client_frames = [
        json!({"type": "presence", "user_id": alice.id.to_string()}),
        json!({"type": "ping"}),
        json!({"type": "typing", "room_id": room, "typing": false}),
        json!({"type": "signal", "to": alice.id.to_string(), "room_id": room, "kind": "playback", "payload": {"op": "request"}}),
    ];

    let wanted_events = frames.schema_names("Event_");
    let wanted_frames = frames.schema_names("ServerFrame_");
    let (mut seen_events, mut seen_frames) = (BTreeSet::new(), BTreeSet::new());
    let mut last_cursor = None;
    let mut asked = false;
    while seen_events != wanted_events || seen_frames != wanted_frames {
        let Some(frame) = bob_ws.next_within(std::time::Duration::from_secs(20)).await else {
            panic!(
                "frames never seen: {:?}, events never seen: {:?}",
                wanted_frames.difference(&seen_frames).collect::<Vec<_>>(),
                wanted_events.difference(&seen_events).collect::<Vec<_>>()
            );
        };
        let kind = frame["type"].as_str().unwrap().to_owned();
        frames.check(&format!("ServerFrame_{kind}"), &frame);
        if kind == "event" {
            let event_type = frame["event"]["type"].as_str().unwrap().replace('.', "_");
            frames.check(&format!("Event_{event_type}"), &frame["event"]);
            seen_events.insert(event_type);
            last_cursor = frame["cursor"].as_str().map(str::to_owned);
        }
        seen_frames.insert(kind);
        if seen_events == wanted_events && !asked {
            asked = true;
            for client_frame in &client_frames {
                frames
                    .check(&format!("ClientFrame_{}", client_frame["type"].as_str().unwrap()), client_frame);
                bob_ws.send(client_frame.clone()).await;
            }
            let ack = json!({"type": "ack", "cursor": last_cursor.clone().unwrap()});
            frames.check("ClientFrame_ack", &ack);
            bob_ws.send(ack).await;
            bob_ws.send(json!({"type": "no such frame"})).await;
        }
    }
    assert!(seen_events.contains("message_deleted") && seen_frames.contains("error"));
}
