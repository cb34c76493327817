//! Rooms, contacts and blocks over HTTP: creation (direct rooms one per pair,
//! refused between blocked users), the room list, settings, joining, leaving,
//! members and roles, contact lists, and bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Anonymous, assert_error, spawn_app};

fn ids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_group_room_is_created_read_listed_and_changed_by_its_admins() {
    let chat = spawn_app().await;
    let (owner, bob, carol) =
        (chat.person("Owner").await, chat.person("Bob").await, chat.person("Carol").await);

    let (status, room) = chat
        .post(
            &owner,
            "/v1/rooms",
            json!({"kind": "group", "name": "Team", "description": "work", "members": [bob.id, owner.id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    let id = room["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    assert_eq!(room["kind"], "group");
    assert_eq!(room["name"], "Team");
    assert_eq!(room["join_rule"], "invite");
    assert_eq!(room["last_seq"], 0);
    let members = room["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(
        (members[0]["user_id"].as_str().unwrap(), members[0]["role"].as_str().unwrap()),
        (owner.id.to_string().as_str(), "owner")
    );
    assert_eq!(members[1]["role"], "member");
    assert!(members[1]["joined_at"].is_string());

    // Read-your-writes: the read model has it as soon as the create answered.
    let (status, read) = chat.get(&bob, &format!("/v1/rooms/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["members"], room["members"]);
    assert_eq!(read["description"], "work");

    // Settings: owner and admins only.
    let (status, body) = chat.patch(&bob, &format!("/v1/rooms/{id}"), json!({"name": "Mine"})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) =
        chat.put(&owner, &format!("/v1/rooms/{id}/members/{}", bob.id), Some(json!({"role": "admin"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "admin");
    let (status, body) = chat
        .patch(
            &bob,
            &format!("/v1/rooms/{id}"),
            json!({"name": "Renamed", "description": null, "join_rule": "open"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Renamed");
    assert!(body.get("description").is_none(), "{body}");
    let (_, read) = chat.get(&owner, &format!("/v1/rooms/{id}")).await;
    assert_eq!(read["name"], "Renamed");
    assert_eq!(read["join_rule"], "open");

    // An open room can be joined by anyone who knows it.
    let (status, body) = chat.post(&carol, &format!("/v1/rooms/{id}/join"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), 3);
    let (status, body) = chat.post(&carol, &format!("/v1/rooms/{id}/join"), json!({})).await;
    assert_error(status, &body, 409, "already_member");

    // The admin removes Carol; she no longer sees the room.
    let (status, _) = chat.delete(&bob, &format!("/v1/rooms/{id}/members/{}", carol.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = chat.get(&carol, &format!("/v1/rooms/{id}")).await;
    assert_error(status, &body, 404, "not_found");
    let (_, list) = chat.get(&carol, "/v1/rooms").await;
    assert!(ids(&list).is_empty());

    // The owner leaves: ownership passes to the admin.
    let (status, _) = chat.post(&owner, &format!("/v1/rooms/{id}/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, read) = chat.get(&bob, &format!("/v1/rooms/{id}")).await;
    let members = read["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["role"], "owner");
    let (status, body) = chat.get(&owner, &format!("/v1/rooms/{id}")).await;
    assert_error(status, &body, 404, "not_found");
    chat.stop().await;
}

#[tokio::test]
async fn members_are_added_and_roles_changed_by_put_and_removed_by_delete() {
    let chat = spawn_app().await;
    let (owner, admin, dave) =
        (chat.person("Owner").await, chat.person("Admin").await, chat.person("Dave").await);
    let id = chat.group(&owner, &[&admin]).await;
    let path = |user: &str| format!("/v1/rooms/{id}/members/{user}");

    // Without a body PUT adds as a member; with one it changes the role.
    let (status, body) = chat.put(&owner, &path(&dave.id.to_string()), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "member");
    let (status, body) = chat.put(&owner, &path(&admin.id.to_string()), Some(json!({"role": "admin"}))).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("admin")));
    let (_, room) = chat.get(&dave, &format!("/v1/rooms/{id}")).await;
    let roles: Vec<(&str, &str)> = room["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        vec![
            (owner.id.to_string().as_str(), "owner"),
            (admin.id.to_string().as_str(), "admin"),
            (dave.id.to_string().as_str(), "member")
        ]
    );

    // Nobody is made owner, and an admin does not act on the owner.
    let (status, body) = chat.put(&owner, &path(&dave.id.to_string()), Some(json!({"role": "owner"}))).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = chat.delete(&admin, &path(&owner.id.to_string())).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = chat.put(&owner, &path(&dave.id.to_string()), Some(json!({"role": "king"}))).await;
    assert_error(status, &body, 422, "invalid_value");
    // Unknown users cannot be added; removing a non-member is 404.
    let stranger = uuid::Uuid::now_v7();
    let (status, body) = chat.put(&owner, &path(&stranger.to_string()), None).await;
    assert_error(status, &body, 404, "user_not_found");
    let (status, body) = chat.delete(&owner, &path(&stranger.to_string())).await;
    assert_error(status, &body, 404, "member_not_found");
    chat.stop().await;
}

#[tokio::test]
async fn a_direct_room_is_one_per_pair_whoever_asks_and_however_often() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let (status, first) =
        chat.post(&alice, "/v1/rooms", json!({"kind": "direct", "members": [bob.id]})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["kind"], "direct");
    assert_eq!(first["members"].as_array().unwrap().len(), 2);
    let id = first["id"].as_str().unwrap();
    for (who, other) in [(&alice, &bob), (&bob, &alice)] {
        let (status, again) =
            chat.post(who, "/v1/rooms", json!({"kind": "direct", "members": [other.id]})).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["id"], id);
    }

    // Concurrent first requests from both sides agree on one room.
    let (carol, dave) = (chat.person("Carol").await, chat.person("Dave").await);
    let requests = (0..10).map(|i| {
        let (who, other) = if i % 2 == 0 { (&carol, &dave) } else { (&dave, &carol) };
        chat.post(who, "/v1/rooms", json!({"kind": "direct", "members": [other.id]}))
    });
    let answers = futures::future::join_all(requests).await;
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{answers:?}");
    let mut rooms: Vec<&str> = answers.iter().map(|(_, body)| body["id"].as_str().unwrap()).collect();
    rooms.dedup();
    assert_eq!(rooms.len(), 1, "{answers:?}");
    let (_, list) = chat.get(&carol, "/v1/rooms").await;
    assert_eq!(ids(&list), vec![rooms[0].to_owned()]);

    // A direct room names exactly one other, registered, person.
    let (status, body) =
        chat.post(&alice, "/v1/rooms", json!({"kind": "direct", "members": [alice.id]})).await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) =
        chat.post(&alice, "/v1/rooms", json!({"kind": "direct", "members": [bob.id, carol.id]})).await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) =
        chat.post(&alice, "/v1/rooms", json!({"kind": "direct", "members": [uuid::Uuid::now_v7()]})).await;
    assert_error(status, &body, 404, "user_not_found");
    // Direct rooms have no settings, joins or member management.
    let (status, body) = chat.patch(&alice, &format!("/v1/rooms/{id}"), json!({"name": "x"})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = chat.put(&alice, &format!("/v1/rooms/{id}/members/{}", carol.id), None).await;
    assert_error(status, &body, 403, "forbidden");
    chat.stop().await;
}

#[tokio::test]
async fn blocked_users_cannot_open_a_direct_room_either_way_until_unblocked() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let (status, _) = chat.put(&alice, &format!("/v1/blocks/{}", bob.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, blocks) = chat.get(&alice, "/v1/blocks").await;
    assert_eq!(blocks["items"][0]["user_id"], bob.id.to_string());
    for (who, other) in [(&bob, &alice), (&alice, &bob)] {
        let (status, body) =
            chat.post(who, "/v1/rooms", json!({"kind": "direct", "members": [other.id]})).await;
        assert_error(status, &body, 403, "blocked");
    }
    let (status, _) = chat.delete(&alice, &format!("/v1/blocks/{}", bob.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, blocks) = chat.get(&alice, "/v1/blocks").await;
    assert_eq!(blocks["items"], json!([]));
    let (status, room) = chat.post(&bob, "/v1/rooms", json!({"kind": "direct", "members": [alice.id]})).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");

    // Blocking again: the existing room is not handed out either, and the
    // blocked side cannot write in it; the blocker can.
    let (status, _) = chat.put(&alice, &format!("/v1/blocks/{}", bob.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = chat.post(&bob, "/v1/rooms", json!({"kind": "direct", "members": [alice.id]})).await;
    assert_error(status, &body, 403, "blocked");
    let id = room["id"].as_str().unwrap();
    let (status, body) = chat
        .post(&bob, &format!("/v1/rooms/{id}/messages"), json!({"client_msg_id": "b1", "ciphertext": "aGk="}))
        .await;
    assert_error(status, &body, 403, "blocked");
    chat.send(&alice, id, "still here").await;
    let (status, body) = chat.put(&alice, &format!("/v1/blocks/{}", alice.id), None).await;
    assert_error(status, &body, 422, "invalid_value");
    chat.stop().await;
}

#[tokio::test]
async fn my_rooms_come_most_recent_first_with_unread_counts_and_pages() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let mut rooms = Vec::new();
    for _ in 0..5 {
        rooms.push(chat.group(&alice, &[&bob]).await);
    }
    // Activity in the first room makes it the most recent.
    chat.send(&alice, &rooms[0], "one").await;
    chat.send(&alice, &rooms[0], "two").await;
    let (status, list) = chat.get(&bob, "/v1/rooms?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ids(&list), vec![rooms[0].clone(), rooms[4].clone()]);
    assert_eq!(list["items"][0]["unread"], 2);
    assert_eq!(list["items"][1]["unread"], 0);
    // Paging with the cursor reaches every room exactly once.
    let mut seen = ids(&list);
    let mut next = list["next"].as_str().map(str::to_owned);
    while let Some(cursor) = next {
        let (_, page) = chat.get(&bob, &format!("/v1/rooms?limit=2&cursor={cursor}")).await;
        seen.extend(ids(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    let mut expected = vec![rooms[0].clone(), rooms[4].clone(), rooms[3].clone(), rooms[2].clone()];
    expected.push(rooms[1].clone());
    assert_eq!(seen, expected);
    // The sender has nothing unread; reading clears Bob's count.
    let (_, mine) = chat.get(&alice, "/v1/rooms").await;
    assert_eq!(mine["items"][0]["unread"], 0);
    let (status, _) = chat
        .post(&bob, &format!("/v1/rooms/{}/receipts", rooms[0]), json!({"up_to_seq": 2, "kind": "read"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = chat.get(&bob, "/v1/rooms?limit=1").await;
    assert_eq!(list["items"][0]["unread"], 0);
    let (status, body) = chat.get(&bob, "/v1/rooms?cursor=garbage").await;
    assert_error(status, &body, 422, "invalid_cursor");
    chat.stop().await;
}

#[tokio::test]
async fn contacts_are_sorted_by_name_and_removing_one_keeps_the_history() {
    let chat = spawn_app().await;
    let me = chat.person("Me").await;
    let (zed, amy, bob) = (chat.person("zed").await, chat.person("Amy").await, chat.person("bob").await);
    for other in [&zed, &amy, &bob, &amy] {
        let (status, body) = chat.put(&me, &format!("/v1/contacts/{}", other.id), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (status, list) = chat.get(&me, "/v1/contacts").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|c| c["display_name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Amy", "bob", "zed"]);
    assert_eq!(list["items"][0]["user_id"], amy.id.to_string());
    assert!(list["next"].is_null());
    let (_, page) = chat.get(&me, "/v1/contacts?limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, rest) =
        chat.get(&me, &format!("/v1/contacts?limit=2&cursor={}", page["next"].as_str().unwrap())).await;
    assert_eq!(rest["items"][0]["display_name"], "zed");
    assert!(rest["next"].is_null());

    // A direct room with a contact survives removing the contact.
    let (_, room) = chat.post(&me, "/v1/rooms", json!({"kind": "direct", "members": [bob.id]})).await;
    let room = room["id"].as_str().unwrap();
    chat.send(&bob, room, "hello").await;
    let (status, _) = chat.delete(&me, &format!("/v1/contacts/{}", bob.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = chat.get(&me, "/v1/contacts").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (status, messages) = chat.get(&me, &format!("/v1/rooms/{room}/messages")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages["items"].as_array().unwrap().len(), 1);

    let (status, body) = chat.put(&me, &format!("/v1/contacts/{}", me.id), None).await;
    assert_error(status, &body, 422, "invalid_value");
    let (status, body) = chat.put(&me, &format!("/v1/contacts/{}", uuid::Uuid::now_v7()), None).await;
    assert_error(status, &body, 404, "user_not_found");
    chat.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_in_the_error_format_never_a_500() {
    let chat = spawn_app().await;
    let me = chat.person("Me").await;
    let room = chat.group(&me, &[]).await;
    let unknown = uuid::Uuid::now_v7();
    let cases: Vec<(&str, String, Option<Value>, u16, &str)> = vec![
        ("GET", "/v1/rooms/not-a-uuid".into(), None, 404, "not_found"),
        ("GET", format!("/v1/rooms/{unknown}"), None, 404, "not_found"),
        ("PATCH", "/v1/rooms/123".into(), Some(json!({"name": "x"})), 404, "not_found"),
        ("POST", "/v1/rooms/zzz/join".into(), Some(json!({})), 404, "not_found"),
        ("POST", format!("/v1/rooms/{unknown}/join"), Some(json!({})), 404, "not_found"),
        ("PUT", format!("/v1/rooms/{room}/members/nope"), None, 404, "not_found"),
        ("DELETE", format!("/v1/rooms/{room}/messages/nope"), None, 404, "not_found"),
        ("GET", "/v1/rooms/x/messages".into(), None, 404, "not_found"),
        ("PUT", "/v1/contacts/x".into(), None, 404, "not_found"),
        ("DELETE", "/v1/blocks/x".into(), None, 404, "not_found"),
        ("POST", "/v1/rooms".into(), Some(json!({"kind": "circle"})), 422, "invalid_value"),
        ("POST", "/v1/rooms".into(), Some(json!({"kind": "group", "members": ["x"]})), 422, "invalid_value"),
        ("POST", "/v1/rooms".into(), Some(json!({"kind": "group", "name": ""})), 422, "invalid_value"),
        ("POST", "/v1/rooms".into(), Some(json!({"kind": "group", "extra": 1})), 422, "invalid_value"),
        ("PATCH", format!("/v1/rooms/{room}"), Some(json!({"join_rule": "maybe"})), 422, "invalid_value"),
        ("GET", format!("/v1/rooms/{room}/messages?before=abc"), None, 422, "invalid_cursor"),
        ("GET", format!("/v1/rooms/{room}/messages?before=1&after=2"), None, 422, "invalid_value"),
        ("GET", format!("/v1/rooms/{room}/messages?limit=-1"), None, 422, "invalid_value"),
        ("GET", "/v1/rooms?limit=x".into(), None, 422, "invalid_value"),
        ("DELETE", format!("/v1/rooms/{room}/messages/{unknown}?for=them"), None, 422, "invalid_value"),
        ("DELETE", format!("/v1/rooms/{room}/messages/{unknown}"), None, 404, "message_not_found"),
        (
            "POST",
            format!("/v1/rooms/{room}/messages"),
            Some(json!({"client_msg_id": "1"})),
            422,
            "invalid_value",
        ),
        (
            "POST",
            format!("/v1/rooms/{room}/messages"),
            Some(json!({"client_msg_id": "1", "ciphertext": "not base64!"})),
            422,
            "invalid_value",
        ),
        (
            "POST",
            format!("/v1/rooms/{room}/receipts"),
            Some(json!({"up_to_seq": 5, "kind": "read"})),
            422,
            "invalid_value",
        ),
        (
            "POST",
            format!("/v1/rooms/{room}/receipts"),
            Some(json!({"up_to_seq": -1, "kind": "read"})),
            422,
            "invalid_value",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = chat.call(&me, method, &path, body).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{method} {path}: {answer}");
    }
    // Malformed JSON is 400; no token is 401.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/rooms", chat.base(0)))
        .bearer_auth(&me.token)
        .header("content-type", "application/json")
        .body("{\"kind\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, body) = chat.call(Anonymous, "GET", "/v1/rooms", None).await;
    assert_error(status, &body, 401, "unauthenticated");
    chat.stop().await;
}

/// A former member of a direct room comes back when either of the pair opens
/// it again (POST /v1/rooms, or joining it), and the two can talk again.
#[tokio::test]
async fn a_direct_room_left_by_one_of_the_pair_is_theirs_again_when_opened() {
    let chat = spawn_app().await;
    let (alice, bob) = (chat.person("Alice").await, chat.person("Bob").await);
    let (_, room) = chat.post(&alice, "/v1/rooms", json!({"kind": "direct", "members": [bob.id]})).await;
    let room = room["id"].as_str().unwrap().to_owned();
    let (status, _) = chat.post(&bob, &format!("/v1/rooms/{room}/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Alice opens it again: Bob is back, and receives what she says.
    let (status, opened) =
        chat.post(&alice, "/v1/rooms", json!({"kind": "direct", "members": [bob.id]})).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["id"], room.as_str());
    assert_eq!(opened["members"].as_array().unwrap().len(), 2, "{opened}");
    chat.send(&alice, &room, "welcome back").await;
    let (status, page) = chat.get(&bob, &format!("/v1/rooms/{room}/messages")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // Alice leaves; Bob joins the room by its route, and she is back too.
    let (status, _) = chat.post(&alice, &format!("/v1/rooms/{room}/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, joined) = chat.post(&bob, &format!("/v1/rooms/{room}/join"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["members"].as_array().unwrap().len(), 2, "{joined}");
    let (status, _) = chat.get(&alice, &format!("/v1/rooms/{room}")).await;
    assert_eq!(status, StatusCode::OK);
    // Nobody else gets in.
    let eve = chat.person("Eve").await;
    let (status, _) = chat.post(&eve, &format!("/v1/rooms/{room}/join"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    chat.stop().await;
}
