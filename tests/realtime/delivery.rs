//! Delivery from a user's queue: backlog then live, in order, once; acks;
//! who receives what as membership and blocks change; edits and deletions.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_offline_user_gets_a_thousand_messages_from_three_rooms_in_order() {
    const MESSAGES: usize = 1000;
    let app = spawn_app().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let rooms = [
        app.commands().create_group(alice.id, vec![bob.id], "realtime").await,
        app.commands().create_group(alice.id, vec![bob.id], "realtime").await,
        app.commands().create_group(alice.id, vec![bob.id], "realtime").await,
    ];
    // Bob is online once (and acknowledges the room creations), then goes offline.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = client.next().await;
        if frame["type"] == "event" {
            seen.push(frame);
        }
    }
    assert!(seen.iter().all(|f| f["event"]["type"] == "room.created"));
    client.ack(cursor_of(&seen[2])).await;
    drop(client);

    for n in 0..MESSAGES {
        app.commands().send(rooms[n % 3], alice.id, format!("m{n}").as_bytes()).await;
    }

    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let mut events = Vec::new();
    while message_events(&events).len() < MESSAGES {
        let frame = client.next().await;
        if frame["type"] == "event" {
            events.push(frame);
        }
    }
    assert_fifo(&events);
    let messages = message_events(&events);
    let bodies: Vec<String> = messages.iter().map(|f| body_of(&f["event"])).collect();
    let expected: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    assert_eq!(bodies, expected, "FIFO across rooms, each message once");
    for (i, room) in rooms.iter().enumerate() {
        let seqs: Vec<u64> = messages
            .iter()
            .filter(|f| f["event"]["room_id"] == room.to_string())
            .map(|f| f["event"]["seq"].as_u64().unwrap())
            .collect();
        let count = (MESSAGES - i).div_ceil(3) as u64;
        assert_eq!(seqs, (1..=count).collect::<Vec<_>>(), "room {i} in seq order");
    }
    let event = &messages[0]["event"];
    for field in
        ["id", "room_id", "at", "seq", "sender_id", "client_msg_id", "ciphertext", "content_type", "sent_at"]
    {
        assert!(event.get(field).is_some(), "message.sent lacks {field}: {event}");
    }
    assert_eq!(event["sender_id"], alice.id.to_string());
    assert_eq!(event["deleted"], false);

    // The inbox pages through the same queue from the same cursor.
    let mut after = cursor_of(&seen[2]);
    let mut paged = Vec::new();
    loop {
        let (status, page) =
            app.call_at(0, &bob, "GET", &format!("/v1/inbox?after={after}&limit=200"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().unwrap() {
            paged.push(cursor_of(item));
        }
        match page["next"].as_str() {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(paged, events.iter().map(cursor_of).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disconnect_mid_backlog_resumes_exactly_and_acknowledged_events_do_not_return() {
    const MESSAGES: usize = 200;
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    for n in 0..MESSAGES {
        app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
    }
    app.queue_holds(&bob, MESSAGES as u64 + 1).await;
    let all = {
        let mut client = Client::connect(&app.base(0), &bob, "").await;
        let (events, ready) = client.backlog().await;
        assert_eq!(message_events(&events).len(), MESSAGES);
        assert_eq!(ready, cursor_of(events.last().unwrap()));
        events.iter().map(cursor_of).collect::<Vec<u64>>()
    };

    // Read 70 events, acknowledge the 50th, drop the connection mid-backlog.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let mut first = Vec::new();
    for _ in 0..70 {
        first.push(cursor_of(&client.next_of("event").await));
    }
    assert_eq!(first, all[..70]);
    assert_eq!(client.ack(all[49]).await, all[49]);
    // An older ack does not move the stored cursor back.
    assert_eq!(client.ack(all[10]).await, all[49]);
    drop(client);

    // Without `since`: everything after the acknowledged cursor, once.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let (events, _) = client.backlog().await;
    assert_eq!(events.iter().map(cursor_of).collect::<Vec<_>>(), all[50..]);
    // With `since`: from there instead.
    let mut other = Client::connect(&app.base(0), &bob, &format!("?since={}", all[69])).await;
    let (events, _) = other.backlog().await;
    assert_eq!(events.iter().map(cursor_of).collect::<Vec<_>>(), all[70..]);
    drop(other);

    // Everything acknowledged: nothing comes again, only `ready`.
    client.ack(*all.last().unwrap()).await;
    drop(client);
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let (events, ready) = client.backlog().await;
    assert!(events.is_empty(), "acknowledged events were sent again: {events:?}");
    assert_eq!(ready, *all.last().unwrap());
    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page, json!({"items": [], "next": null}));

    // Live from here: a new message arrives, then `pong` answers `ping`.
    app.commands().send(room, alice.id, b"live").await;
    let live = client.messages(1).await;
    assert_eq!(body_of(&live[0]["event"]), "live");
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_backlog_runs_into_live_events_without_gap_or_duplicate() {
    const MESSAGES: usize = 300;
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let backlog_stored = tokio::sync::Notify::new();
    let sender = async {
        for n in 0..MESSAGES {
            app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
            if n == MESSAGES / 3 {
                app.queue_holds(&bob, n as u64).await;
                backlog_stored.notify_one();
            }
        }
    };
    let receiver = async {
        // Connect while the messages are being written, with a backlog stored.
        backlog_stored.notified().await;
        let mut client = Client::connect(&app.base(0), &bob, "").await;
        let mut frames = Vec::new();
        let mut ready = false;
        while message_events(&frames).len() < MESSAGES || !ready {
            let frame = client.next().await;
            match frame["type"].as_str() {
                Some("event") => frames.push(frame),
                Some("ready") => ready = true,
                _ => {}
            }
        }
        assert!(ready, "no ready frame");
        frames
    };
    let ((), frames) = tokio::join!(sender, receiver);
    assert_fifo(&frames);
    let bodies: Vec<String> = message_events(&frames).iter().map(|f| body_of(&f["event"])).collect();
    assert_eq!(bodies, (0..MESSAGES).map(|n| format!("m{n}")).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_reach_every_member_but_those_who_blocked_the_sender_at_the_time() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    // Sends and blocks back to back, so they are projected in one batch.
    app.commands().send(room, alice.id, b"a1").await;
    app.commands().send(room, carol.id, b"c1").await;
    app.commands().user(bob.id, UserCommand::BlockUser { blocked: alice.id, at: Utc::now() }).await;
    app.commands().send(room, alice.id, b"a2").await;
    app.commands().send(room, carol.id, b"c2").await;
    app.commands().user(bob.id, UserCommand::UnblockUser { blocked: alice.id, at: Utc::now() }).await;
    app.commands().send(room, alice.id, b"a3").await;
    app.queue_holds(&carol, 6).await;
    app.queue_holds(&bob, 5).await;

    let bodies = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["event"]["type"] == "message.sent")
            .map(|item| body_of(&item["event"]))
            .collect()
    };
    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(bodies(&page), ["a1", "c1", "c2", "a3"]);
    let (_, page) = app.call_at(0, &carol, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(bodies(&page), ["a1", "c1", "a2", "c2", "a3"]);
    // The sender's other devices get their own messages.
    let (_, page) = app.call_at(0, &alice, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(bodies(&page), ["a1", "c1", "a2", "c2", "a3"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_and_leaves_change_who_receives_from_the_next_event_on() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id], "realtime").await;
    // The delivery projector has read the room's members by the time they change.
    app.commands().send(room, alice.id, b"m1").await;
    app.queue_holds(&bob, 2).await;
    let add = RoomCommand::AddMember { actor: alice.id, user: carol.id, role: Role::Member, at: Utc::now() };
    app.commands().room(room, alice.id, add).await;
    app.commands().send(room, alice.id, b"m2").await;
    app.commands().room(room, bob.id, RoomCommand::LeaveRoom { user: bob.id, at: Utc::now() }).await;
    app.commands().send(room, alice.id, b"m3").await;
    app.queue_holds(&carol, 4).await;

    let (joined, left) = (format!("member.joined {}", carol.id), format!("member.left {}", bob.id));
    assert_eq!(inbox_summary(&app, &carol).await, [joined.as_str(), "m2", left.as_str(), "m3"]);
    assert_eq!(
        inbox_summary(&app, &bob).await,
        ["room.created ", "m1", joined.as_str(), "m2", left.as_str()]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edits_and_deletions_reach_members_as_whole_messages() {
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let (kept, deleted) = (MessageId::new_v7(), MessageId::new_v7());
    let send = |message_id: MessageId, body: &[u8]| message(message_id, alice.id, body).build();
    let edit = |body: &[u8]| RoomCommand::EditMessage {
        actor: alice.id,
        message_id: kept,
        ciphertext: Ciphertext::parse(&STANDARD.encode(body)).unwrap(),
        at: Utc::now(),
    };
    let delete = |message_id| RoomCommand::DeleteMessage {
        actor: alice.id,
        message_id,
        scope: ciphertalk_domain::room::DeleteScope::ForEveryone,
        at: Utc::now(),
    };
    app.commands().room(room, alice.id, send(kept, b"first")).await;
    app.commands().room(room, alice.id, send(deleted, b"gone")).await;
    app.commands().room(room, alice.id, edit(b"second")).await;
    app.commands().room(room, alice.id, delete(deleted)).await;
    app.commands().room(room, alice.id, edit(b"third")).await;
    app.commands().room(room, alice.id, delete(kept)).await;
    app.queue_holds(&bob, 7).await;

    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events: Vec<&Value> = page["items"].as_array().unwrap().iter().map(|item| &item["event"]).collect();
    let types: Vec<&str> = events.iter().filter_map(|event| event["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "room.created",
            "message.sent",
            "message.sent",
            "message.edited",
            "message.deleted",
            "message.edited",
            "message.deleted"
        ]
    );
    let (sent, first_edit, gone, second_edit, tombstone) =
        (events[1], events[3], events[4], events[5], events[6]);
    // Each carries the whole message as it then stood, under its original seq and sender.
    for event in [first_edit, second_edit, tombstone] {
        assert_eq!(event["id"], sent["id"]);
        assert_eq!(event["seq"], sent["seq"]);
        assert_eq!(event["sender_id"], sent["sender_id"]);
        assert_eq!(event["sent_at"], sent["sent_at"]);
    }
    assert_eq!((body_of(first_edit), body_of(second_edit)), ("second".into(), "third".into()));
    assert_eq!(first_edit["edited_at"], first_edit["at"]);
    assert_eq!(second_edit["edited_at"], second_edit["at"]);
    assert!(tombstone["ciphertext"].is_null() && tombstone["deleted"] == true, "{tombstone}");
    assert_eq!(tombstone["edited_at"], second_edit["at"], "a tombstone keeps the last edit time");
    assert_eq!(gone["id"], deleted.to_string());
    assert!(gone["ciphertext"].is_null() && gone["edited_at"].is_null() && gone["deleted"] == true, "{gone}");
    assert_eq!(gone["by"], alice.id.to_string());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lagging_client_gets_what_overflowed_its_buffer_from_the_stream() {
    const MESSAGES: usize = 200;
    // Buffers of two frames overflow at once; a generous grace keeps the
    // client connected while it pauses, so what it missed live must come
    // from the stream.
    let app = spawn_app()
        .config(|config| {
            config.realtime.queue_frames = 2;
            config.realtime.slow_client_ms = 30_000;
        })
        .await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    client.backlog().await;
    for n in 0..MESSAGES {
        app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
    }
    app.queue_holds(&bob, MESSAGES as u64).await;
    let frames = client.messages(MESSAGES).await;
    assert_fifo(&frames);
    let bodies: Vec<String> = frames.iter().map(|f| body_of(&f["event"])).collect();
    assert_eq!(bodies, (0..MESSAGES).map(|n| format!("m{n}")).collect::<Vec<_>>());
    // Nothing more, and nothing twice.
    assert!(client.next_within(Duration::from_millis(500)).await.is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reading_a_backlog_leaves_no_consumer_behind() {
    let app = spawn_app().await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    for n in 0..3 {
        app.commands().send(room, alice.id, format!("m{n}").as_bytes()).await;
    }
    app.queue_holds(&bob, 4).await;
    let js = app.gateways[0].state.jetstream.clone();
    let consumers = || async {
        let mut stream = js.get_stream("CHAT_DELIVERY").await.unwrap();
        stream.info().await.unwrap().state.consumer_count
    };
    // The gateway's live feed.
    let feed = consumers().await;

    // A connection reads its backlog, then stays; the inbox reads a page.
    let mut client = Client::connect(&app.base(0), &bob, "").await;
    let (events, _) = client.backlog().await;
    assert_eq!(message_events(&events).len(), 3);
    let (status, page) = app.call_at(0, &bob, "GET", "/v1/inbox", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(4));

    // Their consumers go as soon as they are read: left to expire (30 s),
    // each would be handed the user's next messages for nobody.
    assert!(
        eventually(10, || async { consumers().await == feed }).await,
        "a backlog's consumer was left behind"
    );
    app.commands().send(room, alice.id, b"live").await;
    assert_eq!(body_of(&client.messages(1).await[0]["event"]), "live");
    app.stop().await;
}

/// The live feed dispatches the runs the local delivery leader hands over,
/// reads the stream for whatever it was not handed (a run that leaves a gap,
/// messages another writer stored), and dispatches every stream sequence
/// once, in order. Runs carry a payload other than the stored one here, so
/// each frame shows which way it came.
#[tokio::test]
async fn the_live_feed_takes_handed_over_runs_and_reads_the_stream_for_the_rest() {
    let nats = TestNats::start().await;
    let js = async_nats::jetstream::new(nats.client().await);
    Topology::new(TopologySettings::default()).unwrap().ensure(&js).await.unwrap();
    let stream = js.get_stream(subjects::DELIVERY_STREAM).await.unwrap();
    let (handoff, handed_over) = handoff::channel();
    let shutdown = CancellationToken::new();
    let feed =
        Feed::start(stream, 64, Signals { handed_over, reconnects: Default::default() }, shutdown.clone())
            .await
            .unwrap();
    let user = UserId::new_v7();
    let subject = subjects::delivery(&user.to_string()).unwrap();
    let mut subscription = feed.subscribe(user, ciphertalk_domain::DeviceId::first_of(user)).unwrap();

    let store = |text: String| {
        let (js, subject) = (js.clone(), subject.clone());
        async move { js.publish(subject, text.into()).await.unwrap().await.unwrap().sequence }
    };
    let offer = |first_seq: u64, texts: &[String]| {
        let messages = texts
            .iter()
            .map(|text| StoredDelivery {
                subject: subject.clone(),
                recorded_at: Utc::now(),
                payload: text.clone().into(),
            })
            .collect();
        handoff.offer(StoredRun { first_seq, messages });
    };
    let mut received = Vec::new();
    let mut next = async || {
        let delivered = tokio::time::timeout(FRAME_WAIT, subscription.recv()).await.unwrap().unwrap();
        let text = String::from_utf8(delivered.event.to_vec()).unwrap();
        received.push(delivered.cursor.0);
        (delivered.cursor.0, text)
    };

    // Nothing handed over: read from the stream.
    let seq = store("stored-1".into()).await;
    assert_eq!(next().await, (seq, "stored-1".to_owned()));

    // A run that continues the feed is taken (once the feed has read up to
    // it, which may take a run or two that the stream delivers first).
    let mut taken = false;
    for n in 2..40 {
        let seq = store(format!("stored-{n}")).await;
        offer(seq, &[format!("handed-{n}")]);
        let (cursor, text) = next().await;
        assert_eq!(cursor, seq);
        if text == format!("handed-{n}") {
            taken = true;
            break;
        }
        assert_eq!(text, format!("stored-{n}"));
    }
    assert!(taken, "no handed-over run was ever taken");

    // Taking runs, the feed reads nothing else.
    let seq = store("stored-a".into()).await;
    offer(seq, &["handed-a".into()]);
    assert_eq!(next().await, (seq, "handed-a".to_owned()));

    // A run that leaves a gap: the gap is read from the stream, the run follows.
    let first = store("stored-b".into()).await;
    let second = store("stored-c".into()).await;
    offer(second, &["handed-c".into()]);
    assert_eq!(next().await, (first, "stored-b".to_owned()));
    assert_eq!(next().await, (second, "handed-c".to_owned()));

    // Stored by another writer, with no run: read from the stream all the same.
    let seq = store("stored-d".into()).await;
    assert_eq!(next().await, (seq, "stored-d".to_owned()));

    // Nothing skipped, nothing twice.
    let last = store("stored-e".into()).await;
    offer(last, &["handed-e".into()]);
    assert_eq!(next().await.0, last);
    assert_eq!(received, (1..=last).collect::<Vec<_>>());
    shutdown.cancel();
}
