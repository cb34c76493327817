//! Postgres is the record: after CHAT_EVENTS lost its NATS store, the relay
//! refuses to publish onto the empty stream (which would leave the log's
//! history out of it for good and hand later events the sequences the
//! projections have applied) and says so on `/health`, until
//! `ciphertalk relay rebuild` publishes the log again at the sequences it had.

use std::collections::BTreeMap;

use async_nats::jetstream;
use ciphertalk_projections::HEADER_DELIVERY_ID;
use ciphertalk_streams::subjects;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Anonymous, Person, TestApp, spawn_app};
use crate::support::eventually;

/// Every message of `stream` by the header that names it -> stream sequence.
async fn stream_ids(js: &jetstream::Context, stream: &str, header: &str) -> BTreeMap<String, u64> {
    let mut stream = js.get_stream(stream).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut ids = BTreeMap::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        let id = message.headers.get(header).unwrap().as_str().to_owned();
        ids.insert(id, seq);
    }
    ids
}

/// Every message of CHAT_EVENTS: `Nats-Msg-Id` -> stream sequence.
async fn events_stream(js: &jetstream::Context) -> BTreeMap<String, u64> {
    stream_ids(js, subjects::EVENTS_STREAM, "Nats-Msg-Id").await
}

/// Every message of CHAT_DELIVERY: delivery id (event and recipient) -> stream sequence.
async fn delivery_stream(js: &jetstream::Context) -> BTreeMap<String, u64> {
    stream_ids(js, subjects::DELIVERY_STREAM, HEADER_DELIVERY_ID).await
}

/// The message texts' ids in `person`'s inbox after its acknowledged cursor, in order.
async fn inbox_messages(app: &TestApp, person: &Person) -> Vec<String> {
    let (status, page) = app.get(person, "/v1/inbox?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["event"]["type"] == "message.sent")
        .map(|item| item["event"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `person` acknowledges its inbox up to and including message `id`.
async fn ack_through(app: &TestApp, person: &Person, id: &str) {
    let (_, page) = app.get(person, "/v1/inbox?limit=200").await;
    let item = page["items"].as_array().unwrap().iter().find(|item| item["event"]["id"] == id).unwrap();
    let cursor = item["cursor"].clone();
    let (status, body) = app.post(person, "/v1/inbox/ack", json!({"cursor": cursor})).await;
    assert!(status.is_success(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_jetstream_store_is_refilled_from_postgres_by_relay_rebuild() {
    let mut app = spawn_app().config(|config| config.events.stall_rounds = 2).await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let mut sent = Vec::new();
    for n in 0..5 {
        sent.push(app.send(&alice, &room, &format!("before {n}")).await["id"].as_str().unwrap().to_owned());
    }
    let committed = app.committed_events().await;
    let js = app.js();
    assert!(eventually(30, || async { events_stream(&js).await.len() as u64 == committed }).await);
    let before = events_stream(&js).await;
    // Bob's device has read two of them; three wait in its queue.
    assert!(eventually(30, || async { inbox_messages(&app, &bob).await == sent }).await);
    ack_through(&app, &bob, &sent[1]).await;
    assert_eq!(inbox_messages(&app, &bob).await, sent[2..]);
    let deliveries = delivery_stream(&js).await;
    assert!(!deliveries.is_empty());

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
    assert!(output.contains("CHAT_DELIVERY holds every delivery again"), "{output}");

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

    // Every delivery is back at its sequence, so Bob's cursor still counts
    // right: the three he had not read, then the new one, nothing twice.
    let refilled = delivery_stream(&js).await;
    for (id, seq) in &deliveries {
        assert_eq!(refilled.get(id), Some(seq), "delivery {id} moved");
    }
    let mut unread = sent[2..].to_vec();
    unread.push(after_loss["id"].as_str().unwrap().to_owned());
    let queue = eventually(30, || async { inbox_messages(&app, &bob).await == unread }).await;
    assert!(queue, "{:?} != {unread:?}", inbox_messages(&app, &bob).await);
}

/// CHAT_DELIVERY alone lost (its stream deleted and made again): the delivery
/// projector publishes nothing onto the short stream, which would hand new
/// messages the sequences devices acknowledged, and says so on `/health`,
/// until `relay rebuild` has published every delivery again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_delivery_stream_stops_delivery_until_relay_rebuild_refills_it() {
    let mut app = spawn_app().config(|config| config.events.stall_rounds = 2).await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let mut sent = Vec::new();
    for n in 0..4 {
        sent.push(app.send(&alice, &room, &format!("before {n}")).await["id"].as_str().unwrap().to_owned());
    }
    assert!(eventually(30, || async { inbox_messages(&app, &bob).await == sent }).await);
    ack_through(&app, &bob, &sent[2]).await;
    let js = app.js();
    let deliveries = delivery_stream(&js).await;

    app.stop_gateways().await;
    js.delete_stream(subjects::DELIVERY_STREAM).await.unwrap();
    app.add_gateway(|_| {}).await;
    let stalled = eventually(30, || async {
        let (_, body) = app.get(Anonymous, "/health").await;
        body["stalled"].as_object().is_some_and(|stalled| {
            stalled.values().any(|why| why.as_str().is_some_and(|why| why.contains("CHAT_DELIVERY")))
        })
    })
    .await;
    let (_, health) = app.get(Anonymous, "/health").await;
    assert!(stalled, "{health}");
    assert!(health.to_string().contains("ciphertalk relay rebuild"), "{health}");
    let after_loss = app.send(&alice, &room, "after the loss").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(delivery_stream(&js).await.is_empty(), "published onto the short stream");

    let env = [("DATABASE_URL", app.db.url.clone()), ("NATS_URL", app.nats.url())];
    let (ok, output) = crate::support::binary::run(&["relay", "rebuild"], &env);
    assert!(ok, "{output}");
    assert!(output.contains("CHAT_DELIVERY holds every delivery again"), "{output}");
    // What the projection had applied beyond its stored offset it applies
    // again (publishing what the stream lacks, in order) once it runs.
    let refilled = eventually(30, || async {
        let refilled = delivery_stream(&js).await;
        deliveries.iter().all(|(id, seq)| refilled.get(id) == Some(seq))
    })
    .await;
    assert!(refilled, "deliveries moved: {deliveries:?} {:?} {output}", delivery_stream(&js).await);
    let unread = vec![sent[3].clone(), after_loss["id"].as_str().unwrap().to_owned()];
    let queue = eventually(30, || async { inbox_messages(&app, &bob).await == unread }).await;
    assert!(queue, "{:?} != {unread:?}", inbox_messages(&app, &bob).await);
    assert!(eventually(30, || async { app.get(Anonymous, "/health").await.0 == StatusCode::OK }).await);
}

/// The documented backup (docs/backup.md): `pg_dump -Fc` of a running
/// install, restored with `pg_restore` into an empty database on a "new
/// machine" (its own empty nats-server), then `relay rebuild`: every room's
/// history and every device's unread queue are back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pg_dump_restored_on_a_new_machine_brings_history_and_deliveries_back() {
    let app = spawn_app().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let mut sent = Vec::new();
    for n in 0..4 {
        sent.push(app.send(&alice, &room, &format!("message {n}")).await["id"].as_str().unwrap().to_owned());
    }
    assert!(eventually(30, || async { inbox_messages(&app, &bob).await == sent }).await);
    ack_through(&app, &bob, &sent[0]).await;
    // Taken while the install runs: the dump is one consistent snapshot.
    let bin = ciphertalk_gateway::embedded::binaries::postgres_bin_dir(None).unwrap();
    let dump = crate::support::temp_dir("dump");
    let file = dump.path().join("ciphertalk.dump");
    let pg_dump = std::process::Command::new(bin.join("pg_dump"))
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(&file)
        .arg(&app.db.url)
        .output()
        .unwrap();
    assert!(pg_dump.status.success(), "{}", String::from_utf8_lossy(&pg_dump.stderr));

    let restored = crate::support::TestDb::empty().await;
    let pg_restore = std::process::Command::new(bin.join("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "--dbname", &restored.url])
        .arg(&file)
        .output()
        .unwrap();
    assert!(pg_restore.status.success(), "{}", String::from_utf8_lossy(&pg_restore.stderr));
    drop(app);

    let new =
        spawn_app().database_url(restored.url.clone()).config(|config| config.events.stall_rounds = 2).await;
    let env = [("DATABASE_URL", restored.url.clone()), ("NATS_URL", new.nats.url())];
    let (ok, output) = crate::support::binary::run(&["relay", "rebuild"], &env);
    assert!(ok, "{output}");
    assert!(output.contains("CHAT_DELIVERY holds every delivery again"), "{output}");
    let history = eventually(30, || async {
        let (_, page) = new.get(&bob, &format!("/v1/rooms/{room}/messages")).await;
        page["items"].as_array().is_some_and(|items| items.len() == sent.len())
    })
    .await;
    assert!(history, "{:?}", new.get(&bob, &format!("/v1/rooms/{room}/messages")).await);
    let queue = eventually(30, || async { inbox_messages(&new, &bob).await == sent[1..] }).await;
    assert!(queue, "{:?}", inbox_messages(&new, &bob).await);
    let after = new.send(&alice, &room, "after the restore").await["id"].as_str().unwrap().to_owned();
    let mut unread = sent[1..].to_vec();
    unread.push(after);
    assert!(eventually(30, || async { inbox_messages(&new, &bob).await == unread }).await);
    assert!(eventually(30, || async { new.get(Anonymous, "/health").await.0 == StatusCode::OK }).await);
}
