//! Postgres is the record: after CHAT_EVENTS lost its NATS store, the relay
//! refuses to publish onto the empty stream (which would leave the log's
//! history out of it for good and hand later events the sequences the
//! projections have applied) and says so on `/health`, until
//! `ciphertalk relay rebuild` publishes the log again at the sequences it had.

use std::collections::BTreeMap;

use async_nats::jetstream;
use ciphertalk_streams::subjects;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{Anonymous, spawn_app};
use crate::support::eventually;

/// Every message of CHAT_EVENTS: `Nats-Msg-Id` -> stream sequence.
async fn events_stream(js: &jetstream::Context) -> BTreeMap<String, u64> {
    let mut stream = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut ids = BTreeMap::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        let id = message.headers.get("Nats-Msg-Id").unwrap().as_str().to_owned();
        ids.insert(id, seq);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_jetstream_store_is_refilled_from_postgres_by_relay_rebuild() {
    let mut app = spawn_app().config(|config| config.events.stall_rounds = 2).await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    for n in 0..5 {
        app.send(&alice, &room, &format!("before {n}")).await;
    }
    let committed = app.committed_events().await;
    let js = app.js();
    assert!(eventually(30, || async { events_stream(&js).await.len() as u64 == committed }).await);
    let before = events_stream(&js).await;

    // NATS loses its store.
    app.stop_gateways().await;
    app.nats.stop();
    std::fs::remove_dir_all(app.nats.store_dir()).unwrap();
    app.nats.restart().await;
    app.add_gateway(|_| {}).await;
    let js = app.js();

    // The relay publishes nothing onto the empty stream, and says why.
    let stalled = eventually(30, || async {
        let (status, body) = app.get(Anonymous, "/health").await;
        status == StatusCode::SERVICE_UNAVAILABLE && body["stalled"]["relay"].is_string()
    })
    .await;
    let (_, health) = app.get(Anonymous, "/health").await;
    assert!(stalled, "{health}");
    assert!(health["stalled"]["relay"].as_str().unwrap().contains("ciphertalk relay rebuild"), "{health}");
    let after_loss = app.send(&alice, &room, "after the loss").await;
    assert!(events_stream(&js).await.is_empty(), "published onto the lost stream");

    let env = [("DATABASE_URL", app.db.url.clone()), ("NATS_URL", app.nats.url())];
    let (ok, output) = crate::support::binary::run(&["relay", "rebuild"], &env);
    assert!(ok, "{output}");
    assert!(output.contains("CHAT_EVENTS holds the whole log again"), "{output}");

    // Every event is back at the sequence it had, and the new one follows.
    let rebuilt = events_stream(&js).await;
    assert_eq!(rebuilt.len() as u64, app.committed_events().await);
    for (id, seq) in &before {
        assert_eq!(rebuilt.get(id), Some(seq), "{id} moved");
    }
    assert!(eventually(30, || async { app.get(Anonymous, "/health").await.0 == StatusCode::OK }).await);
    // The projections, whose offsets stayed true, go on from there.
    let history = eventually(30, || async {
        let (_, page) = app.get(&bob, &format!("/v1/rooms/{room}/messages")).await;
        page["items"].as_array().is_some_and(|items| {
            items.iter().any(|m: &Value| m["id"] == after_loss["id"]) && items.len() == 6
        })
    })
    .await;
    assert!(history, "the message sent after the loss never reached the history");
}
