//! Every event applied exactly once: redelivery, duplicates, a killed projector, two projector processes, events not followed.

use super::*;

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
            filter_subjects: projection.consumer_filter(),
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
