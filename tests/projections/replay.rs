//! Replays: each projection rebuilt equals the live one, also while the server serves.

use super::*;

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
