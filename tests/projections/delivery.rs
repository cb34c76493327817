//! The delivery projection's publishing: resumed after a half-published batch, nothing twice, nothing lost.

use super::*;

/// The delivery id of every message in CHAT_DELIVERY, in stream order.
async fn delivery_message_ids(js: &jetstream::Context) -> Vec<String> {
    let mut stream = js.get_stream("CHAT_DELIVERY").await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut ids = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        ids.push(message.headers.get(HEADER_DELIVERY_ID).unwrap().as_str().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_the_last_stored_message_of_a_half_published_batch() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "half").await;
    for n in 0..3 {
        app.commands().send(room, alice, &format!("m{n}")).await;
    }
    assert!(eventually(60, || async { app.stream_last_seq().await >= app.committed_events().await }).await);

    // A first run that published all of the batch's messages, in order...
    app.project_everything(500).await;
    let js = app.js();
    let complete = delivery_message_ids(&js).await;
    assert!(complete.len() >= 8, "{complete:?}");

    // ...is replayed as a crash between publishing half of it and committing:
    // the stream keeps the first half, Postgres forgets the whole batch.
    // A de-duplication window that has passed by the retry: resuming must not
    // depend on it.
    js.delete_stream("CHAT_DELIVERY").await.unwrap();
    let short_window = ciphertalk_streams::TopologySettings {
        duplicate_window: Duration::from_secs(1),
        ..ciphertalk_streams::TopologySettings::default()
    };
    ciphertalk_streams::Topology::new(short_window).unwrap().ensure(&js).await.unwrap();
    let half = complete.len() / 2;
    for id in &complete[..half] {
        let user = id.split_once(':').unwrap().1;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(HEADER_DELIVERY_ID, id.as_str());
        let publish =
            async_nats::jetstream::message::PublishMessage::build().payload("{}".into()).headers(headers);
        js.send_publish(format!("chat.dlv.{user}"), publish).await.unwrap().await.unwrap();
    }
    forget_delivery_progress(&app).await;

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (shutdown, tasks) = app.spawn_projectors(500);
    app.caught_up().await;
    assert_eq!(delivery_message_ids(&js).await, complete, "every message once, in the original order");
    stop_projectors(shutdown, tasks).await;
    app.stop().await;
}

/// As if Postgres lost the delivery projection's commits: its tables, offset
/// and progress start over, while CHAT_DELIVERY keeps what was published.
async fn forget_delivery_progress(app: &TestApp) {
    sqlx::query("UPDATE projection_offsets SET stream_seq = 0, applied_events = 0, output_seq = 0 WHERE name = 'delivery'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    for table in Projection::Delivery.tables() {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&app.db.pool).await.unwrap();
    }
    sqlx::query("DELETE FROM projection_progress WHERE projection = 'delivery'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let events = app.js().get_stream("CHAT_EVENTS").await.unwrap();
    events.delete_consumer(&Projection::Delivery.durable_name()).await.unwrap();
}

/// `delivery` publishes runs of messages without a transaction and stores its
/// offset later; a leader stopped before it did leaves a successor to apply
/// them again, which publishes nothing twice and counts every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_published_without_a_transaction_are_not_published_twice_by_a_successor() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "unstored").await;
    app.project_everything(50).await;
    let js = app.js();
    let before = delivery_message_ids(&js).await.len();

    // Idle for longer than the test runs: the leader never stores its offset when idle.
    let options =
        ProjectorOptions { batch_size: 10, idle: Duration::from_secs(120), ..ProjectorOptions::default() };
    let (shutdown, tasks) = app.spawn_projectors_with(options);
    for n in 0..40 {
        app.commands().send(room, alice, &format!("m{n}")).await;
    }
    assert!(eventually(60, || async { delivery_message_ids(&js).await.len() == before + 80 }).await);
    stop_projectors(shutdown, tasks).await;
    let last = app.stream_last_seq().await;
    let delivery = freshness::status(&app.db.pool).await.unwrap();
    let delivery = delivery.iter().find(|s| s.projection == Projection::Delivery).unwrap();
    assert!(delivery.stream_seq < last, "the offset was stored with the sends: {delivery:?}");

    let published = delivery_message_ids(&js).await;
    app.project_everything(10).await;
    assert_eq!(delivery_message_ids(&js).await, published, "nothing published twice");
    let distinct: std::collections::HashSet<&String> = published.iter().collect();
    assert_eq!(distinct.len(), published.len());
    assert_eq!(app.applied_events(Projection::Delivery).await, app.events_of(Projection::Delivery).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_applied_again_after_lost_commits_publish_nothing_twice() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob, carol) = (
        app.commands().register("Alice").await,
        app.commands().register("Bob").await,
        app.commands().register("Carol").await,
    );
    let room = app.commands().create_group(alice, vec![bob, carol], "lost").await;
    for n in 0..20 {
        app.commands().send(room, alice, &format!("m{n}")).await;
    }
    assert!(eventually(60, || async { app.stream_last_seq().await >= app.committed_events().await }).await);

    // Small batches, so the replay below crosses many of them.
    app.project_everything(3).await;
    let js = app.js();
    let complete = delivery_message_ids(&js).await;
    assert!(complete.len() >= 60, "{complete:?}");

    // Every batch is applied again; the stream's tail lies beyond all but the last.
    forget_delivery_progress(&app).await;
    let (shutdown, tasks) = app.spawn_projectors(3);
    app.caught_up().await;
    assert_eq!(delivery_message_ids(&js).await, complete, "nothing published twice");
    // And new events still go out after them.
    app.commands().send(room, alice, "after").await;
    assert!(eventually(60, || async { delivery_message_ids(&js).await.len() == complete.len() + 3 }).await);
    stop_projectors(shutdown, tasks).await;
    app.stop().await;
}

/// The ids of the messages (`message.sent`) delivered to each user, from CHAT_DELIVERY.
async fn delivered_messages(
    js: &jetstream::Context,
) -> std::collections::HashMap<String, std::collections::BTreeSet<String>> {
    let mut stream = js.get_stream("CHAT_DELIVERY").await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut delivered: std::collections::HashMap<_, std::collections::BTreeSet<_>> = Default::default();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        if event["type"] == "message.sent" {
            let user = message.subject.as_str().trim_start_matches("chat.dlv.").to_owned();
            delivered.entry(user).or_default().insert(event["id"].as_str().unwrap().to_owned());
        }
    }
    delivered
}

/// The delivery projection's memory of members and blockers is bounded
/// (`projections.delivery_memory`), and making room never drops what the
/// batch at hand needs: with room for one entry, runs of messages to three
/// rooms from two senders still reach every member, and a block still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_delivery_memory_loses_no_delivery_and_lets_no_blocked_sender_through() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob, carol) = (
        app.commands().register("Alice").await,
        app.commands().register("Bob").await,
        app.commands().register("Carol").await,
    );
    let mut rooms = Vec::new();
    for name in ["one", "two", "three"] {
        rooms.push(app.commands().create_group(alice, vec![bob, carol], name).await);
    }
    app.commands().user(carol, UserCommand::BlockUser { blocked: bob, at: Utc::now() }).await;
    // A run from Bob alone (his blockers and room one remembered), then,
    // after a receipt ends that run, one naming every room and both senders.
    let mut from_alice = vec![];
    let mut from_bob = vec![app.commands().send(rooms[0], bob, "first").await];
    let receipt =
        RoomCommand::UpdateReceipt { user: alice, up_to_seq: 1, kind: ReceiptKind::Read, at: Utc::now() };
    app.commands().room(rooms[0], alice, receipt).await;
    for room in &rooms {
        from_alice.push(app.commands().send(*room, alice, "hello").await);
        from_bob.push(app.commands().send(*room, bob, "hi").await);
    }
    assert!(eventually(60, || async { app.stream_last_seq().await >= app.committed_events().await }).await);

    let options = ProjectorOptions { delivery_memory: 1, ..ProjectorOptions::default() };
    let (shutdown, tasks) = app.spawn_projectors_with(options);
    app.caught_up().await;
    let delivered = delivered_messages(&app.js()).await;
    let ids = |messages: &[MessageId]| messages.iter().map(ToString::to_string).collect::<Vec<_>>();
    let everything: std::collections::BTreeSet<String> =
        ids(&from_alice).into_iter().chain(ids(&from_bob)).collect();
    let get = |user: UserId| delivered.get(&user.to_string()).cloned().unwrap_or_default();
    assert_eq!(get(alice), everything, "every message reaches Alice");
    assert_eq!(get(bob), everything, "every message reaches Bob");
    assert_eq!(get(carol), ids(&from_alice).into_iter().collect(), "Carol gets Alice's, none of Bob's");
    stop_projectors(shutdown, tasks).await;
    app.stop().await;
}
