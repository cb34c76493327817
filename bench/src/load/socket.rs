//! One device's WebSocket: connect, wait for `ready`, then record every
//! message delivered to it (which one, at which room seq, how late) and
//! acknowledge its cursor periodically, as a client would.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::BoxError;
use super::api::Account;
use super::payload::{self, Clock};
use crate::stats::BySecond;

/// How long the backlog before `ready` may take.
const READY_WAIT: Duration = Duration::from_secs(60);
/// Connection attempts per user before setup fails: like a real client, the
/// load generator reconnects when the server refuses or drops it.
const CONNECT_ATTEMPTS: usize = 5;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which device of which user a connection is: device 0 is the one the
/// user registered with, the others logged in after.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    pub user: usize,
    pub device: usize,
}

/// A connection that has received `ready`.
pub struct Connected {
    client: Client,
    me: String,
    socket: Socket,
    cursor: Option<String>,
}

/// Counters all connections share, read while the run drains.
#[derive(Debug, Default)]
pub struct Live {
    /// Load messages received, the own user's included (duplicates too).
    pub deliveries: AtomicU64,
}

/// One load message as it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub message: u64,
    /// Its place in its room; `None` if the event did not say.
    pub seq: Option<u64>,
}

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Inbox {
    pub client: Client,
    /// Every load message received (the own user's too), in arrival order.
    pub messages: Vec<Received>,
    /// Send start to arrival of each message of another user, by the second it was sent in.
    pub latency: BySecond,
    /// `message.sent` frames of messages sent after the warm-up, the user's own included.
    pub frames: u64,
    pub acked: u64,
    /// Why the connection ended early, if it did.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    cursor: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Event<'a>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    sender_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ciphertext: Option<Cow<'a, str>>,
    seq: Option<u64>,
}

/// `ws://host:port/v1/ws` for `http://host:port`.
pub fn ws_url(base: &str) -> Result<String, BoxError> {
    match base.strip_prefix("http://") {
        Some(rest) => Ok(format!("ws://{rest}/v1/ws")),
        None => Err(format!("{base}: only http:// servers can be loaded").into()),
    }
}

/// [`connect`], retried with a growing pause; also the failures on the way.
pub async fn connect_retrying(
    url: &str,
    client: Client,
    account: &Account,
) -> Result<(Connected, Vec<String>), BoxError> {
    let mut failures: Vec<String> = Vec::new();
    loop {
        match connect(url, client, account).await {
            Ok(connected) => return Ok((connected, failures)),
            Err(err) if failures.len() + 1 >= CONNECT_ATTEMPTS => {
                let Client { user, device } = client;
                return Err(format!(
                    "user {user} device {device}: {CONNECT_ATTEMPTS} connection attempts failed; last: {err}"
                )
                .into());
            }
            Err(err) => {
                failures.push(err.to_string());
                tokio::time::sleep(Duration::from_millis(250) * failures.len() as u32).await;
            }
        }
    }
}

/// Connects as `account` and reads the backlog up to `ready`.
pub async fn connect(url: &str, client: Client, account: &Account) -> Result<Connected, BoxError> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("authorization", format!("Bearer {}", account.token).parse()?);
    // Frames are small: a 16 KiB read buffer instead of the default 128 KiB
    // keeps thousands of clients light.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    let mut cursor = None;
    let ready = tokio::time::timeout(READY_WAIT, async {
        while let Some(message) = socket.next().await {
            let Message::Text(text) = message? else { continue };
            let frame: Frame = serde_json::from_str(&text)?;
            match frame.kind.as_ref() {
                "ready" => return Ok(()),
                "event" => cursor = frame.cursor.map(Cow::into_owned),
                "error" => return Err(format!("error frame before ready: {text}").into()),
                _ => {}
            }
        }
        Err::<(), BoxError>("closed before ready".into())
    })
    .await;
    ready.map_err(|_| "no ready frame within 60 s")??;
    Ok(Connected { client, me: account.id.clone(), socket, cursor })
}

/// When one client acknowledges what it received.
#[derive(Debug, Clone, Copy)]
pub struct AckSchedule {
    every: Duration,
    /// Offset of this client's acks within `every`.
    phase: Duration,
}

impl AckSchedule {
    /// Client `index` of `clients`: phases spread evenly over the period, as
    /// independent clients' would be, instead of every client acknowledging
    /// in the same millisecond.
    pub fn spread(every: Duration, index: usize, clients: usize) -> Self {
        let share = index as f64 / clients.max(1) as f64;
        Self { every, phase: every.mul_f64(share) }
    }
}

/// Receives until `stop`, acknowledging on `acks`.
pub fn spawn(
    connected: Connected,
    clock: Clock,
    warmup: Duration,
    live: Arc<Live>,
    stop: CancellationToken,
    acks: AckSchedule,
) -> JoinHandle<Inbox> {
    tokio::spawn(async move {
        let Connected { client, me, mut socket, mut cursor } = connected;
        let mut inbox = Inbox { client, ..Inbox::default() };
        let mut acked_cursor = cursor.clone();
        let first = tokio::time::Instant::now() + acks.phase;
        let mut ack = tokio::time::interval_at(first, acks.every);
        ack.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ack.tick() => {
                    if cursor == acked_cursor {
                        continue;
                    }
                    let frame = json!({"type": "ack", "cursor": cursor}).to_string();
                    if let Err(err) = socket.send(Message::text(frame)).await {
                        inbox.error = Some(format!("sending an ack: {err}"));
                        break;
                    }
                    acked_cursor.clone_from(&cursor);
                }
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        if let Err(err) = inbox.receive(&text, &me, &mut cursor, (clock, warmup), &live) {
                            inbox.error = Some(err);
                            break;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        inbox.error = Some(format!("closed by the server: {frame:?}"));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        inbox.error = Some(err.to_string());
                        break;
                    }
                    None => {
                        inbox.error = Some("connection ended".into());
                        break;
                    }
                },
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
        inbox
    })
}

impl Inbox {
    /// Records one frame; an error frame ends the connection.
    fn receive(
        &mut self,
        text: &str,
        me: &str,
        cursor: &mut Option<String>,
        (clock, warmup): (Clock, Duration),
        live: &Live,
    ) -> Result<(), String> {
        let frame: Frame = serde_json::from_str(text).map_err(|err| format!("bad frame {text}: {err}"))?;
        match frame.kind.as_ref() {
            "event" => {
                *cursor = frame.cursor.map(Cow::into_owned);
                let Some(event) = frame.event.filter(|event| event.kind == "message.sent") else {
                    return Ok(());
                };
                let Some((message, sent_us)) = event.ciphertext.as_deref().and_then(payload::decode) else {
                    return Ok(());
                };
                let sent_at = Duration::from_micros(sent_us);
                if sent_at >= warmup {
                    self.frames += 1;
                }
                self.messages.push(Received { message, seq: event.seq });
                live.deliveries.fetch_add(1, Ordering::Relaxed);
                // End to end is timed to other users, as in every figure
                // before devices; the own user's copies are checked, not timed.
                if event.sender_id.as_deref() != Some(me) {
                    self.latency
                        .record(sent_at, Duration::from_micros(clock.micros().saturating_sub(sent_us)));
                }
            }
            "acked" => self.acked += 1,
            "error" => return Err(format!("error frame: {}", frame.code.unwrap_or_default())),
            _ => {}
        }
        Ok(())
    }
}
