//! Several gateways on one database and NATS serve users who talk to each other.

use super::*;

/// A send answered by one gateway is in the next read through another, even
/// while the timeline lags: the reading gateway finds the room's committed
/// sequence in the event store and waits for the projection to reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_send_through_one_gateway_is_in_the_next_read_through_another() {
    let app = spawn_app().gateways(2).config(|config| config.projections.read_your_writes_ms = 20_000).await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let hold = hold_projections(&app.db.pool, &["timeline"]).await;
    let messages = |gateway: usize| format!("{}/v1/rooms/{room}/messages", app.base(gateway));
    let body = json!({"client_msg_id": "across", "ciphertext": STANDARD.encode("across")});
    let sent = app.http.post(messages(0)).bearer_auth(&alice.token).json(&body).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    let sent: Value = sent.json().await.unwrap();

    let read = app.http.get(messages(1)).bearer_auth(&bob.token).send();
    let read = pending_for(read, Duration::from_millis(500)).await;
    hold.rollback().await.unwrap();
    let page: Value = read.await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().last().unwrap()["id"], sent["id"], "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_on_two_gateways_talk_to_each_other() {
    let app = spawn_app().gateways(2).await;
    let (alice, bob, room) = app.alice_and_bob_in_a_group().await;
    let mut on_first = Client::connect(&app.base(0), &alice, "").await;
    let mut on_second = Client::connect(&app.base(1), &bob, "").await;
    on_first.backlog().await;
    on_second.backlog().await;

    // A message written through the second gateway reaches both.
    Commands(&app.gateways[1].state.write).send(room, bob.id, b"hello from two").await;
    assert_eq!(body_of(&on_first.messages(1).await[0]["event"]), "hello from two");
    assert_eq!(body_of(&on_second.messages(1).await[0]["event"]), "hello from two");

    // Typing and call signals cross gateways too.
    on_first.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    let typing = on_second.next_of("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "room_id": room.to_string(), "user_id": alice.id.to_string(), "typing": true})
    );
    let offer = json!({"sdp": "v=0"});
    on_second
        .send(json!({"type": "signal", "to": alice.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": offer}))
        .await;
    let signal = on_first.next_of("signal").await;
    assert_eq!(signal["from"], bob.id.to_string());
    assert_eq!(signal["kind"], "offer");
    assert_eq!(signal["payload"], offer);

    // Acknowledged on one gateway, resumed on the other.
    let (status, page) = app.call_at(1, &alice, "GET", "/v1/inbox?after=0", None).await;
    assert_eq!(status, StatusCode::OK);
    let last = cursor_of(page["items"].as_array().unwrap().last().unwrap());
    on_first.ack(last).await;
    drop(on_first);
    let mut again = Client::connect(&app.base(1), &alice, "").await;
    let (events, ready) = again.backlog().await;
    assert!(events.is_empty());
    assert_eq!(ready, last);
    app.stop().await;
}
