//! The read side: projections fed from CHAT_EVENTS reflect the write history,
//! apply every event exactly once (redelivery, duplicates, crashes, two
//! projector processes), replay into an identical read model, serve
//! read-your-writes waits, and page through long timelines both ways.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use chrono::Utc;
use ciphertalk_domain::ids::{MessageId, RoomId, UserId};
use ciphertalk_domain::room::{DeleteScope, JoinRule, ReceiptKind, Role, RoomCommand, RoomKind};
use ciphertalk_domain::user::UserCommand;
use ciphertalk_domain::values::DisplayName;
use ciphertalk_projections::timeline::Window;
use ciphertalk_projections::{
    Backlog, Freshness, HEADER_DELIVERY_ID, Projection, ProjectorOptions, blocks, contacts, freshness,
    projector, rebuild, rooms, timeline,
};
use ciphertalk_streams::WireEvent;
use tokio_util::sync::CancellationToken;

use crate::support::app::{TestApp, spawn_app};
use crate::support::commands::{ciphertext, message};
use crate::support::{delivery_consumer_without_projector, eventually};

impl TestApp {
    /// Projectors of every projection, as another process would run them.
    fn spawn_projectors(&self, batch_size: usize) -> (CancellationToken, Vec<tokio::task::JoinHandle<()>>) {
        self.spawn_projectors_with(ProjectorOptions { batch_size, ..ProjectorOptions::default() })
    }

    fn spawn_projectors_with(
        &self,
        options: ProjectorOptions,
    ) -> (CancellationToken, Vec<tokio::task::JoinHandle<()>>) {
        let shutdown = CancellationToken::new();
        let tasks = projector::spawn_all(
            &self.js(),
            &Freshness::new(self.db.pool.clone()),
            &options,
            None,
            &shutdown,
        );
        (shutdown, tasks)
    }

    /// Runs projectors until every projection has caught up, then stops them.
    async fn project_everything(&self, batch_size: usize) {
        let (shutdown, tasks) = self.spawn_projectors(batch_size);
        self.caught_up().await;
        stop_projectors(shutdown, tasks).await;
    }

    async fn stream_last_seq(&self) -> u64 {
        let mut stream = self.js().get_stream("CHAT_EVENTS").await.unwrap();
        stream.info().await.unwrap().state.last_sequence
    }

    /// Waits until every event is in the stream and every projection applied it.
    async fn caught_up(&self) {
        let done = eventually(60, || async {
            let last = self.stream_last_seq().await;
            if last < self.committed_events().await {
                return false;
            }
            let statuses = freshness::status(&self.db.pool).await.unwrap();
            statuses.iter().all(|s| s.stream_seq >= last)
        })
        .await;
        assert!(done, "projections did not catch up: {:?}", freshness::status(&self.db.pool).await.unwrap());
    }

    async fn applied_events(&self, projection: Projection) -> u64 {
        let status = freshness::status(&self.db.pool).await.unwrap();
        status.into_iter().find(|s| s.projection == projection).unwrap().applied_events
    }

    /// Events in the event store of the aggregate types a projection follows.
    async fn events_of(&self, projection: Projection) -> u64 {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = ANY($1)")
            .bind(projection.aggregate_types())
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        n as u64
    }

    /// Every row of every table of the projection, in a canonical order.
    async fn snapshot(&self, projection: Projection) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        for table in projection.tables() {
            let rows: serde_json::Value = sqlx::query_scalar(&format!(
                "SELECT COALESCE(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]'::jsonb) FROM {table} t"
            ))
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
            out.push(((*table).to_owned(), rows));
        }
        out
    }
}

/// What the scripted history leaves behind, for the assertions.
struct History {
    alice: UserId,
    bob: UserId,
    carol: UserId,
    dave: UserId,
    room: RoomId,
    quiet_room: RoomId,
    messages: Vec<MessageId>,
}

/// Users, two rooms, joins and roles, messages with an edit, a delete for
/// everyone, a hide, a takedown, receipts, contacts and blocks.
async fn script(app: &TestApp) -> History {
    let alice = app.commands().register("Alice").await;
    let bob = app.commands().register("bob").await;
    let carol = app.commands().register("Carol").await;
    let dave = app.commands().register("Dave").await;

    let quiet_room = app.commands().create_group(alice, vec![dave], "quiet").await;
    let room = app.commands().create_group(alice, vec![bob], "general").await;
    let at = Utc::now();
    app.commands()
        .room(room, alice, RoomCommand::AddMember { actor: alice, user: carol, role: Role::Member, at })
        .await;
    app.commands()
        .room(room, alice, RoomCommand::ChangeRole { actor: alice, user: bob, role: Role::Admin, at })
        .await;
    app.commands()
        .room(room, alice, RoomCommand::AddMember { actor: alice, user: dave, role: Role::Member, at })
        .await;
    app.commands().room(room, bob, RoomCommand::RemoveMember { actor: bob, user: dave, at }).await;

    let mut messages = Vec::new();
    for (sender, text) in [(alice, "one"), (alice, "two"), (bob, "three"), (carol, "four"), (bob, "five")] {
        messages.push(app.commands().send(room, sender, text).await);
    }
    let at = Utc::now();
    let edit =
        RoomCommand::EditMessage { actor: alice, message_id: messages[0], ciphertext: ciphertext("ONE"), at };
    app.commands().room(room, alice, edit).await;
    let delete = RoomCommand::DeleteMessage {
        actor: alice,
        message_id: messages[1],
        scope: DeleteScope::ForEveryone,
        at,
    };
    app.commands().room(room, alice, delete).await;
    let hide =
        RoomCommand::DeleteMessage { actor: bob, message_id: messages[2], scope: DeleteScope::ForMe, at };
    app.commands().room(room, bob, hide).await;
    let takedown =
        RoomCommand::TakeDownMessage { moderator: dave, message_id: messages[3], report_id: None, at };
    app.commands().room(room, dave, takedown).await;
    app.commands()
        .room(room, bob, RoomCommand::UpdateReceipt { user: bob, up_to_seq: 3, kind: ReceiptKind::Read, at })
        .await;
    let delivered =
        RoomCommand::UpdateReceipt { user: carol, up_to_seq: 5, kind: ReceiptKind::Delivered, at };
    app.commands().room(room, carol, delivered).await;
    // Activity in the older room makes it the most recent one again.
    app.commands().send(quiet_room, dave, "later").await;

    for contact in [bob, carol, dave] {
        app.commands().user(alice, UserCommand::AddContact { contact, at }).await;
    }
    app.commands().user(alice, UserCommand::RemoveContact { contact: dave, at }).await;
    let rename = UserCommand::UpdateProfile {
        display_name: Some(DisplayName::parse("Aaron").unwrap()),
        username: None,
        bio: None,
        avatar_file_id: None,
        at,
    };
    app.commands().user(carol, rename).await;
    app.commands().user(alice, UserCommand::BlockUser { blocked: dave, at }).await;
    app.commands().user(bob, UserCommand::BlockUser { blocked: carol, at }).await;
    app.commands().user(bob, UserCommand::UnblockUser { blocked: carol, at }).await;
    History { alice, bob, carol, dave, room, quiet_room, messages }
}

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
    assert!(blocks::is_blocked(pool, h.alice, h.dave).await.unwrap());
    assert!(!blocks::is_blocked(pool, h.dave, h.alice).await.unwrap());
    assert!(blocks::either_blocked(pool, h.dave, h.alice).await.unwrap());
    assert!(!blocks::is_blocked(pool, h.bob, h.carol).await.unwrap(), "unblocked again");

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

/// Deletes each projection's durable consumer and makes a new one that
/// delivers the whole stream again.
async fn reset_consumers(js: &jetstream::Context) {
    let stream = js.get_stream("CHAT_EVENTS").await.unwrap();
    for projection in Projection::ALL {
        let name = projection.durable_name();
        stream.delete_consumer(&name).await.unwrap();
        let config = pull::Config {
            durable_name: Some(name),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        };
        stream.create_consumer(config).await.unwrap();
    }
}

async fn consumers_drained(js: &jetstream::Context) -> bool {
    let stream = js.get_stream("CHAT_EVENTS").await.unwrap();
    for projection in Projection::ALL {
        let Ok(info) = stream.consumer_info(projection.durable_name()).await else { return false };
        if info.num_pending > 0 || info.num_ack_pending > 0 {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_duplicated_events_change_nothing() {
    let app = spawn_app().without_projectors().await;
    script(&app).await;
    let (shutdown, tasks) = app.spawn_projectors(50);
    app.caught_up().await;
    let before: Vec<_> = futures::future::join_all(Projection::ALL.map(|p| app.snapshot(p))).await;
    let applied: Vec<u64> = futures::future::join_all(Projection::ALL.map(|p| app.applied_events(p))).await;
    for projection in Projection::ALL {
        assert_eq!(app.applied_events(projection).await, app.events_of(projection).await, "{projection}");
    }

    // The same event stored a second time in the stream (under another message id).
    let js = app.js();
    let stream = js.get_stream("CHAT_EVENTS").await.unwrap();
    for seq in [3, app.stream_last_seq().await] {
        let original = stream.get_raw_message(seq).await.unwrap();
        let event = WireEvent::from_body(&original.payload).unwrap();
        js.publish(event.subject().unwrap(), original.payload.clone()).await.unwrap().await.unwrap();
    }
    app.caught_up().await;

    // Every message delivered again from the start.
    stop_projectors(shutdown, tasks).await;
    reset_consumers(&js).await;
    let (shutdown, tasks) = app.spawn_projectors(50);
    assert!(eventually(30, || consumers_drained(&js)).await, "redeliveries were not all acknowledged");

    let after: Vec<_> = futures::future::join_all(Projection::ALL.map(|p| app.snapshot(p))).await;
    assert_eq!(before, after, "redelivery changed a read model");
    let applied_after: Vec<u64> =
        futures::future::join_all(Projection::ALL.map(|p| app.applied_events(p))).await;
    assert_eq!(applied, applied_after, "an event was applied twice");
    stop_projectors(shutdown, tasks).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_mid_stream_and_restarted_applies_everything_once() {
    const MESSAGES: usize = 600;
    let app = spawn_app().without_projectors().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "busy").await;
    for n in 0..MESSAGES {
        app.commands().send(room, if n % 2 == 0 { alice } else { bob }, &format!("m{n}")).await;
    }
    let stream_has_all =
        eventually(60, || async { app.stream_last_seq().await >= app.committed_events().await }).await;
    assert!(stream_has_all);

    // Killed abruptly (task aborted mid-batch), twice, then cancelled mid-batch.
    let last = app.stream_last_seq().await;
    for kill in 0..3 {
        let (shutdown, tasks) = app.spawn_projectors(5);
        let reached = freshness::offset(&app.db.pool, Projection::Timeline).await.unwrap();
        let moved = eventually(30, || async {
            freshness::offset(&app.db.pool, Projection::Timeline).await.unwrap() > reached
        })
        .await;
        assert!(moved, "projector made no progress");
        if kill < 2 {
            for task in &tasks {
                task.abort();
            }
        } else {
            shutdown.cancel();
        }
        for task in tasks {
            let _ = task.await;
        }
        if kill == 0 {
            let offset = freshness::offset(&app.db.pool, Projection::Timeline).await.unwrap();
            assert!(offset < last, "the first kill should have happened mid-stream ({offset} of {last})");
        }
    }

    let (shutdown, tasks) = app.spawn_projectors(25);
    app.caught_up().await;
    for projection in Projection::ALL {
        assert_eq!(app.applied_events(projection).await, app.events_of(projection).await, "{projection}");
    }
    let page = timeline::page(&app.db.pool, room, alice, Window::After(0), 200).await.unwrap();
    assert_eq!(page.items.len(), 200);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_messages WHERE room_id = $1")
        .bind(room.as_uuid())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count as usize, MESSAGES);
    let listed = rooms::list_for_user(&app.db.pool, alice, 10, None).await.unwrap();
    assert_eq!(listed.items[0].unread, Some((MESSAGES / 2) as u64), "bob's messages, each counted once");
    stop_projectors(shutdown, tasks).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_projector_processes_do_not_double_apply() {
    let app = spawn_app().without_projectors().await;
    // Two "processes" (separate projector sets) compete for the same projections.
    let (first, first_tasks) = app.spawn_projectors(10);
    let (second, second_tasks) = app.spawn_projectors(10);
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "shared").await;
    for n in 0..150 {
        app.commands().send(room, bob, &format!("m{n}")).await;
        if n == 75 {
            // The leader dies half-way; the standby takes over.
            first.cancel();
        }
    }
    app.caught_up().await;
    for projection in Projection::ALL {
        assert_eq!(app.applied_events(projection).await, app.events_of(projection).await, "{projection}");
    }
    let page = timeline::page(&app.db.pool, room, alice, Window::After(0), 200).await.unwrap();
    assert_eq!(page.items.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=150).collect::<Vec<u64>>());
    let listed = rooms::list_for_user(&app.db.pool, alice, 10, None).await.unwrap();
    assert_eq!(listed.items[0].unread, Some(150));
    second.cancel();
    for task in first_tasks.into_iter().chain(second_tasks) {
        task.await.unwrap();
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replay_of_each_projection_equals_the_live_read_model() {
    let app = spawn_app().await;
    let h = script(&app).await;
    app.caught_up().await;

    let index_names = || async {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        names
    };
    let indexes = index_names().await;
    assert!(indexes.contains(&"timeline_messages_by_id".to_owned()));
    for projection in Projection::ALL {
        let live = app.snapshot(projection).await;
        let mut reports = Vec::new();
        let report = rebuild(&app.db.pool, &app.js(), projection, |p| reports.push(p)).await.unwrap();
        assert_eq!(app.snapshot(projection).await, live, "{projection}: replay differs from live");
        assert_eq!(report.stream_seq, app.stream_last_seq().await);
        let last = reports.last().unwrap();
        assert_eq!(last.applied, last.total);
        assert!(reports.iter().all(|p| p.applied <= p.total));
    }
    assert_eq!(index_names().await, indexes, "a replay keeps the migrations' index names");

    // A replay while writes keep coming: readers never see a half-built model,
    // and after the swap the live projector carries on from the same offset.
    let writer = async {
        for n in 0..300 {
            app.commands().send(h.room, h.bob, &format!("during {n}")).await;
        }
    };
    let reader = async {
        let mut seen = 0;
        for _ in 0..40 {
            let page = timeline::page(&app.db.pool, h.room, h.alice, Window::After(0), 200).await.unwrap();
            assert!(page.items.len() >= seen, "a read went backwards during the replay");
            assert_eq!(page.items[0].seq, 1);
            seen = page.items.len();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let js = app.js();
    let replay = rebuild(&app.db.pool, &js, Projection::Timeline, |_| {});
    let (report, (), ()) = tokio::join!(replay, writer, reader);
    report.unwrap();
    app.caught_up().await;
    let live = app.snapshot(Projection::Timeline).await;
    rebuild(&app.db.pool, &app.js(), Projection::Timeline, |_| {}).await.unwrap();
    assert_eq!(app.snapshot(Projection::Timeline).await, live);
    let page = timeline::page(&app.db.pool, h.room, h.alice, Window::Latest, 1).await.unwrap();
    assert_eq!(page.items[0].seq, 305);
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
        let seq = app.commands().room(room, alice, message(id, alice, &format!("m{n}")).build()).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_command_rebuilds_a_projection_while_the_server_serves() {
    let app = spawn_app().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "replayed").await;
    for n in 0..50 {
        app.commands().send(room, if n % 2 == 0 { alice } else { bob }, &format!("m{n}")).await;
    }
    app.caught_up().await;
    let before = app.snapshot(Projection::Timeline).await;

    let env = [("DATABASE_URL", app.db.url.clone()), ("NATS_URL", app.nats.url())];
    let (ok, output) = crate::support::binary::run(&["projections", "replay", "timeline"], &env);
    assert!(ok, "{output}");
    assert_eq!(
        app.snapshot(Projection::Timeline).await,
        before,
        "the rebuilt read model differs from the live one"
    );
    // The server still answers from the swapped-in tables and keeps projecting.
    app.commands().send(room, alice, "after the replay").await;
    app.caught_up().await;
    let page = timeline::page(&app.db.pool, room, alice, Window::Latest, 1).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].seq, 51);

    let (ok, listing) = crate::support::binary::run(&["projections", "list"], &env);
    assert!(ok && listing.contains("timeline") && listing.contains("rooms"), "{listing}");
    let (ok, output) = crate::support::binary::run(&["projections", "replay", "nonsense"], &env);
    assert!(!ok && output.contains("unknown projection"), "{output}");
    app.stop().await;
}

async fn stop_projectors(shutdown: CancellationToken, tasks: Vec<tokio::task::JoinHandle<()>>) {
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap();
    }
}

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
    sqlx::query("UPDATE projection_offsets SET stream_seq = 0, applied_events = 0 WHERE name = 'delivery'")
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

/// Projections pass over long runs of events they do not follow (contacts
/// and room messages) without a transaction per batch; what they store lets
/// a successor resume, and what they follow in between is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_pass_over_events_they_do_not_follow_and_successors_resume() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob, carol) = (
        app.commands().register("Alice").await,
        app.commands().register("Bob").await,
        app.commands().register("Carol").await,
    );
    let room = app.commands().create_group(alice, vec![bob, carol], "passing").await;
    app.project_everything(50).await;
    let at = chrono::Utc::now();

    // More room messages than a leader lets its stored offset lag, then a user event.
    for n in 0..1_200 {
        app.commands().send(room, alice, &format!("m{n}")).await;
    }
    app.commands().user(alice, UserCommand::BlockUser { blocked: carol, at }).await;
    let (shutdown, tasks) = app.spawn_projectors(100);
    app.caught_up().await;
    for projection in Projection::ALL {
        assert_eq!(app.applied_events(projection).await, app.events_of(projection).await, "{projection}");
    }
    let blocks = app.snapshot(Projection::Contacts).await;
    assert!(
        blocks.iter().any(|(table, rows)| table == "blocks" && rows.as_array().is_some_and(|r| r.len() == 1))
    );

    // A few more passed over (stored once the leader is idle), then a successor.
    for n in 0..20 {
        app.commands().send(room, bob, &format!("n{n}")).await;
    }
    app.caught_up().await;
    stop_projectors(shutdown, tasks).await;
    app.commands().user(alice, UserCommand::UnblockUser { blocked: carol, at }).await;
    app.commands().send(room, carol, "after").await;
    app.project_everything(100).await;
    for projection in Projection::ALL {
        assert_eq!(app.applied_events(projection).await, app.events_of(projection).await, "{projection}");
    }
    let blocks = app.snapshot(Projection::Contacts).await;
    assert!(
        blocks.iter().any(|(table, rows)| table == "blocks" && rows.as_array().is_some_and(Vec::is_empty))
    );
    app.stop().await;
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
