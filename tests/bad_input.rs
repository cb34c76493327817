//! Bad input is a 4xx in the error format on every route, one answer per kind
//! of bad input (docs/api.md, "Bad input"), and never breaks the connection it came on.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::app::{Anonymous, Person, TestApp, assert_error, spawn_app};

const INTEGER_EDGES: [&str; 6] =
    ["0", "-1", "9223372036854775808", "18446744073709551615", "18446744073709551616", "1e3"];
const STRING_EDGES: [&str; 4] = ["abc", "%00", "%FF%FE", "a%00b"];

fn long_string() -> String {
    "x".repeat(4000)
}

/// What the sweep calls routes with.
struct Fixture {
    alice: Person,
    bob: Person,
    room: String,
    message: String,
}

impl Fixture {
    async fn new(chat: &TestApp) -> Self {
        let alice = chat.person("Alice").await;
        let bob = chat.person("Bob").await;
        let room = chat.group(&alice, &[&bob]).await;
        let message = chat.send(&alice, &room, "hello").await["id"].as_str().unwrap().to_owned();
        Self { alice, bob, room, message }
    }

    /// A documented path with real ids, or with `edge` for every parameter.
    fn path(&self, template: &str, edge: Option<&str>) -> String {
        let mut parts = Vec::new();
        let mut previous = "";
        for part in template.split('/') {
            let filled = match (part, edge) {
                (p, Some(edge)) if p.starts_with('{') => edge.to_owned(),
                ("{id}", None) if previous == "users" => self.bob.id.to_string(),
                ("{id}", None) => self.room.clone(),
                ("{message_id}", None) => self.message.clone(),
                ("{user_id}", None) => self.bob.id.to_string(),
                // Bob's: a real device, never the caller's (removing it would end the caller's session).
                ("{device_id}", None) => ciphertalk_domain::DeviceId::first_of(self.bob.id).to_string(),
                (p, _) => p.to_owned(),
            };
            previous = part;
            parts.push(filled);
        }
        parts.join("/")
    }
}

struct Answer {
    status: StatusCode,
    body: Value,
}

async fn raw(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> Answer {
    let mut request = http.request(method.parse().unwrap(), format!("{base}{path}")).bearer_auth(token);
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

/// 4xx with `{"error": {"code", "message", "details"}}`.
#[track_caller]
fn assert_refused(answer: &Answer, what: &str) {
    assert!(answer.status.is_client_error(), "{what}: {} {}", answer.status, answer.body);
    assert!(
        answer.body["error"]["code"].is_string() && answer.body["error"]["message"].is_string(),
        "{what}: not the error format: {}",
        answer.body
    );
}

/// Any answer but a 5xx; a 4xx in the error format.
#[track_caller]
fn assert_not_server_error(answer: &Answer, what: &str) {
    assert!(!answer.status.is_server_error(), "{what}: {} {}", answer.status, answer.body);
    if answer.status.is_client_error() {
        assert_refused(answer, what);
    }
}

#[tokio::test]
async fn every_route_answers_edge_input_with_a_4xx_in_the_error_format() {
    let chat = spawn_app().await;
    let fixture = Fixture::new(&chat).await;
    let http = reqwest::Client::new();
    let token = fixture.alice.token.clone();
    let (_, doc) = chat.call(Anonymous, "GET", "/v1/openapi.json", None).await;
    let mut routes: Vec<(String, String, Value)> = Vec::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            routes.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    assert!(routes.len() > 30, "{routes:?}");
    // Sends, leaves and removals run last, so that the room stays usable for the rest.
    routes.sort_by_key(|(method, path, _)| (method == "DELETE" || path.ends_with("/leave"), path.clone()));
    let long = long_string();
    let path_edges: Vec<&str> =
        INTEGER_EDGES.iter().chain(&STRING_EDGES).copied().chain([long.as_str()]).collect();

    for (method, template, operation) in &routes {
        let has_params = template.contains('{');
        if has_params {
            for edge in &path_edges {
                let path = fixture.path(template, Some(edge));
                let answer = raw(&http, &chat.base(0), &token, method, &path, None).await;
                assert_refused(&answer, &format!("{method} {template} with {{param}}={edge:.20}"));
            }
        }
        let mut query_names: Vec<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        query_names.extend(["limit".to_owned(), "cursor".to_owned()]);
        query_names.sort();
        query_names.dedup();
        let path = fixture.path(template, None);
        for name in &query_names {
            for edge in path_edges.iter() {
                let other = if template == "/v1/users" && name != "query" { "query=a&" } else { "" };
                let uri = format!("{path}?{other}{name}={edge}");
                let answer = raw(&http, &chat.base(0), &token, method, &uri, None).await;
                assert_not_server_error(&answer, &format!("{method} {template}?{name}={edge:.20}"));
            }
        }
        // A JSON body (a file chunk's body is bytes, not JSON).
        let takes_body = operation["requestBody"]["content"]["application/json"].is_object();
        let bodies: Vec<(&str, &[u8])> = vec![
            ("text/plain", b"{}"),
            ("application/json", b"{\"a\":"),
            ("application/json", b"{\"a\": \"\\ud800\"}"),
            ("application/json", b"[]"),
            ("application/json", b"null"),
            ("application/json", b"{\"name\": \"a\\u0000b\", \"display_name\": \"a\\u0000b\"}"),
            (
                "application/json",
                b"{\"up_to_seq\": 18446744073709551616, \"kind\": \"read\", \"cursor\": -1, \"key_id\": 4294967296}",
            ),
        ];
        for (content_type, body) in bodies {
            let answer =
                raw(&http, &chat.base(0), &token, method, &path, Some((content_type, body.to_vec()))).await;
            let what = format!("{method} {template} with {content_type} {}", String::from_utf8_lossy(body));
            assert_not_server_error(&answer, &what);
            let malformed = content_type == "text/plain" || body == b"{\"a\":";
            if template.starts_with("/v1/admin/") && answer.status == 403 {
                // The caller is no admin: an admin-only route refuses it before its body is read.
                assert_error(answer.status, &answer.body, 403, "forbidden");
            } else if takes_body && malformed {
                assert_error(answer.status, &answer.body, 400, "malformed_json");
            }
        }
    }
    chat.stop().await;
}

#[tokio::test]
async fn one_kind_of_bad_input_gets_one_answer_on_every_route() {
    let chat = spawn_app().await;
    let f = Fixture::new(&chat).await;
    let http = reqwest::Client::new();
    let token = f.alice.token.clone();
    let room = &f.room;
    let lists = [
        "/v1/rooms?".to_owned(),
        "/v1/contacts?".to_owned(),
        "/v1/blocks?".to_owned(),
        "/v1/users?query=b&".to_owned(),
        format!("/v1/rooms/{room}/messages?"),
        "/v1/inbox?".to_owned(),
    ];
    for list in &lists {
        for good in ["1", "200"] {
            let answer = raw(&http, &chat.base(0), &token, "GET", &format!("{list}limit={good}"), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{list}limit={good}: {}", answer.body);
        }
        for bad in ["0", "-1", "201", "9223372036854775808", "18446744073709551615", "abc", "%00", ""] {
            let answer = raw(&http, &chat.base(0), &token, "GET", &format!("{list}limit={bad}"), None).await;
            assert_error(answer.status, &answer.body, 422, "invalid_value");
        }
    }
    // Every cursor, whatever the list: not one it gave out is 422 invalid_cursor.
    let cursors = [
        "/v1/rooms?cursor=".to_owned(),
        "/v1/contacts?cursor=".to_owned(),
        "/v1/blocks?cursor=".to_owned(),
        "/v1/users?query=b&cursor=".to_owned(),
        format!("/v1/rooms/{room}/messages?before="),
        format!("/v1/rooms/{room}/messages?after="),
        "/v1/inbox?after=".to_owned(),
        "/v1/ws?since=".to_owned(),
    ];
    for cursor in &cursors {
        for bad in ["abc", "-1", "1.5", "18446744073709551616"] {
            let answer = raw(&http, &chat.base(0), &token, "GET", &format!("{cursor}{bad}"), None).await;
            assert_error(answer.status, &answer.body, 422, "invalid_cursor");
        }
    }
    for bad in [json!("abc"), json!(-1), json!("18446744073709551615"), json!(null), json!([1])] {
        let (status, body) = chat.post(&f.alice, "/v1/inbox/ack", json!({"cursor": bad})).await;
        assert_error(status, &body, 422, "invalid_cursor");
    }
    // The largest cursor was never handed out (and must not overflow the stream's start).
    for path in ["/v1/inbox?after=18446744073709551615", "/v1/ws?since=18446744073709551615"] {
        let answer = raw(&http, &chat.base(0), &token, "GET", path, None).await;
        assert_error(answer.status, &answer.body, 422, "invalid_cursor");
    }
    // Other query values: 422 invalid_value, wherever they are.
    for path in [
        format!("/v1/rooms/{room}/messages?before=1&after=2"),
        format!("/v1/rooms/{room}/messages/{}?for=them", f.message),
        "/v1/rooms?unknown=1".to_owned(),
        "/v1/users?query=a%00b".to_owned(),
        "/v1/users?query=b&unknown=1".to_owned(),
    ] {
        let method = if path.contains("?for=") { "DELETE" } else { "GET" };
        let answer = raw(&http, &chat.base(0), &token, method, &path, None).await;
        assert_error(answer.status, &answer.body, 422, "invalid_value");
    }
    // A NUL in any string of a body: 422 invalid_value, not a database failure.
    let nul = "a\u{0}b";
    for (method, path, body) in [
        ("PATCH", "/v1/users/me".to_owned(), json!({"display_name": nul})),
        ("PATCH", "/v1/users/me".to_owned(), json!({"bio": nul})),
        ("PATCH", "/v1/users/me".to_owned(), json!({"username": nul})),
        ("POST", "/v1/rooms".to_owned(), json!({"kind": "group", "name": nul})),
        ("PATCH", format!("/v1/rooms/{room}"), json!({"description": nul})),
        (
            "POST",
            format!("/v1/rooms/{room}/messages"),
            json!({"client_msg_id": "c1", "ciphertext": "aGk=", "content_type": nul}),
        ),
        ("POST", "/v1/auth/login".to_owned(), json!({"email": nul, "password": nul})),
    ] {
        let (status, answer) = chat.call(&f.alice, method, &path, Some(body)).await;
        assert_error(status, &answer, 422, "invalid_value");
    }
    let (status, answer) = chat
        .call(
            Anonymous,
            "POST",
            "/v1/auth/register",
            Some(
                json!({"email": "nul@example.com", "password": "correct horse battery", "display_name": nul}),
            ),
        )
        .await;
    assert_error(status, &answer, 422, "invalid_value");
    // The membership body is JSON like every other body (and may be left out).
    let members = format!("/v1/rooms/{room}/members/{}", f.bob.id);
    let text = raw(
        &http,
        &chat.base(0),
        &token,
        "PUT",
        &members,
        Some(("text/plain", b"{\"role\":\"admin\"}".to_vec())),
    )
    .await;
    assert_error(text.status, &text.body, 400, "malformed_json");
    let broken = raw(
        &http,
        &chat.base(0),
        &token,
        "PUT",
        &members,
        Some(("application/json", b"{\"role\":".to_vec())),
    )
    .await;
    assert_error(broken.status, &broken.body, 400, "malformed_json");
    let (status, member) = chat.put(&f.alice, &members, None).await;
    assert_eq!((status, member["role"].as_str()), (StatusCode::OK, Some("member")), "{member}");
    chat.stop().await;
}

#[tokio::test]
async fn joining_a_room_everyone_left_is_404_as_for_any_room_one_may_not_see() {
    let chat = spawn_app().await;
    let alice = chat.person("Alice").await;
    let bob = chat.person("Bob").await;
    let (status, room) =
        chat.post(&alice, "/v1/rooms", json!({"kind": "group", "name": "gone", "join_rule": "open"})).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    let room = room["id"].as_str().unwrap();
    let (status, _) = chat.post(&alice, &format!("/v1/rooms/{room}/leave"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = chat.post(&bob, &format!("/v1/rooms/{room}/join"), json!({})).await;
    assert_error(status, &body, 404, "not_found");
    let (status, unknown) =
        chat.post(&bob, &format!("/v1/rooms/{}/join", uuid::Uuid::now_v7()), json!({})).await;
    assert_error(status, &unknown, 404, "not_found");
    chat.stop().await;
}

/// One HTTP/1.1 response off a raw connection: status, lower-cased head, body.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.ok()?.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.ok()?.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some((status, head, body))
}

#[tokio::test]
async fn a_request_refused_before_its_body_is_read_does_not_break_keep_alive() {
    let chat = spawn_app().await;
    let person = chat.person("Keeper").await;
    let addr = chat.server().addr;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(256 * 1024));
    // Refused before the body is looked at: no token; an unknown room; no such route.
    let refusals = [
        format!(
            "POST /v1/rooms HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            big.len()
        ),
        format!(
            "POST /v1/rooms/not-a-room/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            person.token,
            big.len()
        ),
        format!(
            "POST /v1/nowhere HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            big.len()
        ),
    ];
    for refusal in refusals {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(refusal.as_bytes()).await.unwrap();
        // The client sends its whole request, then its next one, as keep-alive clients do.
        let _ = stream.write_all(big.as_bytes()).await;
        let (status, head, _) = read_response(&mut stream).await.expect("a first answer");
        assert!((400..500).contains(&status), "{head}");
        let closes = head.contains("connection: close");
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
        let second = read_response(&mut stream).await;
        assert!(
            closes || second.as_ref().is_some_and(|(status, _, _)| *status == 200),
            "the connection was dropped without `Connection: close`: {head}"
        );
    }
    chat.stop().await;
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408() {
    let chat = spawn_app().config(|config| config.http.request_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(chat.server().addr).await.unwrap();
    stream
        .write_all(b"POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"email\":")
        .await
        .unwrap();
    let (status, head, body) = read_response(&mut stream).await.expect("an answer");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_eq!(status, 408, "{head}{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert!(head.contains("connection: close"), "{head}");
    chat.stop().await;
}

#[tokio::test]
async fn a_websocket_frame_far_over_the_limit_closes_with_1009() {
    let chat = spawn_app().config(|config| config.realtime.max_frame_bytes = 1024).await;
    let person = chat.person("Talker").await;
    let url = format!("{}/v1/ws", chat.base(0).replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", person.token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let frame = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(4096));
    socket.send(Message::Text(frame.into())).await.unwrap();
    let mut close_code = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
        if let Message::Close(frame) = message {
            close_code = frame.map(|frame| u16::from(frame.code));
            break;
        }
    }
    assert_eq!(close_code, Some(1009));
    chat.stop().await;
}
