//! Sending: read, edit and delete; idempotent retries; commits and waits; size limits; franking; forwards.

use super::*;

#[tokio::test]
async fn a_message_is_sent_read_edited_and_deleted() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let path = format!("/v1/rooms/{room}/messages");

    let (status, sent) = chat
        .post(
            &alice,
            &path,
            json!({"client_msg_id": "m-1", "ciphertext": b64("hello"), "content_type": "text/plain"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(uuid::Uuid::parse_str(sent["id"].as_str().unwrap()).unwrap().get_version_num(), 7);
    assert_eq!(sent["room_id"], room.as_str());
    assert_eq!(sent["seq"], 1);
    assert_eq!(sent["sender_id"], alice.id.to_string());
    assert_eq!(sent["client_msg_id"], "m-1");
    assert_eq!(sent["ciphertext"], b64("hello"));
    assert_eq!(sent["content_type"], "text/plain");
    assert_eq!(sent["file_ids"], json!([]));
    assert_eq!(sent["deleted"], false);
    assert!(sent["sent_at"].is_string());
    let id = sent["id"].as_str().unwrap();
    let reply = json!({"client_msg_id": "m-2", "ciphertext": b64("hi back"), "reply_to": id});
    let (status, second) = chat.post(&bob, &path, reply).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["seq"], 2);
    assert_eq!(second["reply_to"], id);
    assert_eq!(second["content_type"], "application/octet-stream");

    // Read-your-writes, as Bob's reads right after his own send.
    let (status, page) = chat.get(&bob, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(seqs(&page), vec![1, 2]);
    assert_eq!(page["items"][0], sent);
    assert!(page["next"].is_null());

    // Edits: the sender only.
    let edit_path = format!("{path}/{id}");
    let (status, body) = chat.patch(&bob, &edit_path, json!({"ciphertext": b64("forged")})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, edited) = chat.patch(&alice, &edit_path, json!({"ciphertext": b64("hello!")})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["ciphertext"], b64("hello!"));
    assert!(edited["edited_at"].is_string());
    assert_eq!(edited["seq"], 1);
    let (_, page) = chat.get(&alice, &path).await;
    assert_eq!(page["items"][0]["ciphertext"], b64("hello!"));

    // Delete for me hides it for the caller only.
    let (status, _) = chat.delete(&bob, &format!("{edit_path}?for=me")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = chat.get(&bob, &path).await;
    assert_eq!(seqs(&page), vec![2]);
    let (_, page) = chat.get(&alice, &path).await;
    assert_eq!(seqs(&page), vec![1, 2]);

    // Delete for everyone leaves a tombstone without ciphertext.
    let (status, body) = chat.delete(&bob, &edit_path).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, _) = chat.delete(&alice, &format!("{edit_path}?for=everyone")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = chat.get(&alice, &path).await;
    let tombstone = &page["items"][0];
    assert_eq!(tombstone["deleted"], true);
    assert!(tombstone.get("ciphertext").is_none(), "{tombstone}");
    let (status, body) = chat.patch(&alice, &edit_path, json!({"ciphertext": b64("back")})).await;
    assert_error(status, &body, 410, "gone");
    chat.stop().await;
}

#[tokio::test]
async fn the_same_client_msg_id_returns_the_original_message() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let path = format!("/v1/rooms/{room}/messages");
    let body = json!({"client_msg_id": "once", "ciphertext": b64("one")});
    let (status, first) = chat.post(&alice, &path, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) =
        chat.post(&alice, &path, json!({"client_msg_id": "once", "ciphertext": b64("changed")})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    // Client ids are the sender's own: Bob's "once" is a new message.
    let (status, bobs) = chat.post(&bob, &path, body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(bobs["seq"], 2);

    // Concurrent retries of one send: one message, every answer the same.
    let retries =
        (0..8).map(|_| chat.post(&alice, &path, json!({"client_msg_id": "race", "ciphertext": b64("r")})));
    let answers = futures::future::join_all(retries).await;
    assert_eq!(answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|(_, body)| body["id"] == answers[0].1["id"]));
    let (_, page) = chat.get(&alice, &path).await;
    assert_eq!(seqs(&page), vec![1, 2, 3]);
    chat.stop().await;
}

/// Sends answer at their commit; reads of the room wait (bounded) until its
/// read models hold what was committed. A slow projector is played by
/// locking the rooms and timeline offsets: their next commits wait on it.
#[tokio::test]
async fn a_send_answers_at_its_commit_and_reads_of_the_room_wait_for_it() {
    let chat = spawn_app().config(|config| config.projections.read_your_writes_ms = 20_000).await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    chat.send(&alice, &room, "first").await;

    let hold = hold_projections(&chat.server().state.db, &["rooms", "timeline"]).await;
    let sent = tokio::time::timeout(Duration::from_secs(10), chat.send(&alice, &room, "second"))
        .await
        .expect("the send answers while the read models are held back");
    assert_eq!(sent["seq"], 2);
    let (page, list, shown) =
        (format!("/v1/rooms/{room}/messages"), "/v1/rooms".to_owned(), format!("/v1/rooms/{room}"));
    let reads =
        async { tokio::join!(chat.get(&bob, &page), chat.get(&alice, &list), chat.get(&alice, &shown)) };
    // They wait while the read models lack a message already answered.
    let reads = pending_for(reads, Duration::from_millis(500)).await;
    hold.rollback().await.unwrap();
    let ((status, page), (_, list), (_, shown)) = reads.await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(seqs(&page), vec![1, 2]);
    assert_eq!(list["items"][0]["last_seq"], 2, "{list}");
    assert_eq!(shown["last_seq"], 2, "{shown}");
    chat.stop().await;
}

/// While a projection trails the stream by more than
/// `projections.max_backlog_events`, a send waits (bounded) before it is
/// accepted. Here no projector runs and the delivery projection's consumer
/// holds every event, so the send waits out the whole bound.
#[tokio::test]
async fn sends_wait_while_the_read_side_is_behind() {
    const BOUND: Duration = Duration::from_millis(1500);
    let chat = spawn_app()
        .config(|config| {
            config.projections.run = false;
            config.projections.max_backlog_events = 1;
            config.projections.read_your_writes_ms = BOUND.as_millis() as u64;
        })
        .await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let started = std::time::Instant::now();
    chat.send(&alice, &room, "no backlog seen yet").await;
    assert!(started.elapsed() < BOUND, "a send waited with no backlog in sight");

    delivery_consumer_without_projector(&chat.server().state.jetstream).await;
    let backlog = chat.server().state.backlog.clone().unwrap();
    assert!(eventually(10, || async { backlog.events() > 1 }).await);
    let started = std::time::Instant::now();
    chat.send(&alice, &room, "behind a backlog").await;
    assert!(started.elapsed() >= BOUND, "the send did not wait: {:?}", started.elapsed());
    chat.stop().await;
}

#[tokio::test]
async fn ciphertext_over_the_limit_is_413() {
    let chat = spawn_app().await;
    let alice = chat.person("Alice").await;
    let room = chat.group(&alice, &[]).await;
    let path = format!("/v1/rooms/{room}/messages");
    let exactly = STANDARD.encode(vec![7_u8; 64 * 1024]);
    let (status, body) = chat.post(&alice, &path, json!({"client_msg_id": "a", "ciphertext": exactly})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let over = STANDARD.encode(vec![7_u8; 64 * 1024 + 1]);
    let (status, body) = chat.post(&alice, &path, json!({"client_msg_id": "b", "ciphertext": over})).await;
    assert_error(status, &body, 413, "too_large");
    let id = chat.send(&alice, &room, "small").await["id"].as_str().unwrap().to_owned();
    let over = STANDARD.encode(vec![7_u8; 64 * 1024 + 1]);
    let (status, body) = chat.patch(&alice, &format!("{path}/{id}"), json!({"ciphertext": over})).await;
    assert_error(status, &body, 413, "too_large");
    chat.stop().await;

    // The limit is a setting.
    let chat = spawn_app().config(|config| config.messages.max_ciphertext_bytes = 4).await;
    let alice = chat.person("Alice").await;
    let room = chat.group(&alice, &[]).await;
    let path = format!("/v1/rooms/{room}/messages");
    let (status, body) =
        chat.post(&alice, &path, json!({"client_msg_id": "a", "ciphertext": b64("12345")})).await;
    assert_error(status, &body, 413, "too_large");
    let (status, _) =
        chat.post(&alice, &path, json!({"client_msg_id": "a", "ciphertext": b64("1234")})).await;
    assert_eq!(status, StatusCode::CREATED);
    chat.stop().await;
}

#[tokio::test]
async fn a_commitment_is_franked_with_the_server_key_over_the_real_seq() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    let path = format!("/v1/rooms/{room}/messages");
    let commitment = Commitment::from_bytes([42; 32]);
    // Racing franked sends from two people: every tag must bind its own seq.
    let sends = (0..6).map(|i| {
        let who = if i % 2 == 0 { &alice } else { &bob };
        chat.post(
            who,
            &path,
            json!({"client_msg_id": format!("f-{i}"), "ciphertext": b64("x"), "commitment": commitment.as_str()}),
        )
    });
    let key = FrankingKey::new(FRANKING_KEY.as_bytes());
    for (status, message) in futures::future::join_all(sends).await {
        assert_eq!(status, StatusCode::CREATED, "{message}");
        assert_eq!(message["commitment"], commitment.as_str());
        assert_eq!(message["franking_key_id"], key.id().as_str());
        let key_id = FrankingKeyId::parse(message["franking_key_id"].as_str().unwrap()).unwrap();
        let input = FrankingInput {
            message_id: message["id"].as_str().unwrap().parse().unwrap(),
            room_id: room.parse().unwrap(),
            sender_id: message["sender_id"].as_str().unwrap().parse().unwrap(),
            seq: message["seq"].as_u64().unwrap(),
            sent_at: message["sent_at"].as_str().unwrap().parse().unwrap(),
            franking_key_id: &key_id,
            commitment: &commitment,
        };
        let expected = STANDARD.encode(key.tag_bytes(&input.encode()));
        assert_eq!(message["reporting_tag"], expected, "{message}");
    }
    // The tag is stored and delivered with the message.
    let (_, page) = chat.get(&bob, &path).await;
    assert!(page["items"].as_array().unwrap().iter().all(|m| m["reporting_tag"].is_string()));
    // Without a commitment there is no franking.
    let plain = chat.send(&alice, &room, "plain").await;
    assert!(plain.get("reporting_tag").is_none() && plain.get("commitment").is_none(), "{plain}");
    let (status, body) = chat
        .post(
            &alice,
            &path,
            json!({"client_msg_id": "bad", "ciphertext": b64("x"), "commitment": b64("short")}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_value");
    chat.stop().await;
}

#[tokio::test]
async fn forwarding_keeps_forwarded_from_and_needs_a_visible_source() {
    let chat = spawn_app().await;
    let (alice, bob, eve) = (chat.person("Alice").await, chat.person("Bob").await, chat.person("Eve").await);
    let source_room = chat.group(&alice, &[]).await;
    let source = chat.send(&alice, &source_room, "original").await;
    let target = chat.group(&alice, &[&bob, &eve]).await;
    let path = format!("/v1/rooms/{target}/messages");
    let forward = |client: &str, from: Value| json!({"client_msg_id": client, "ciphertext": b64("fwd"), "forwarded_from": from});
    let from = json!({"room_id": source_room, "message_id": source["id"]});
    let (status, sent) = chat.post(&alice, &path, forward("f1", from.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["forwarded_from"], from);
    let (_, page) = chat.get(&bob, &path).await;
    assert_eq!(page["items"][0]["forwarded_from"], from);

    // Eve is not in the source room; a made-up message does not exist.
    let (status, body) = chat.post(&eve, &path, forward("f2", from)).await;
    assert_error(status, &body, 404, "message_not_found");
    let made_up = json!({"room_id": source_room, "message_id": uuid::Uuid::now_v7()});
    let (status, body) = chat.post(&alice, &path, forward("f3", made_up)).await;
    assert_error(status, &body, 404, "message_not_found");
    let (status, body) = chat
        .post(
            &alice,
            &path,
            json!({"client_msg_id": "r", "ciphertext": b64("x"), "reply_to": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_error(status, &body, 404, "message_not_found");
    chat.stop().await;
}

/// A retry whose client_msg_id has left the room's idempotency window still
/// returns the original message: the event store refuses a second copy, and
/// the send answers with the first (also for retries racing each other).
#[tokio::test]
async fn a_retry_older_than_the_idempotency_window_returns_the_original() {
    let chat = spawn_app().await;
    let alice = chat.person("Alice").await;
    let room = chat.group(&alice, &[]).await;
    let path = format!("/v1/rooms/{room}/messages");
    let (status, first) =
        chat.post(&alice, &path, json!({"client_msg_id": "early", "ciphertext": b64("one")})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    seed(&chat, &alice, &room, ciphertalk_domain::room::IDEMPOTENCY_WINDOW + 1, Utc::now()).await;

    let retry = json!({"client_msg_id": "early", "ciphertext": b64("one")});
    let (status, again) = chat.post(&alice, &path, retry.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    let racing = futures::future::join_all((0..4).map(|_| chat.post(&alice, &path, retry.clone()))).await;
    for (status, body) in &racing {
        assert_eq!((*status, &body["id"]), (StatusCode::OK, &first["id"]), "{body}");
    }
    let (_, page) = chat.get(&alice, &format!("{path}?limit=1")).await;
    let last = ciphertalk_domain::room::IDEMPOTENCY_WINDOW as u64 + 2;
    assert_eq!(seqs(&page), vec![last], "no second message");
    chat.stop().await;
}
