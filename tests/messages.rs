//! Messages over HTTP: send (idempotent, size-limited, franked), page both
//! ways, edit within 48 hours, delete for everyone or for me, forwards,
//! receipts, and who may do what (the authorization matrix).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeDelta, Utc};
use ciphertalk_commands::CommandMetadata;
use ciphertalk_domain::room::franking::FrankingInput;
use ciphertalk_domain::testing::SendMessageBuilder;
use ciphertalk_domain::values::{Ciphertext, ClientMsgId, Commitment, FrankingKeyId};
use ciphertalk_domain::{MessageId, RoomId};
use ciphertalk_gateway::franking::FrankingKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{FRANKING_KEY, Person, TestApp, assert_error, b64, spawn_app};
use crate::support::{delivery_consumer_without_projector, eventually, hold_projections, pending_for};

fn seqs(page: &Value) -> Vec<u64> {
    page["items"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect()
}

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

/// Sends `count` messages through the write model (fast), then waits until
/// the timeline has them all.
async fn seed(
    chat: &TestApp,
    sender: &Person,
    room: &str,
    count: usize,
    sent_at: chrono::DateTime<Utc>,
) -> Vec<MessageId> {
    let write = chat.server().state.write.clone();
    let room_id: RoomId = room.parse().unwrap();
    let mut ids = Vec::with_capacity(count);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let message_id = MessageId::new_v7();
        ids.push(message_id);
        let client_msg_id = ClientMsgId::parse(&format!("seed-{i}-{message_id}")).unwrap();
        let ciphertext = Ciphertext::parse(&b64(&format!("message {i}"))).unwrap();
        let command =
            SendMessageBuilder::new(message_id, sender.id, client_msg_id, ciphertext, sent_at).build();
        let write = write.clone();
        let room_id = room_id.to_string();
        tasks.spawn(async move {
            write.rooms.execute(&room_id, command, &CommandMetadata::system("test-seed")).await.unwrap();
        });
        // Enough in flight to use group commit, not so many that one batch waits on all.
        if tasks.len() >= 64 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    tasks.join_all().await;
    let loaded = write.rooms.load(room).await.unwrap();
    let freshness = chat.server().state.freshness.clone();
    let sequence = loaded.sequence as u64;
    let caught_up = freshness
        .wait_for_all(
            &[ciphertalk_projections::Projection::Timeline, ciphertalk_projections::Projection::Rooms],
            room,
            sequence,
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(caught_up, "the read models did not catch up");
    ids
}

#[tokio::test]
async fn a_thousand_messages_page_backwards_and_forwards_without_gaps() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    seed(&chat, &alice, &room, 1000, Utc::now()).await;
    let path = format!("/v1/rooms/{room}/messages");

    // Newest first page by default (50), then backwards with `before`.
    let (_, page) = chat.get(&bob, &path).await;
    assert_eq!(seqs(&page), (951..=1000).collect::<Vec<_>>());
    let mut backwards = Vec::new();
    let mut query = "limit=200".to_owned();
    loop {
        let (status, page) = chat.get(&bob, &format!("{path}?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut got = seqs(&page);
        assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "ascending without gaps");
        got.extend(backwards);
        backwards = got;
        match page["next"].as_str() {
            Some(next) => query = format!("limit=200&before={next}"),
            None => break,
        }
    }
    assert_eq!(backwards, (1..=1000).collect::<Vec<_>>());

    // Forwards with `after`, in the largest pages; a limit over 200 is refused.
    let (status, _) = chat.get(&bob, &format!("{path}?after=0&limit=333")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut forwards: Vec<u64> = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let (_, page) = chat.get(&bob, &format!("{path}?after={after}&limit=200")).await;
        let got = seqs(&page);
        assert!(got.len() <= 200);
        forwards.extend(&got);
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = next.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(forwards, (1..=1000).collect::<Vec<_>>());
    assert_eq!(pages, 5);
    let (_, page) = chat.get(&bob, &format!("{path}?before=11&limit=5")).await;
    assert_eq!(seqs(&page), vec![6, 7, 8, 9, 10]);
    let (_, page) = chat.get(&bob, &format!("{path}?after=998")).await;
    assert_eq!(seqs(&page), vec![999, 1000]);
    assert!(page["next"].is_null());
    let (_, list) = chat.get(&bob, "/v1/rooms").await;
    assert_eq!(list["items"][0]["last_seq"], 1000);
    assert_eq!(list["items"][0]["unread"], 1000);
    chat.stop().await;
}

#[tokio::test]
async fn edits_close_48_hours_after_sending() {
    let chat = spawn_app().await;
    let alice = chat.person("Alice").await;
    let room = chat.group(&alice, &[]).await;
    let old = seed(&chat, &alice, &room, 1, Utc::now() - TimeDelta::hours(49)).await[0];
    let recent = seed(&chat, &alice, &room, 1, Utc::now() - TimeDelta::hours(47)).await[0];
    let path = |id: MessageId| format!("/v1/rooms/{room}/messages/{id}");
    let (status, body) = chat.patch(&alice, &path(old), json!({"ciphertext": b64("late")})).await;
    assert_error(status, &body, 409, "edit_window_closed");
    let (status, body) = chat.patch(&alice, &path(recent), json!({"ciphertext": b64("in time")})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Deleting has no window.
    let (status, _) = chat.delete(&alice, &path(old)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    chat.stop().await;
}

#[tokio::test]
async fn receipts_only_move_forwards_and_stop_at_the_last_message() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    for text in ["a", "b", "c"] {
        chat.send(&alice, &room, text).await;
    }
    let path = format!("/v1/rooms/{room}/receipts");
    for (body, expected) in [
        (json!({"up_to_seq": 3, "kind": "delivered"}), 204),
        (json!({"up_to_seq": 2, "kind": "read"}), 204),
        (json!({"up_to_seq": 1, "kind": "read"}), 204),
        (json!({"up_to_seq": 4, "kind": "read"}), 422),
        (json!({"up_to_seq": 1, "kind": "seen"}), 422),
    ] {
        let (status, answer) = chat.post(&bob, &path, body.clone()).await;
        assert_eq!(status.as_u16(), expected, "{body}: {answer}");
    }
    let (_, list) = chat.get(&bob, "/v1/rooms").await;
    assert_eq!(list["items"][0]["unread"], 1);
    chat.stop().await;
}

/// Who is asking, in the authorization matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Owner,
    Admin,
    Member,
    NonMember,
    /// A member the owner has blocked (blocking does not change room rights in a group).
    Blocked,
}

const EVERYONE: [Who; 5] = [Who::Owner, Who::Admin, Who::Member, Who::NonMember, Who::Blocked];

/// A fresh group: owner, an admin, a member and a blocked member, and one
/// message by the member.
struct Fixture {
    room: String,
    message: String,
    people: HashMap<Who, Person>,
    stranger: Person,
}

async fn fixture(chat: &TestApp, people: &HashMap<Who, Person>, stranger: &Person) -> Fixture {
    let room = chat
        .group(&people[&Who::Owner], &[&people[&Who::Admin], &people[&Who::Member], &people[&Who::Blocked]])
        .await;
    let (status, _) = chat
        .put(
            &people[&Who::Owner],
            &format!("/v1/rooms/{room}/members/{}", people[&Who::Admin].id),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let message =
        chat.send(&people[&Who::Member], &room, "the member's").await["id"].as_str().unwrap().to_owned();
    Fixture { room, message, people: people.clone(), stranger: stranger.clone() }
}

/// One request of the matrix, made on its own fixture.
async fn attempt(chat: &TestApp, f: &Fixture, who: Who, route: &str) -> (StatusCode, Value) {
    let caller = &f.people[&who];
    let (room, message) = (&f.room, &f.message);
    let member = &f.people[&Who::Member].id;
    match route {
        "GET room" => chat.get(caller, &format!("/v1/rooms/{room}")).await,
        "PATCH room" => chat.patch(caller, &format!("/v1/rooms/{room}"), json!({"name": "new"})).await,
        "POST join" => chat.post(caller, &format!("/v1/rooms/{room}/join"), json!({})).await,
        "POST leave" => chat.post(caller, &format!("/v1/rooms/{room}/leave"), json!({})).await,
        "PUT member (add)" => {
            chat.put(caller, &format!("/v1/rooms/{room}/members/{}", f.stranger.id), None).await
        }
        "PUT member (role)" => {
            chat.put(caller, &format!("/v1/rooms/{room}/members/{member}"), Some(json!({"role": "admin"})))
                .await
        }
        "DELETE member" => chat.delete(caller, &format!("/v1/rooms/{room}/members/{member}")).await,
        "POST message" => {
            let body = json!({"client_msg_id": "matrix", "ciphertext": b64("x")});
            chat.post(caller, &format!("/v1/rooms/{room}/messages"), body).await
        }
        "GET messages" => chat.get(caller, &format!("/v1/rooms/{room}/messages")).await,
        "PATCH message" => {
            chat.patch(
                caller,
                &format!("/v1/rooms/{room}/messages/{message}"),
                json!({"ciphertext": b64("y")}),
            )
            .await
        }
        "DELETE message (everyone)" => {
            chat.delete(caller, &format!("/v1/rooms/{room}/messages/{message}?for=everyone")).await
        }
        "DELETE message (me)" => {
            chat.delete(caller, &format!("/v1/rooms/{room}/messages/{message}?for=me")).await
        }
        "POST receipts" => {
            chat.post(caller, &format!("/v1/rooms/{room}/receipts"), json!({"up_to_seq": 1, "kind": "read"}))
                .await
        }
        other => panic!("unknown route {other}"),
    }
}

#[tokio::test]
async fn authorization_matrix_of_every_room_and_message_route() {
    let chat = spawn_app().await;
    let mut people = HashMap::new();
    for who in EVERYONE {
        people.insert(who, chat.person(&format!("{who:?}")).await);
    }
    let stranger = chat.person("Stranger").await;
    let (status, _) =
        chat.put(&people[&Who::Owner], &format!("/v1/blocks/{}", people[&Who::Blocked].id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Expected status for owner, admin, member, non-member, blocked member.
    let matrix: &[(&str, [u16; 5])] = &[
        ("GET room", [200, 200, 200, 404, 200]),
        ("PATCH room", [200, 200, 403, 404, 403]),
        ("POST join", [409, 409, 409, 404, 409]),
        ("POST leave", [204, 204, 204, 404, 204]),
        ("PUT member (add)", [200, 200, 403, 404, 403]),
        ("PUT member (role)", [200, 200, 403, 404, 403]),
        ("DELETE member", [204, 204, 403, 404, 403]),
        ("POST message", [201, 201, 201, 403, 201]),
        ("GET messages", [200, 200, 200, 404, 200]),
        ("PATCH message", [403, 403, 200, 404, 403]),
        ("DELETE message (everyone)", [204, 204, 204, 404, 403]),
        ("DELETE message (me)", [204, 204, 204, 404, 204]),
        ("POST receipts", [204, 204, 204, 404, 204]),
    ];
    let mut failures = Vec::new();
    for (route, expected) in matrix {
        let cells = EVERYONE.iter().zip(expected).map(|(who, expected)| {
            let (chat, people, stranger) = (&chat, &people, &stranger);
            async move {
                let f = fixture(chat, people, stranger).await;
                let (status, body) = attempt(chat, &f, *who, route).await;
                (status.as_u16() != *expected)
                    .then(|| format!("{route} as {who:?}: {status} (expected {expected}) {body}"))
            }
        });
        failures.extend(futures::future::join_all(cells).await.into_iter().flatten());
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // Non-members learn nothing: their 404s look like unknown rooms.
    let f = fixture(&chat, &people, &stranger).await;
    let (status, body) = attempt(&chat, &f, Who::NonMember, "GET room").await;
    assert_error(status, &body, 404, "not_found");
    let (_, list) = chat.get(&people[&Who::NonMember], "/v1/rooms").await;
    assert!(list["items"].as_array().unwrap().iter().all(|room| room["id"] != f.room.as_str()));

    // In a direct room the blocked side may read but not write; the blocker may write.
    let (owner, blocked) = (&people[&Who::Owner], &people[&Who::Blocked]);
    let (status, body) =
        chat.post(owner, "/v1/rooms", json!({"kind": "direct", "members": [blocked.id]})).await;
    assert_error(status, &body, 403, "blocked");
    let (status, _) = chat.delete(owner, &format!("/v1/blocks/{}", blocked.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, direct) = chat.post(owner, "/v1/rooms", json!({"kind": "direct", "members": [blocked.id]})).await;
    let direct = direct["id"].as_str().unwrap().to_owned();
    chat.put(owner, &format!("/v1/blocks/{}", blocked.id), None).await;
    let (status, _) = chat.get(blocked, &format!("/v1/rooms/{direct}/messages")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = chat
        .post(
            blocked,
            &format!("/v1/rooms/{direct}/messages"),
            json!({"client_msg_id": "x", "ciphertext": b64("x")}),
        )
        .await;
    assert_error(status, &body, 403, "blocked");
    chat.send(owner, &direct, "from the blocker").await;
    chat.stop().await;
}

/// A removed member reads no new messages while the read model that knows
/// of the removal lags: the read waits for it, then answers 503 rather than
/// trust a stale membership.
#[tokio::test]
async fn a_removed_member_reads_no_new_messages_while_the_read_model_lags() {
    let chat = spawn_app().config(|config| config.projections.read_your_writes_ms = 300).await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let room = chat.group(&alice, &[&bob]).await;
    chat.send(&alice, &room, "before").await;
    let path = format!("/v1/rooms/{room}/messages");

    let hold = hold_projections(&chat.server().state.db, &["rooms"]).await;
    let (status, body) = chat.delete(&alice, &format!("/v1/rooms/{room}/members/{}", bob.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    chat.send(&alice, &room, "after the removal").await;
    let (status, body) = chat.get(&bob, &path).await;
    assert_error(status, &body, 503, "dependency_down");
    let (status, body) = chat.get(&bob, &format!("/v1/rooms/{room}")).await;
    assert_error(status, &body, 503, "dependency_down");

    hold.rollback().await.unwrap();
    assert!(eventually(10, || async { chat.get(&bob, &path).await.0 == StatusCode::NOT_FOUND }).await);
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
