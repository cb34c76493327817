//! Who may do what: every room and message route for every kind of caller.

use super::*;

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
