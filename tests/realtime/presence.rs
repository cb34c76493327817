//! Typing, call signals and presence: who sees them, as membership, privacy and blocks allow.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typing_and_presence_reach_the_other_users_as_privacy_allows() {
    let app = spawn_app().config(|config| config.realtime.presence_ttl_secs = 3).await;
    let (alice, bob, carol, dave) = (
        app.person("Alice").await,
        app.person("Bob").await,
        app.person("Carol").await,
        app.person("Dave").await,
    );
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    // Alice shows her presence to her contacts only; Bob is one, Carol is not.
    app.commands().user(alice.id, UserCommand::AddContact { contact: bob.id, at: Utc::now() }).await;
    let settings = UserCommand::UpdateSettings {
        last_seen_visible_to: Some(LastSeenVisibility::Contacts),
        notifications: None,
        at: Utc::now(),
    };
    app.commands().user(alice.id, settings).await;
    // Presence goes to those the delivery projection knows share a room.
    let freshness = &app.gateways[0].state.freshness;
    let applied = freshness.wait_for(Projection::Delivery, &room.to_string(), 1, FRAME_WAIT).await.unwrap();
    assert!(applied, "the delivery projection did not apply the room");

    let mut bob_client = Client::connect(&app.base(0), &bob, "").await;
    let mut carol_client = Client::connect(&app.base(0), &carol, "").await;
    bob_client.backlog().await;
    carol_client.backlog().await;
    let mut alice_client = Client::connect(&app.base(0), &alice, "").await;
    alice_client.backlog().await;

    let is_alice = |frame: &Value| frame["type"] == "presence" && frame["user_id"] == alice.id.to_string();
    let online = bob_client.next_where(is_alice).await;
    assert_eq!(online["online"], true);

    // Typing goes to the other members (not back to Alice, not to outsiders).
    alice_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    for client in [&mut bob_client, &mut carol_client] {
        let typing = client.next_of("typing").await;
        assert_eq!(typing["user_id"], alice.id.to_string());
        assert_eq!(typing["typing"], true);
    }
    let mut dave_client = Client::connect(&app.base(0), &dave, "").await;
    dave_client.backlog().await;
    dave_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    assert_eq!(dave_client.next_of("error").await["code"], "not_found");
    dave_client
        .send(json!({"type": "signal", "to": alice.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(dave_client.next_of("error").await["code"], "not_found");

    // Asked directly: Bob sees Alice online, Carol sees nothing.
    bob_client.send(json!({"type": "presence", "user_id": alice.id.to_string()})).await;
    let seen = bob_client.next_where(is_alice).await;
    assert_eq!((seen["online"].clone(), seen["last_seen"].is_string()), (json!(true), true));
    carol_client.send(json!({"type": "presence", "user_id": alice.id.to_string()})).await;
    assert_eq!(
        carol_client.next_where(is_alice).await,
        json!({"type": "presence", "user_id": alice.id.to_string(), "online": false, "last_seen": null})
    );

    // The same rules hold over REST.
    let profile = |viewer: &Person| {
        let request = reqwest::Client::new()
            .get(format!("{}/v1/users/{}", app.base(0), alice.id))
            .bearer_auth(viewer.token.clone());
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let seen_by_bob = profile(&bob).await;
    assert_eq!((seen_by_bob["online"].clone(), seen_by_bob["last_seen"].is_string()), (json!(true), true));
    let seen_by_carol = profile(&carol).await;
    assert!(
        seen_by_carol.get("online").is_none() && seen_by_carol.get("last_seen").is_none(),
        "{seen_by_carol}"
    );

    // Alice leaves: Bob learns when she was last seen; Carol never hears of it.
    drop(alice_client);
    let offline = bob_client.next_where(is_alice).await;
    assert_eq!(offline["online"], false);
    assert!(offline["last_seen"].is_string());
    while let Some(frame) = carol_client.next_within(Duration::from_secs(2)).await {
        assert!(!is_alice(&frame), "Carol saw Alice's presence: {frame}");
    }
    app.stop().await;
}

/// Who may exchange typing and signal frames is read from the room aggregate:
/// while the delivery projection lags a removal, the removed member neither
/// sends these frames nor receives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_member_exchanges_no_typing_or_signals_while_the_projection_lags() {
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    let freshness = &app.gateways[0].state.freshness;
    assert!(freshness.wait_for(Projection::Delivery, &room.to_string(), 1, FRAME_WAIT).await.unwrap());
    let mut clients = Vec::new();
    for user in [&alice, &bob, &carol] {
        let mut client = Client::connect(&app.base(0), user, "").await;
        client.backlog().await;
        clients.push(client);
    }
    let [alice_client, bob_client, carol_client] = &mut clients[..] else { unreachable!() };

    let hold = hold_projections(&app.db.pool, &["delivery"]).await;
    app.commands()
        .room(room, alice.id, RoomCommand::RemoveMember { actor: alice.id, user: carol.id, at: Utc::now() })
        .await;
    carol_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    assert_eq!(carol_client.next_of("error").await["code"], "not_found");
    carol_client
        .send(json!({"type": "signal", "to": alice.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(carol_client.next_of("error").await["code"], "not_found");
    alice_client
        .send(json!({"type": "signal", "to": carol.id.to_string(), "room_id": room.to_string(), "kind": "offer", "payload": {}}))
        .await;
    assert_eq!(alice_client.next_of("error").await["code"], "not_allowed");
    alice_client.send(json!({"type": "typing", "room_id": room.to_string(), "typing": true})).await;
    assert_eq!(bob_client.next_of("typing").await["user_id"], alice.id.to_string());
    while let Some(frame) = carol_client.next_within(Duration::from_secs(2)).await {
        assert!(frame["type"] != "typing" && frame["type"] != "signal", "Carol, removed, got {frame}");
    }
    hold.rollback().await.unwrap();
    app.stop().await;
}

/// A block hides more than messages: the blocker's presence and receipts from
/// the blocked user, the blocked user's receipts from the blocker, and the
/// blocked user's messages from the blocker's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_hides_presence_receipts_and_history_too() {
    use ciphertalk_domain::room::ReceiptKind;
    let app = spawn_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.commands().create_group(alice.id, vec![bob.id, carol.id], "realtime").await;
    app.commands().send(room, bob.id, b"from bob").await;
    app.commands().send(room, carol.id, b"from carol").await;
    app.commands().user(alice.id, UserCommand::BlockUser { blocked: bob.id, at: Utc::now() }).await;
    for reader in [&alice, &bob, &carol] {
        let read = RoomCommand::UpdateReceipt {
            user: reader.id,
            up_to_seq: 2,
            kind: ReceiptKind::Read,
            at: Utc::now(),
        };
        app.commands().room(room, reader.id, read).await;
    }
    let freshness = &app.gateways[0].state.freshness;
    assert!(freshness.wait_for(Projection::Delivery, &room.to_string(), 6, FRAME_WAIT).await.unwrap());
    let readers = |summary: Vec<String>| -> Vec<String> {
        summary.into_iter().filter(|line| line.starts_with("receipt.updated")).collect()
    };
    let receipt_of = |user: &Person| format!("receipt.updated {}", user.id);
    assert_eq!(readers(inbox_summary(&app, &alice).await), [receipt_of(&alice), receipt_of(&carol)]);
    assert_eq!(readers(inbox_summary(&app, &bob).await), [receipt_of(&bob), receipt_of(&carol)]);
    assert_eq!(
        readers(inbox_summary(&app, &carol).await),
        [receipt_of(&alice), receipt_of(&bob), receipt_of(&carol)]
    );

    // History: Alice's page has no message of Bob's; Carol's has both.
    let texts =
        |page: &Value| -> Vec<String> { page["items"].as_array().unwrap().iter().map(body_of).collect() };
    let path = format!("/v1/rooms/{room}/messages");
    assert!(
        eventually(10, || async {
            texts(&app.call_at(0, &alice, "GET", &path, None).await.1) == ["from carol"]
        })
        .await
    );
    assert_eq!(texts(&app.call_at(0, &carol, "GET", &path, None).await.1), ["from bob", "from carol"]);

    // Presence: Alice is online, and Bob cannot tell.
    let mut alice_client = Client::connect(&app.base(0), &alice, "").await;
    alice_client.backlog().await;
    let is_alice = |frame: &Value| frame["type"] == "presence" && frame["user_id"] == alice.id.to_string();
    for (viewer, online) in [(&carol, true), (&bob, false)] {
        let mut client = Client::connect(&app.base(0), viewer, "").await;
        client.backlog().await;
        let online_now = eventually(10, || async {
            let (_, profile) = app.call_at(0, viewer, "GET", &format!("/v1/users/{}", alice.id), None).await;
            profile["online"] == json!(true)
        })
        .await;
        assert_eq!(online_now, online, "over REST");
        client.send(json!({"type": "presence", "user_id": alice.id.to_string()})).await;
        assert_eq!(client.next_where(is_alice).await["online"], json!(online), "over the WebSocket");
    }
    app.stop().await;
}
