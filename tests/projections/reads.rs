//! The read models: what a scripted history leaves, read-your-writes waits, paging, the backlog.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_reflect_a_scripted_history() {
    let app = spawn_app().await;
    let h = script(&app).await;
    app.caught_up().await;
    let pool = &app.db.pool;

    // rooms: settings, members and roles.
    let room = rooms::get_with_members(pool, h.room).await.unwrap().unwrap();
    assert_eq!(
        (room.kind, room.name.as_deref(), room.join_rule),
        (RoomKind::Group, Some("general"), JoinRule::Invite)
    );
    assert_eq!(room.last_seq, 5);
    let members: Vec<(UserId, Role)> = room.members.unwrap().iter().map(|m| (m.user_id, m.role)).collect();
    assert_eq!(members, [(h.alice, Role::Owner), (h.bob, Role::Admin), (h.carol, Role::Member)]);
    assert_eq!(rooms::role_of(pool, h.room, h.dave).await.unwrap(), None, "removed members are gone");
    assert_eq!(rooms::role_of(pool, h.room, h.bob).await.unwrap(), Some(Role::Admin));

    // Room lists: latest activity first; unread = others' messages above the read receipt.
    let alice_rooms = rooms::list_for_user(pool, h.alice, 50, None).await.unwrap();
    let order: Vec<RoomId> = alice_rooms.items.iter().map(|r| r.id).collect();
    assert_eq!(order, [h.quiet_room, h.room]);
    let unread = |page: &ciphertalk_projections::Page<rooms::RoomView>, room: RoomId| {
        page.items.iter().find(|r| r.id == room).unwrap().unread.unwrap()
    };
    assert_eq!(unread(&alice_rooms, h.room), 3, "bob's two and carol's one");
    assert_eq!(unread(&alice_rooms, h.quiet_room), 1);
    let bob_rooms = rooms::list_for_user(pool, h.bob, 50, None).await.unwrap();
    assert_eq!(bob_rooms.items.len(), 1);
    assert_eq!(unread(&bob_rooms, h.room), 1, "read up to 3; only carol's four is someone else's above it");
    let dave_rooms = rooms::list_for_user(pool, h.dave, 50, None).await.unwrap();
    assert_eq!(dave_rooms.items.iter().map(|r| r.id).collect::<Vec<_>>(), [h.quiet_room]);
    let first = rooms::list_for_user(pool, h.alice, 1, None).await.unwrap();
    assert_eq!(first.items[0].id, h.quiet_room);
    let second = rooms::list_for_user(pool, h.alice, 1, first.next.as_deref()).await.unwrap();
    assert_eq!((second.items[0].id, second.next), (h.room, None));
    assert!(rooms::list_for_user(pool, h.alice, 1, Some("nonsense")).await.is_err());

    // timeline: edits, tombstones, hides, receipts.
    let alice_view = timeline::page(pool, h.room, h.alice, Window::Latest, 50).await.unwrap();
    let seqs: Vec<u64> = alice_view.items.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let edited = &alice_view.items[0];
    assert_eq!(edited.ciphertext.as_deref(), Some(ciphertext("ONE").as_str()));
    assert!(edited.edited_at.is_some() && !edited.deleted);
    for tombstone in [&alice_view.items[1], &alice_view.items[3]] {
        assert!(tombstone.deleted && tombstone.ciphertext.is_none(), "deleted/taken down keep a tombstone");
    }
    assert_eq!(alice_view.items[2].ciphertext.as_deref(), Some(ciphertext("three").as_str()));
    let bob_view = timeline::page(pool, h.room, h.bob, Window::Latest, 50).await.unwrap();
    assert_eq!(bob_view.items.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 4, 5], "bob hid three");
    let message = timeline::message(pool, h.room, h.messages[4]).await.unwrap().unwrap();
    assert_eq!((message.seq, message.sender_id, message.room_id), (5, h.bob, h.room));
    assert_eq!(message.client_msg_id, h.messages[4].to_string());
    let receipts = timeline::receipts(pool, h.room).await.unwrap();
    let of =
        |user: UserId| receipts.iter().find(|r| r.user_id == user).map(|r| (r.delivered_up_to, r.read_up_to));
    assert_eq!(of(h.bob), Some((3, 3)), "reading implies delivery");
    assert_eq!(of(h.carol), Some((5, 0)));

    // contacts and blocks.
    let list = contacts::list(pool, h.alice).await.unwrap();
    let names: Vec<(&str, UserId)> = list.iter().map(|c| (c.display_name.as_str(), c.user_id)).collect();
    assert_eq!(names, [("Aaron", h.carol), ("bob", h.bob)], "sorted by display name, case-insensitively");
    let blocked = |user: UserId| async move {
        blocks::list(pool, user).await.unwrap().into_iter().map(|b| b.user_id).collect::<Vec<_>>()
    };
    assert_eq!(blocked(h.alice).await, [h.dave]);
    assert_eq!(blocked(h.dave).await, []);
    assert_eq!(blocked(h.bob).await, [], "unblocked again");

    // Lag is exported per projection.
    let metrics = app.server().state.metrics.render();
    assert!(metrics.contains("ciphertalk_projection_lag_events{projection=\"timeline\"}"), "{metrics}");

    // JSON shaped as API.md's.
    let json = serde_json::to_value(&alice_view.items[1]).unwrap();
    for field in [
        "id",
        "room_id",
        "seq",
        "sender_id",
        "client_msg_id",
        "ciphertext",
        "content_type",
        "file_ids",
        "sent_at",
        "deleted",
    ] {
        assert!(json.get(field).is_some(), "message JSON lacks {field}: {json}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_for_the_callers_own_writes() {
    let app = spawn_app().await;
    let freshness = &app.server().state.freshness;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "now").await;
    for n in 0..20 {
        let id = MessageId::new_v7();
        let seq = app.commands().room(room, alice, message(id, alice, format!("m{n}")).build()).await;
        let reached = freshness
            .wait_for(Projection::Timeline, &room.to_string(), seq, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(reached, "timeline did not reach sequence {seq}");
        assert!(
            timeline::message(&app.db.pool, room, id).await.unwrap().is_some(),
            "waited, yet not readable"
        );
    }
    let seq = app.commands().room(room, bob, RoomCommand::LeaveRoom { user: bob, at: Utc::now() }).await;
    let projections = [Projection::Rooms, Projection::Timeline];
    assert!(
        freshness.wait_for_all(&projections, &room.to_string(), seq, Duration::from_secs(2)).await.unwrap()
    );
    assert_eq!(rooms::role_of(&app.db.pool, room, bob).await.unwrap(), None);

    app.commands().user(alice, UserCommand::AddContact { contact: bob, at: Utc::now() }).await;
    let user_seq = app.write().users.load(&alice.to_string()).await.unwrap().sequence as u64;
    assert!(
        freshness
            .wait_for(Projection::Contacts, &alice.to_string(), user_seq, Duration::from_secs(2))
            .await
            .unwrap()
    );
    assert!(contacts::is_contact(&app.db.pool, alice, bob).await.unwrap());

    // A sequence that never comes: the wait gives up after its bound.
    let started = std::time::Instant::now();
    let room_id = room.to_string();
    let reached = freshness.wait_for(Projection::Timeline, &room_id, 10_000, Duration::from_millis(300));
    assert!(!reached.await.unwrap());
    assert!(started.elapsed() >= Duration::from_millis(300) && started.elapsed() < Duration::from_secs(2));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_pages_both_ways_over_1000_messages() {
    const TOTAL: u64 = 1000;
    let app = spawn_app().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "long").await;
    let mut hidden = None;
    for n in 1..=TOTAL {
        let id = app.commands().send(room, alice, &format!("m{n}")).await;
        if n == 500 {
            hidden = Some(id);
        }
    }
    let hide = RoomCommand::DeleteMessage {
        actor: bob,
        message_id: hidden.unwrap(),
        scope: DeleteScope::ForMe,
        at: Utc::now(),
    };
    app.commands().room(room, bob, hide).await;
    app.caught_up().await;
    let pool = &app.db.pool;

    // Backwards from the newest.
    let mut seen = Vec::new();
    let mut page = timeline::page(pool, room, alice, Window::Latest, 64).await.unwrap();
    assert_eq!(page.items.iter().map(|m| m.seq).collect::<Vec<_>>(), (937..=1000).collect::<Vec<u64>>());
    loop {
        let seqs: Vec<u64> = page.items.iter().map(|m| m.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "each page ascends");
        seen.splice(0..0, seqs);
        let Some(next) = page.next else { break };
        page = timeline::page(pool, room, alice, Window::Before(next.parse().unwrap()), 64).await.unwrap();
    }
    assert_eq!(seen, (1..=TOTAL).collect::<Vec<_>>());

    // Forwards from the start.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = timeline::page(pool, room, alice, Window::After(after), 200).await.unwrap();
        seen.extend(page.items.iter().map(|m| m.seq));
        match page.next {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=TOTAL).collect::<Vec<_>>());

    // Windows around a point, with the viewer's hidden message left out.
    let before = timeline::page(pool, room, alice, Window::Before(500), 10).await.unwrap();
    assert_eq!(before.items.iter().map(|m| m.seq).collect::<Vec<_>>(), (490..500).collect::<Vec<u64>>());
    let around = timeline::page(pool, room, bob, Window::After(495), 10).await.unwrap();
    let seqs: Vec<u64> = around.items.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [496, 497, 498, 499, 501, 502, 503, 504, 505, 506]);
    let last = timeline::page(pool, room, alice, Window::After(995), 10).await.unwrap();
    assert_eq!((last.items.len(), last.next), (5, None));
    let huge = timeline::page(pool, room, alice, Window::Latest, 100_000).await.unwrap();
    assert_eq!(huge.items.len(), 200, "limits are capped");
    app.stop().await;
}

/// The backlog senders are held back by: what a projection's consumer still
/// holds, read from JetStream; it falls to nothing once the projectors apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_is_what_the_projections_have_still_to_apply() {
    let app = spawn_app().without_projectors().await;
    script(&app).await;
    let events = app.committed_events().await;
    assert!(eventually(30, || async { app.stream_last_seq().await >= events }).await);
    delivery_consumer_without_projector(&app.js()).await;

    let following = CancellationToken::new();
    let backlog = Backlog::follow(app.js(), following.clone());
    assert!(
        eventually(10, || async { backlog.events() >= events }).await,
        "backlog {} of {events} events",
        backlog.events()
    );
    assert!(!backlog.wait_within(events - 1, Duration::from_millis(600)).await);

    let (shutdown, tasks) = app.spawn_projectors(50);
    assert!(
        backlog.wait_within(0, Duration::from_secs(30)).await,
        "backlog {} with the projectors running",
        backlog.events()
    );
    stop_projectors(shutdown, tasks).await;
    following.cancel();
    app.stop().await;
}
