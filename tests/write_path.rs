//! The write path: event store, bounded loads, and the exactly-once relay
//! into JetStream CHAT_EVENTS, under load, outages and crashes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::Utc;
use ciphertalk_commands::{CommandError, Relay, RelayOptions, RelayWake, WriteModel, WriteOptions};
use ciphertalk_domain::RoomId;
use ciphertalk_domain::ids::{MessageId, UserId};
use ciphertalk_domain::room::{JoinRule, Room, RoomCommand, RoomEvent, RoomKind};
use ciphertalk_domain::testing::SendMessageBuilder;
use ciphertalk_domain::values::ClientMsgId;
use ciphertalk_streams::WireEvent;
use cqrs_es::Aggregate;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::support::app::{AppOptions, TestApp, spawn_app};
use crate::support::commands::{ciphertext, meta};
use crate::support::eventually;

impl TestApp {
    /// Waits until CHAT_EVENTS holds as many messages as Postgres has events.
    async fn await_relayed(&self) {
        let js = self.js();
        let caught_up = eventually(120, || async {
            let Ok(mut stream) = js.get_stream("CHAT_EVENTS").await else { return false };
            let Ok(info) = stream.info().await else { return false };
            info.state.messages >= self.committed_events().await
        })
        .await;
        assert!(caught_up, "relay did not catch up with {} committed events", self.committed_events().await);
    }

    /// Every message in CHAT_EVENTS, in stream order.
    async fn stream_events(&self) -> Vec<WireEvent> {
        let js = self.js();
        let mut stream = js.get_stream("CHAT_EVENTS").await.unwrap();
        let total = stream.info().await.unwrap().state.messages as usize;
        let consumer =
            stream.create_consumer(jetstream::consumer::pull::OrderedConfig::default()).await.unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            out.push(WireEvent::from_body(&message.payload).unwrap());
        }
        out
    }

    /// Asserts CHAT_EVENTS is exactly the event table: every event once, each
    /// aggregate's events in sequence order, nothing else.
    async fn assert_stream_matches_event_store(&self) {
        let stored: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT aggregate_type, aggregate_id, sequence FROM events")
                .fetch_all(&self.db.pool)
                .await
                .unwrap();
        let streamed = self.stream_events().await;
        assert_eq!(streamed.len(), stored.len(), "stream and event store differ in size");
        let mut last: HashMap<(String, String), u64> = HashMap::new();
        for event in &streamed {
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let previous = last.insert(key.clone(), event.sequence).unwrap_or(0);
            assert_eq!(event.sequence, previous + 1, "{key:?}: {} after {previous}", event.sequence);
        }
        let mut expected: HashMap<(String, String), u64> = HashMap::new();
        for (aggregate_type, aggregate_id, sequence) in stored {
            let entry = expected.entry((aggregate_type, aggregate_id)).or_default();
            *entry = (*entry).max(sequence as u64);
        }
        assert_eq!(last, expected, "per-aggregate last sequences differ");
    }
}

/// No gateway: the test drives the write model (a snapshot every 100 events) and the relay.
fn write_side() -> AppOptions {
    spawn_app().gateways(0).snapshot_every(100)
}

fn room_id() -> RoomId {
    RoomId::from_uuid(uuid::Uuid::now_v7())
}

fn user() -> UserId {
    UserId::from_uuid(uuid::Uuid::now_v7())
}

fn create_group(room: RoomId, owner: UserId, members: Vec<UserId>) -> RoomCommand {
    RoomCommand::CreateRoom {
        room_id: room,
        kind: RoomKind::Group,
        name: None,
        description: None,
        join_rule: JoinRule::Invite,
        creator: owner,
        members,
        at: Utc::now(),
    }
}

/// Message `n` of `sender`, sent now.
fn message(sender: UserId, n: usize) -> SendMessageBuilder {
    let client_msg_id = ClientMsgId::parse(&format!("{sender}-{n}")).unwrap();
    SendMessageBuilder::new(
        MessageId::new_v7(),
        sender,
        client_msg_id,
        ciphertext("sealed by the client"),
        Utc::now(),
    )
}

fn send(sender: UserId, n: usize) -> RoomCommand {
    message(sender, n).build()
}

/// Sends messages to `room` as `sender` until `deadline`; returns how many committed.
async fn keep_sending(write: Arc<WriteModel>, room: RoomId, sender: UserId, deadline: Instant) -> usize {
    let mut committed = 0;
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        match write.rooms.execute(&room.to_string(), send(sender, n), &meta(sender)).await {
            Ok(done) => committed += done.events.len(),
            // Another process kept winning: nothing was committed, the client retries.
            Err(CommandError::Conflict { .. }) => {}
            Err(err) => panic!("send failed: {err}"),
        }
    }
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_event_reaches_the_stream_once_in_order_under_concurrent_writers() {
    let mut app = write_side().await;
    app.start_relay(RelayOptions::default());
    // A second write model over the same database stands in for another
    // gateway process: the hot room sees real optimistic-concurrency conflicts.
    let other_process = Arc::new(app.another_write_model(100));

    let hot = room_id();
    let hot_members: Vec<UserId> = (0..16).map(|_| user()).collect();
    let owner = user();
    app.write()
        .rooms
        .execute(&hot.to_string(), create_group(hot, owner, hot_members.clone()), &meta(owner))
        .await
        .unwrap();
    let mut quiet = Vec::new();
    for _ in 0..64 {
        let (room, member) = (room_id(), user());
        app.write()
            .rooms
            .execute(&room.to_string(), create_group(room, member, vec![]), &meta(member))
            .await
            .unwrap();
        quiet.push((room, member));
    }

    let deadline = Instant::now() + Duration::from_secs(4);
    let mut writers = Vec::new();
    for (room, member) in quiet {
        writers.push(tokio::spawn(keep_sending(app.write().clone(), room, member, deadline)));
    }
    for (i, member) in hot_members.into_iter().enumerate() {
        let write = if i % 2 == 0 { app.write().clone() } else { other_process.clone() };
        writers.push(tokio::spawn(keep_sending(write, hot, member, deadline)));
    }
    let mut sent = 0;
    for writer in writers {
        sent += writer.await.unwrap();
    }
    assert!(sent > 500, "only {sent} messages committed");
    assert_eq!(app.committed_events().await as usize, sent + 65);

    app.await_relayed().await;
    app.assert_stream_matches_event_store().await;

    // The hot room's messages got gap-free seqs 1..=n.
    let hot_room = app.write().rooms.load(&hot.to_string()).await.unwrap();
    let seqs: Vec<u64> = app
        .stream_events()
        .await
        .into_iter()
        .filter(|e| e.aggregate_id == hot.to_string() && e.event_type == "MessageSent")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(e.payload.get()).unwrap()["MessageSent"]["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=hot_room.aggregate.last_seq()).collect::<Vec<_>>());

    // Snapshot + tail equals a full replay of the same history.
    let full = full_replay(&app, hot).await;
    assert_eq!(hot_room.aggregate, full);
    app.stop_relay().await;
}

async fn full_replay(app: &TestApp, room: RoomId) -> Room {
    let payloads: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE aggregate_type = 'room' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(room.to_string())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let mut aggregate = Room::default();
    for payload in payloads {
        aggregate.apply(serde_json::from_value::<RoomEvent>(payload).unwrap());
    }
    aggregate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_while_nats_is_down_arrive_in_order_without_duplicates() {
    let mut app = write_side().await;
    app.start_relay(RelayOptions { idle_poll: Duration::from_millis(50), ..Default::default() });
    let rooms: Vec<(RoomId, UserId)> = (0..4).map(|_| (room_id(), user())).collect();
    for (room, member) in &rooms {
        app.write()
            .rooms
            .execute(&room.to_string(), create_group(*room, *member, vec![]), &meta(*member))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let writers: Vec<_> = rooms
        .iter()
        .map(|(room, member)| tokio::spawn(keep_sending(app.write().clone(), *room, *member, deadline)))
        .collect();

    tokio::time::sleep(Duration::from_millis(700)).await;
    app.nats.stop();
    let during_outage = app.committed_events().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(app.committed_events().await > during_outage, "commands must keep committing while NATS is down");
    app.nats.restart().await;

    for writer in writers {
        writer.await.unwrap();
    }
    app.await_relayed().await;
    app.assert_stream_matches_event_store().await;
    app.stop_relay().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_dies_after_commit_or_mid_publish_loses_and_duplicates_nothing() {
    let mut app = write_side().await;

    // 1. A process commits 40 events and dies before anything is published.
    let status = crash_helper_process("commit", &app).status().unwrap();
    assert!(!status.success(), "the helper was meant to abort");
    assert_eq!(app.committed_events().await, 45);
    let js = jetstream::new(app.client.clone());
    assert_eq!(js.get_stream("CHAT_EVENTS").await.unwrap().info().await.unwrap().state.messages, 0);

    // 2. A relay publishes 7 of them and dies before saving its cursor.
    let status = crash_helper_process("relay", &app).status().unwrap();
    assert!(!status.success(), "the helper was meant to abort");
    let published = js.get_stream("CHAT_EVENTS").await.unwrap().info().await.unwrap().state.messages;
    assert_eq!(published, 7);
    let cursor: Option<i64> =
        sqlx::query_scalar("SELECT pos FROM relay_cursor").fetch_optional(&app.db.pool).await.unwrap();
    assert_eq!(cursor, None, "the crashed relay saved no cursor");

    // 3. A fresh relay finishes the job: exactly once, in order.
    app.start_relay(RelayOptions::default());
    app.await_relayed().await;
    app.assert_stream_matches_event_store().await;
    app.stop_relay().await;
}

/// Re-runs this test binary as a separate process that crashes on purpose.
fn crash_helper_process(mode: &str, app: &TestApp) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "write_path::crash_helper", "--ignored", "--nocapture"])
        .env("CT_CRASH_MODE", mode)
        .env("CT_CRASH_DATABASE_URL", &app.db.url)
        .env("CT_CRASH_NATS_URL", app.nats.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// Not a test on its own: the crashing process of the test above.
#[tokio::test]
#[ignore = "run only as the crashing child of a_process_that_dies_after_commit_or_mid_publish"]
async fn crash_helper() {
    let (Ok(mode), Ok(database_url), Ok(nats_url)) = (
        std::env::var("CT_CRASH_MODE"),
        std::env::var("CT_CRASH_DATABASE_URL"),
        std::env::var("CT_CRASH_NATS_URL"),
    ) else {
        return;
    };
    let pool = ciphertalk_gateway::db::connect(&database_url, 4).await.unwrap();
    let client = ciphertalk_gateway::serve::connect_nats(&nats_url).await.unwrap();
    let wake = RelayWake::default();
    match mode.as_str() {
        "commit" => {
            let write = WriteModel::new(pool, wake, WriteOptions::default());
            for _ in 0..5 {
                let (room, member) = (room_id(), user());
                write
                    .rooms
                    .execute(&room.to_string(), create_group(room, member, vec![]), &meta(member))
                    .await
                    .unwrap();
                for n in 0..8 {
                    write.rooms.execute(&room.to_string(), send(member, n), &meta(member)).await.unwrap();
                }
            }
            std::process::abort();
        }
        "relay" => {
            let options = RelayOptions { abort_after_publishing: Some(7), ..Default::default() };
            Relay::new(pool, client, wake, options).run(CancellationToken::new()).await;
        }
        other => panic!("unknown crash mode {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_with_100000_events_accepts_a_message_after_reading_a_bounded_number_of_events() {
    const HISTORY: usize = 100_000;
    const SNAPSHOT_EVERY: usize = 100;
    let app = write_side().snapshot_every(SNAPSHOT_EVERY).await;
    let (room, owner) = (room_id(), user());
    let id = room.to_string();
    app.write().rooms.execute(&id, create_group(room, owner, vec![]), &meta(owner)).await.unwrap();

    // Write the history in large batches straight through the event store.
    let store = app.write().store.clone();
    let mut state = app.write().rooms.load(&id).await.unwrap();
    let mut n = 0;
    while state.sequence < HISTORY {
        let mut batch = Vec::new();
        for _ in 0..1000.min(HISTORY - state.sequence) {
            n += 1;
            batch.push(message(owner, n).sent(state.aggregate.next_seq() + batch.len() as u64));
        }
        let mut after = state.aggregate.clone();
        for event in &batch {
            after.apply(event.clone());
        }
        let committed =
            store.commit(&id, state.sequence, &after, batch, &meta(owner).to_map()).await.unwrap();
        state.sequence += committed.len();
        state.aggregate = after;
    }

    // A fresh process (empty cache) accepts one more message.
    let fresh = app.another_write_model(SNAPSHOT_EVERY);
    let done = fresh.rooms.execute(&id, send(owner, n + 1), &meta(owner)).await.unwrap();
    assert_eq!(done.sequence, HISTORY + 1);
    assert!(done.replayed < SNAPSHOT_EVERY, "read {} events to accept one message", done.replayed);

    let loaded = fresh.rooms.load(&id).await.unwrap();
    assert!(loaded.events_read < SNAPSHOT_EVERY, "a load read {} events", loaded.events_read);
    assert_eq!(loaded.aggregate, full_replay(&app, room).await, "snapshot + tail differs from a full replay");
    assert_eq!(loaded.aggregate.last_seq(), (HISTORY) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_late_is_not_skipped_by_the_relay() {
    let mut app = write_side().await;
    app.start_relay(RelayOptions { idle_poll: Duration::from_millis(20), ..Default::default() });

    // The slow transaction takes the lower position and stays open...
    let mut slow = app.db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('probe', 'slow', 1, 'Probed', '1', '{\"Probed\": {}}', '{}')",
    )
    .execute(&mut *slow)
    .await
    .unwrap();
    // ...while a later one commits and is relayed-eligible first by position.
    let (room, member) = (room_id(), user());
    app.write()
        .rooms
        .execute(&room.to_string(), create_group(room, member, vec![]), &meta(member))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.commit().await.unwrap();

    app.await_relayed().await;
    let streamed = app.stream_events().await;
    let order: Vec<&str> = streamed.iter().map(|e| e.aggregate_type.as_str()).collect();
    assert_eq!(order, ["probe", "room"], "commit order by transaction, nothing skipped");
    app.stop_relay().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_queued_on_a_busy_room_are_committed_together_and_each_gets_its_own_answer() {
    let app = write_side().await;
    let (room, owner) = (room_id(), user());
    let members: Vec<UserId> = (0..40).map(|_| user()).collect();
    app.write()
        .rooms
        .execute(&room.to_string(), create_group(room, owner, members.clone()), &meta(owner))
        .await
        .unwrap();
    let outsiders: Vec<UserId> = (0..10).map(|_| user()).collect();

    let sends = members.iter().chain(&outsiders).map(|sender| {
        let (write, sender) = (app.write().clone(), *sender);
        tokio::spawn(async move {
            (sender, write.rooms.execute(&room.to_string(), send(sender, 1), &meta(sender)).await)
        })
    });
    let mut seqs = Vec::new();
    for task in sends.collect::<Vec<_>>() {
        let (sender, result) = task.await.unwrap();
        match result {
            Ok(done) => {
                assert!(members.contains(&sender));
                let [event] = done.events.as_slice() else { panic!("one event per send") };
                // Each command keeps its own metadata inside a shared commit.
                assert_eq!(event.metadata["actor_id"], sender.to_string());
                let RoomEvent::MessageSent { seq, sender_id, .. } = &event.payload else { panic!() };
                assert_eq!(*sender_id, sender);
                assert_eq!(done.sequence, event.sequence);
                seqs.push(*seq);
            }
            Err(CommandError::Rejected(err)) => {
                assert!(outsiders.contains(&sender));
                assert_eq!(err.code(), "not_a_member");
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    let stored: Vec<(i64, String)> = sqlx::query_as(
        "SELECT sequence, metadata ->> 'actor_id' FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(room.to_string())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 41);
    assert!(stored.iter().skip(1).all(|(_, actor)| members.iter().any(|m| m.to_string() == *actor)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_in_another_process_wakes_the_relay_over_nats_without_polling() {
    let mut app = write_side().await;
    // The relay would not poll for a minute: only a wake-up can bring it.
    app.start_relay(RelayOptions { idle_poll: Duration::from_secs(60), ..Default::default() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another process: its own write model and wake-up, no relay of its own.
    let elsewhere = WriteModel::new(
        app.db.pool.clone(),
        RelayWake::with_nats(app.nats.client().await),
        WriteOptions::default(),
    );
    let (room, member) = (room_id(), user());
    let started = Instant::now();
    elsewhere
        .rooms
        .execute(&room.to_string(), create_group(room, member, vec![]), &meta(member))
        .await
        .unwrap();
    app.await_relayed().await;
    assert!(started.elapsed() < Duration::from_secs(10), "relayed after {:?}", started.elapsed());
    app.stop_relay().await;
}
