//! Realtime delivery: the WebSocket replays a user's queue from their cursor
//! and continues live (FIFO, no gap, no duplicate), acknowledged events are
//! not sent again, the inbox reads the same queue, several gateways serve
//! users who talk to each other, a killed gateway loses nothing, a slow client
//! is cut off without delaying anyone, typing and presence reach the right
//! people, and bad credentials and frames are refused.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ciphertalk_domain::ids::{MessageId, UserId};
use ciphertalk_domain::room::{Role, RoomCommand};
use ciphertalk_domain::user::{LastSeenVisibility, UserCommand};
use ciphertalk_domain::values::Ciphertext;
use ciphertalk_gateway::config::Toggle;
use ciphertalk_gateway::realtime::feed::{Feed, Signals};
use ciphertalk_projections::Projection;
use ciphertalk_projections::handoff::{self, StoredDelivery, StoredRun};
use ciphertalk_streams::{Topology, TopologySettings, subjects};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::support::app::{Anonymous, JWT_SECRET, PASSWORD, Person, TestApp, spawn_app};
use crate::support::binary::ServeProcess;
use crate::support::commands::{Commands, message};
use crate::support::{TestNats, eventually, hold_projections, pending_for, temp_dir};

mod delivery;
mod gateways;
mod limits;
mod outages;
mod presence;
mod sessions;

/// How long a test waits for one frame before it calls the server stuck.
const FRAME_WAIT: Duration = Duration::from_secs(20);

impl TestApp {
    /// Waits until `user`'s delivery queue holds `count` events.
    pub(crate) async fn queue_holds(&self, user: &Person, count: u64) {
        let js = self.js();
        let subject = format!("chat.dlv.{}", user.id);
        let filled = eventually(60, || async {
            let stream = js.get_stream("CHAT_DELIVERY").await.unwrap();
            let info = stream.info_with_subjects(&subject).await.unwrap();
            let mut subjects = info.collect::<Vec<_>>().await;
            subjects.pop().and_then(|entry| entry.ok()).map_or(0, |(_, n)| n as u64) >= count
        })
        .await;
        assert!(filled, "{subject} did not reach {count} events");
    }
}

/// The plaintext a test put in a message (the "ciphertext" is just base64 of it).
pub(crate) fn body_of(event: &Value) -> String {
    let bytes = STANDARD.decode(event["ciphertext"].as_str().unwrap_or_default()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(crate) fn cursor_of(frame: &Value) -> u64 {
    frame["cursor"].as_str().and_then(|c| c.parse().ok()).unwrap()
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client speaking the JSON frames of API.md.
pub(crate) struct Client {
    socket: Socket,
    /// Frames read while waiting for an `acked`, handed out by `next` first.
    stash: std::collections::VecDeque<Value>,
}

impl Client {
    pub(crate) async fn connect(base: &str, user: &Person, query: &str) -> Self {
        Self::try_connect(base, Some(&user.token), query).await.unwrap()
    }

    pub(crate) async fn try_connect(
        base: &str,
        token: Option<&str>,
        query: &str,
    ) -> Result<Self, StatusCode> {
        let url = format!("{}/v1/ws{query}", base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self { socket, stash: Default::default() }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(StatusCode::from_u16(response.status().as_u16()).unwrap())
            }
            Err(err) => panic!("websocket connect failed: {err}"),
        }
    }

    pub(crate) async fn send(&mut self, frame: Value) {
        self.socket.send(Message::Text(frame.to_string().into())).await.unwrap();
    }

    /// The next JSON frame; `None` when the connection ends or nothing comes in `wait`.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        if let Some(frame) = self.stash.pop_front() {
            return Some(frame);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()??.ok()?;
            match message {
                Message::Text(text) => return Some(serde_json::from_str(text.as_str()).unwrap()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    pub(crate) async fn next(&mut self) -> Value {
        self.next_within(FRAME_WAIT).await.expect("a frame")
    }

    /// The next frame of `kind`, skipping others.
    pub(crate) async fn next_of(&mut self, kind: &str) -> Value {
        self.next_where(|frame| frame["type"] == kind).await
    }

    /// The next frame `wanted` accepts, skipping others.
    pub(crate) async fn next_where(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next().await;
            if wanted(&frame) {
                return frame;
            }
        }
    }

    /// Frames until the server closes the connection; panics if it stays open.
    pub(crate) async fn until_closed(&mut self) -> Vec<Value> {
        let mut frames: Vec<Value> = self.stash.drain(..).collect();
        loop {
            match tokio::time::timeout(FRAME_WAIT, self.socket.next()).await {
                Err(_) => panic!("the connection stayed open"),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return frames,
                Ok(Some(Ok(Message::Text(text)))) => {
                    frames.push(serde_json::from_str(text.as_str()).unwrap())
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Event frames up to `ready`: (events, ready cursor).
    pub(crate) async fn backlog(&mut self) -> (Vec<Value>, u64) {
        let mut events = Vec::new();
        loop {
            let frame = self.next().await;
            match frame["type"].as_str() {
                Some("event") => events.push(frame),
                Some("ready") => return (events, cursor_of(&frame)),
                _ => {}
            }
        }
    }

    /// The next `n` `message.sent` event frames (skipping other frames and events).
    pub(crate) async fn messages(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let frame = self.next().await;
            if frame["type"] == "event" && frame["event"]["type"] == "message.sent" {
                out.push(frame);
            }
        }
        out
    }

    /// Acknowledges `cursor`; frames that arrive meanwhile are kept for `next`.
    pub(crate) async fn ack(&mut self, cursor: u64) -> u64 {
        self.send(json!({"type": "ack", "cursor": cursor.to_string()})).await;
        let mut stash = std::mem::take(&mut self.stash);
        let acked = loop {
            let frame = self.next_within(FRAME_WAIT).await.expect("an acked frame");
            if frame["type"] == "acked" {
                break cursor_of(&frame);
            }
            stash.push_back(frame);
        };
        self.stash = stash;
        acked
    }
}

fn message_events(frames: &[Value]) -> Vec<&Value> {
    frames.iter().filter(|f| f["event"]["type"] == "message.sent").collect()
}

/// Cursors strictly increase, and no event comes twice.
fn assert_fifo(frames: &[Value]) {
    let cursors: Vec<u64> = frames.iter().map(cursor_of).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursors not strictly increasing");
}

/// The user's inbox, a line per event: a message's text, else its type and user.
async fn inbox_summary(app: &TestApp, user: &Person) -> Vec<String> {
    let (status, page) = app.call_at(0, user, "GET", "/v1/inbox?limit=100", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| match item["event"]["type"].as_str() {
            Some("message.sent") => body_of(&item["event"]),
            other => {
                format!("{} {}", other.unwrap_or_default(), item["event"]["user_id"].as_str().unwrap_or(""))
            }
        })
        .collect()
}

/// The connection is still served: a ping is answered.
async fn assert_open(client: &mut Client) {
    client.send(json!({"type": "ping"})).await;
    client.next_of("pong").await;
}
