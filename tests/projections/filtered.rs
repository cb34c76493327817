//! Projections that follow a small part of the log are handed only that part
//! by nats-server, and a filtered consumer that hands messages to someone else
//! makes its leader start over rather than miss them.

use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_following_a_small_part_of_the_log_are_not_handed_room_messages() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let room = app.commands().create_group(alice, vec![bob], "chatty").await;
    for n in 0..200 {
        app.commands().send(room, bob, &format!("m{n}")).await;
    }
    // Caught up includes every offset at the stream's end, the filtered ones too.
    app.project_everything(100).await;

    let stream = app.js().get_stream("CHAT_EVENTS").await.unwrap();
    for projection in Projection::ALL {
        let handed =
            stream.consumer_info(projection.durable_name()).await.unwrap().delivered.consumer_sequence;
        let followed = app.events_of(projection).await;
        assert_eq!(app.applied_events(projection).await, followed, "{projection}");
        if projection.is_filtered() {
            assert_eq!(handed, followed, "{projection} was handed events it does not follow");
        } else {
            assert!(handed >= 200, "{projection} was handed {handed} events");
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_consumer_that_hands_messages_elsewhere_makes_its_leader_start_over_losing_nothing() {
    let app = spawn_app().without_projectors().await;
    let (alice, bob) = (app.commands().register("Alice").await, app.commands().register("Bob").await);
    let (shutdown, tasks) = app.spawn_projectors(50);
    // The audit's leader is pulling (a leader starting over a consumer that
    // holds messages unacknowledged makes it afresh: not what is tried here).
    app.commands().create_group(alice, vec![bob], "before").await;
    app.caught_up().await;

    // Another puller of the audit's consumer, which never acknowledges.
    let stream = app.js().get_stream("CHAT_EVENTS").await.unwrap();
    let consumer: PullConsumer = stream.get_consumer(&Projection::Audit.durable_name()).await.unwrap();
    let mut other =
        consumer.fetch().max_messages(1).expires(Duration::from_secs(60)).messages().await.unwrap();
    let mut groups = 1;
    loop {
        app.commands().create_group(alice, vec![bob], &format!("g{groups}")).await;
        groups += 1;
        if let Ok(Some(taken)) = tokio::time::timeout(Duration::from_millis(200), other.next()).await {
            taken.unwrap();
            break;
        }
        assert!(groups < 50, "the other puller was never handed a message");
    }
    for _ in 0..3 {
        app.commands().create_group(alice, vec![bob], &format!("g{groups}")).await;
        groups += 1;
    }

    app.caught_up().await;
    assert_eq!(app.applied_events(Projection::Audit).await, app.events_of(Projection::Audit).await);
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'room.created'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(created, groups, "a room's creation is missing from the audit log");
    stop_projectors(shutdown, tasks).await;
    app.stop().await;
}
