//! One WebSocket connection of one user.
//!
//! Four tasks share the connection: the delivery pump (the device's backlog
//! (its user's events and its own to-device messages) from the start cursor, read from the stream, then the live events from the
//! process's feed, with no gap and no duplicate at the seam), the signal pump (typing,
//! presence and call frames from core NATS), the presence heartbeat, and the
//! reader (client frames, idle timeout). They hand frames to one writer
//! through a queue bounded in frames and in bytes. A client that does not
//! drain it within the grace period is disconnected (`slow_consumer`) instead
//! of holding anything up: the feed never waits for one connection, and the
//! client resumes from its acknowledged cursor when it reconnects.
//!
//! A connection ends with its access token (`token_expired`: the client
//! reconnects with a fresh one) and with its session ([`super::sessions`]).
//! Client frames over their rate limit are answered `rate_limited` and dropped.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chrono::{DateTime, Utc};
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_streams::JetStreamErrorKind as Js;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc::{self, error::SendTimeoutError, error::TrySendError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::cursor::Cursor;
use super::frames::{self, ClientFrame, ServerFrame, SignalKind};
use super::queue::{Delivered, QueueError};
use super::{Admission, Realtime, membership, sessions, signaling, signals};
use crate::throttle::Action;

/// How long the farewell (error frame and close) may take.
const FAREWELL: Duration = Duration::from_secs(1);

/// Why a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The client closed it, or the socket failed.
    ClientGone,
    SlowConsumer,
    IdleTimeout,
    ServerShutdown,
    /// NATS or the delivery queue failed; the client should reconnect.
    Unavailable,
    /// A frame far over the limit: the socket cannot read past it.
    TooLarge,
    /// The access token it was opened with has expired.
    TokenExpired,
    /// Its session was ended (logout, a revoked refresh family).
    SessionEnded,
}

impl Reason {
    /// The error frame and close code sent before closing, if any.
    fn farewell(self) -> Option<(&'static str, &'static str, u16)> {
        match self {
            Self::ClientGone => None,
            Self::SlowConsumer => Some((
                "slow_consumer",
                "the connection did not keep up; reconnect to resume from your cursor",
                1008,
            )),
            Self::IdleTimeout => Some(("idle_timeout", "nothing was received for too long", 1000)),
            Self::ServerShutdown => Some(("server_shutdown", "the server is shutting down; reconnect", 1012)),
            Self::Unavailable => Some(("unavailable", "delivery is unavailable; reconnect", 1011)),
            Self::TooLarge => Some(("too_large", "a frame was far over the size limit", 1009)),
            Self::TokenExpired => {
                Some(("token_expired", "the access token has expired; reconnect with a fresh one", 1008))
            }
            Self::SessionEnded => Some(("session_ended", "the session has ended; log in again", 1008)),
        }
    }
}

/// Ends the connection once, for the first reason given.
#[derive(Clone)]
struct Closing {
    token: CancellationToken,
    reason: Arc<OnceLock<Reason>>,
}

impl Closing {
    fn close(&self, reason: Reason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// The reason; a cancellation from above (no reason given) is the server stopping.
    fn reason(&self) -> Reason {
        self.reason.get().copied().unwrap_or(Reason::ServerShutdown)
    }
}

/// Who is connected: the user, from where, and what ends the connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub user: UserId,
    /// The device of the session: its cursor is the one acknowledged.
    pub device: DeviceId,
    pub ip: Option<IpAddr>,
    /// The session (refresh family) of the access token; `None` for tokens without one.
    pub session: Option<uuid::Uuid>,
    /// When the access token expires, in Unix seconds.
    pub token_expires_at: Option<u64>,
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A frame on its way to the client.
struct Frame {
    text: String,
    /// Commit time of the event it carries (delivery latency).
    recorded_at: Option<DateTime<Utc>>,
    /// Its bytes' share of the queue's byte budget, returned once it is written.
    budget: Option<OwnedSemaphorePermit>,
}

impl Frame {
    fn plain(text: String) -> Self {
        Self::event(text, None)
    }

    fn event(text: String, recorded_at: Option<DateTime<Utc>>) -> Self {
        Self { text, recorded_at, budget: None }
    }
}

/// The connection has ended; stop producing.
struct Gone;

/// The sending end of the connection's bounded queue.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Frame>,
    /// Bytes that may be queued; a frame takes its length (at most all of it).
    bytes: Arc<Semaphore>,
    budget: u32,
    grace: Duration,
    closing: Closing,
}

impl Outbox {
    async fn push(&self, mut frame: Frame) -> Result<(), Gone> {
        let size = u32::try_from(frame.text.len()).unwrap_or(u32::MAX).clamp(1, self.budget);
        let permit = match self.bytes.clone().try_acquire_many_owned(size) {
            Ok(permit) => permit,
            Err(_) => {
                match tokio::time::timeout(self.grace, self.bytes.clone().acquire_many_owned(size)).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(Gone),
                    Err(_) => {
                        metrics::counter!("ciphertalk_ws_queue_drops_total").increment(1);
                        self.closing.close(Reason::SlowConsumer);
                        return Err(Gone);
                    }
                }
            }
        };
        frame.budget = Some(permit);
        let frame = match self.tx.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(Gone),
            Err(TrySendError::Full(frame)) => frame,
        };
        match self.tx.send_timeout(frame, self.grace).await {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => {
                metrics::counter!("ciphertalk_ws_queue_drops_total").increment(1);
                self.closing.close(Reason::SlowConsumer);
                Err(Gone)
            }
            Err(SendTimeoutError::Closed(_)) => Err(Gone),
        }
    }

    async fn send(&self, frame: &ServerFrame<'_>) -> Result<(), Gone> {
        self.push(Frame::plain(frame.to_text())).await
    }

    async fn error(&self, code: &str, message: &str) -> Result<(), Gone> {
        self.send(&ServerFrame::Error { code, message }).await
    }
}

/// Keeps `ciphertalk_ws_connections` right however the connection ends.
struct Counted;

impl Counted {
    fn new() -> Self {
        metrics::gauge!("ciphertalk_ws_connections").increment(1.0);
        Self
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!("ciphertalk_ws_connections").decrement(1.0);
    }
}

/// Serves one connection of `peer`, starting after `start`, until it ends.
#[tracing::instrument(skip_all, fields(user_id = %peer.user, start = %start))]
pub async fn serve(rt: Arc<Realtime>, socket: WebSocket, peer: Peer, start: Cursor, admission: Admission) {
    let _counted = Counted::new();
    let user = peer.user;
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(rt.settings.queue_frames.max(1));
    let closing = Closing { token: rt.shutdown().child_token(), reason: Arc::new(OnceLock::new()) };
    let budget = u32::try_from(rt.settings.queue_bytes).unwrap_or(u32::MAX).max(1);
    let outbox = Outbox {
        tx,
        bytes: Arc::new(Semaphore::new(budget as usize)),
        budget,
        grace: rt.settings.slow_client,
        closing: closing.clone(),
    };
    let writer = tokio::spawn(write(sink, rx, closing.clone(), rt.settings.idle_timeout / 3));

    // The highest cursor sent on this connection (acks up to it need no check).
    let sent = Arc::new(AtomicU64::new(start.0));
    let mut tasks = JoinSet::new();
    tasks.spawn(pump_delivery(rt.clone(), peer, start, outbox.clone(), sent.clone()));
    tasks.spawn(pump_signals(rt.clone(), peer, outbox.clone()));
    tasks.spawn(heartbeat(rt.clone(), user, peer.device, closing.clone()));
    if let Some(at) = peer.token_expires_at {
        tasks.spawn(expire(at, closing.clone()));
    }
    read(&rt, peer, stream, &outbox, &sent).await;

    closing.close(Reason::ClientGone);
    tasks.abort_all();
    drop(outbox);
    let _ = writer.await;
    tracing::debug!(reason = ?closing.reason(), "connection closed");
    let released = admission.release();
    if released.device_last
        && let Err(err) = rt.presence.device_offline(user, peer.device).await
    {
        tracing::warn!(error = %err, "could not mark the device disconnected");
    }
    if released.user_last {
        match rt.presence.offline(user).await {
            Ok(last_seen) => {
                let status = super::Status { online: false, last_seen: Some(last_seen) };
                rt.announce(user, status).await;
            }
            Err(err) => tracing::warn!(error = %err, "could not record last seen"),
        }
    }
}

/// Closes the connection when its access token expires.
async fn expire(at: u64, closing: Closing) {
    tokio::time::sleep(Duration::from_secs(at.saturating_sub(unix_now()))).await;
    closing.close(Reason::TokenExpired);
}

/// Client frames, until the client goes, falls silent, or the connection closes.
async fn read(
    rt: &Realtime,
    peer: Peer,
    mut stream: SplitStream<WebSocket>,
    outbox: &Outbox,
    sent: &AtomicU64,
) {
    let closing = &outbox.closing;
    loop {
        let next = tokio::select! {
            () = closing.token.cancelled() => return,
            next = tokio::time::timeout(rt.settings.idle_timeout, stream.next()) => next,
        };
        let message = match next {
            Err(_) => return closing.close(Reason::IdleTimeout),
            Ok(Some(Err(err))) if is_over_capacity(&err) => return closing.close(Reason::TooLarge),
            Ok(None | Some(Err(_))) => return closing.close(Reason::ClientGone),
            Ok(Some(Ok(message))) => message,
        };
        let handled = match message {
            Message::Text(text) => handle(rt, peer, text.as_str(), outbox, sent).await,
            // Counted like any other frame: a flood of them costs an answer each.
            Message::Binary(_) => match rt.throttle.check(Action::Frame, Some(peer.user), peer.ip) {
                Ok(()) => outbox.error("bad_frame", "frames are JSON text").await,
                Err(_) => outbox.error("rate_limited", "too many frames").await,
            },
            // Pings are answered by the WebSocket layer; both count as activity.
            Message::Ping(_) | Message::Pong(_) => Ok(()),
            Message::Close(_) => return closing.close(Reason::ClientGone),
        };
        if handled.is_err() {
            return;
        }
    }
}

async fn handle(
    rt: &Realtime,
    peer: Peer,
    text: &str,
    outbox: &Outbox,
    sent: &AtomicU64,
) -> Result<(), Gone> {
    let user = peer.user;
    let parsed = if text.len() > rt.settings.max_frame_bytes {
        Err(None)
    } else {
        serde_json::from_str::<ClientFrame>(text).map_err(Some)
    };
    let action = match &parsed {
        Ok(ClientFrame::Typing { .. }) => Action::Typing,
        Ok(ClientFrame::Signal { kind: SignalKind::Playback, .. }) => Action::Playback,
        Ok(ClientFrame::Signal { .. }) => Action::Signal,
        Ok(ClientFrame::Presence { .. }) => Action::Presence,
        Ok(ClientFrame::Ack { .. } | ClientFrame::Ping) | Err(_) => Action::Frame,
    };
    if let Err(limited) = rt.throttle.check(action, Some(user), peer.ip) {
        let message =
            format!("too many {} frames; retry in {} s", action.name(), limited.retry_after_secs().max(1));
        return outbox.error("rate_limited", &message).await;
    }
    let frame = match parsed {
        Ok(frame) => frame,
        Err(None) => return outbox.error("too_large", "the frame is larger than the limit").await,
        Err(Some(err)) => return outbox.error("bad_frame", &err.to_string()).await,
    };
    let unavailable = |err: &dyn std::fmt::Display| {
        tracing::warn!(error = %err, "a client frame failed");
        "the server could not handle this frame now; try again"
    };
    match frame {
        ClientFrame::Ping => outbox.send(&ServerFrame::Pong).await,
        ClientFrame::Ack { cursor } => {
            if cursor.0 > sent.load(Ordering::Acquire) {
                // Received on another connection or from the inbox, or made up.
                match rt.queue.latest(user, peer.device).await {
                    Ok(latest) if cursor <= latest => {}
                    Ok(_) => {
                        return outbox.error("invalid_cursor", "no event of yours has this cursor yet").await;
                    }
                    Err(err) => return outbox.error("unavailable", unavailable(&err)).await,
                }
            }
            match rt.acks.acknowledge(user, peer.device, cursor).await {
                Ok(stored) => outbox.send(&ServerFrame::Acked { cursor: stored }).await,
                Err(err) => outbox.error("unavailable", unavailable(&err)).await,
            }
        }
        ClientFrame::Typing { room_id, typing } => {
            match membership::audience(&rt.write, &rt.db, room_id, user).await {
                Ok(Some(members)) => {
                    let frame = ServerFrame::Typing { room_id, user_id: user, typing };
                    signals::send(&rt.nats, &members, &frame.to_text()).await;
                    Ok(())
                }
                Ok(None) => outbox.error("not_found", "no such room").await,
                Err(err) => outbox.error("unavailable", unavailable(&err)).await,
            }
        }
        ClientFrame::Signal { to, device_id, room_id, kind, payload } => {
            let signal = signaling::Signal {
                from: user,
                from_device: peer.device,
                room: room_id,
                kind,
                to,
                device: device_id,
                payload: &payload,
            };
            match signaling::relay(rt, signal).await {
                Ok(()) => Ok(()),
                Err(err @ signaling::SignalError::Unavailable(_)) => {
                    outbox.error(err.code(), unavailable(&err)).await
                }
                Err(err) => outbox.error(err.code(), &err.to_string()).await,
            }
        }
        ClientFrame::Presence { user_id } => match rt.presence_for(user, user_id).await {
            Ok(status) => {
                outbox
                    .send(&ServerFrame::Presence {
                        user_id,
                        online: status.online,
                        last_seen: status.last_seen,
                    })
                    .await
            }
            Err(err) => outbox.error("unavailable", unavailable(&err)).await,
        },
    }
}

/// The device's queue from `start` on: backlog, `ready`, then live.
async fn pump_delivery(rt: Arc<Realtime>, peer: Peer, start: Cursor, outbox: Outbox, sent: Arc<AtomicU64>) {
    let queue = Queue { user: peer.user, device: peer.device };
    let closing = outbox.closing.clone();
    let unavailable = |err: &dyn std::fmt::Display| {
        tracing::warn!(error = %err, "cannot read the delivery queue");
        closing.close(Reason::Unavailable);
    };
    // Subscribed first: live messages after `live.position` are kept while
    // the backlog up to it is read from the stream.
    let mut live = match rt.feed.subscribe(queue.user, queue.device) {
        Ok(live) => live,
        Err(err) => return unavailable(&err),
    };
    let mut last = match catch_up(&rt, queue, start, live.position, &outbox, &sent).await {
        Ok(last) => last,
        Err(Missed::Queue(err)) => return unavailable(&err),
        Err(Missed::Gone) => return,
    };
    if outbox.send(&ServerFrame::Ready { cursor: last }).await.is_err() {
        return;
    }
    while let Some(delivered) = live.recv().await {
        if live.take_overflow() {
            // Some live messages were dropped while this connection lagged:
            // they are in the stream, up to where the feed is now.
            let upto = live.feed().position();
            last = match catch_up(&rt, queue, last, upto, &outbox, &sent).await {
                Ok(last) => last,
                Err(Missed::Queue(err)) => return unavailable(&err),
                Err(Missed::Gone) => return,
            };
        }
        if delivered.cursor <= last {
            continue;
        }
        if send_event(&outbox, &sent, &delivered).await.is_err() {
            return;
        }
        last = delivered.cursor;
    }
    unavailable(&"the live delivery feed stopped");
}

/// Why a catch-up stopped short.
enum Missed {
    Queue(QueueError),
    Gone,
}

/// Whose queue a connection reads: its user's subject and its device's.
#[derive(Debug, Clone, Copy)]
struct Queue {
    user: UserId,
    device: DeviceId,
}

/// Sends the device's events stored after `after`, at least up to stream
/// sequence `upto`; returns the cursor of the last one sent.
async fn catch_up(
    rt: &Realtime,
    queue: Queue,
    after: Cursor,
    upto: u64,
    outbox: &Outbox,
    sent: &AtomicU64,
) -> Result<Cursor, Missed> {
    // One lookup in the subject index answers the common case: nothing new.
    if rt.queue.latest(queue.user, queue.device).await.map_err(Missed::Queue)? <= after {
        return Ok(after);
    }
    let mut follow = rt.queue.follow(queue.user, queue.device, after).await.map_err(Missed::Queue)?;
    let mut last = after;
    while follow.backlog > 0 {
        let delivered = match follow.next().await {
            Some(Ok(delivered)) => delivered,
            Some(Err(err)) => return Err(Missed::Queue(err)),
            None => return Err(Missed::Queue(QueueError::new(Js::Ended))),
        };
        send_event(outbox, sent, &delivered).await.map_err(|Gone| Missed::Gone)?;
        last = delivered.cursor;
        // Nothing more stored for the device, or the live feed has the rest.
        if delivered.pending == 0 || last.0 >= upto {
            break;
        }
    }
    Ok(last)
}

/// Queues one event frame for the client.
async fn send_event(outbox: &Outbox, sent: &AtomicU64, delivered: &Delivered) -> Result<(), Gone> {
    match frames::event(delivered.cursor, &delivered.event) {
        Some(text) => outbox.push(Frame::event(text, delivered.recorded_at)).await?,
        None => tracing::error!(cursor = %delivered.cursor, "skipping a delivery that is not JSON"),
    }
    sent.fetch_max(delivered.cursor.0, Ordering::AcqRel);
    Ok(())
}

/// Typing, presence and signal frames addressed to the user or to this
/// device, and the word that ends their session. A call signal is a request:
/// answered once taken, which tells its sender a device has it.
async fn pump_signals(rt: Arc<Realtime>, peer: Peer, outbox: Outbox) {
    let mut subscription = match signals::subscribe(&rt.nats, peer.user, peer.device).await {
        Ok(subscription) => subscription,
        Err(err) => {
            tracing::warn!(error = %err, "cannot subscribe to signals");
            return outbox.closing.close(Reason::Unavailable);
        }
    };
    while let Some(message) = subscription.next().await {
        match sessions::ends(&message, peer.session) {
            Some(true) => return outbox.closing.close(Reason::SessionEnded),
            Some(false) => continue,
            None => {}
        }
        let Ok(text) = String::from_utf8(message.payload.to_vec()) else { continue };
        if let Some(reply) = message.reply
            && let Err(err) = rt.nats.publish(reply, bytes::Bytes::new()).await
        {
            tracing::debug!(error = %err, "a signal's sender could not be told it was taken");
        }
        if outbox.push(Frame::plain(text)).await.is_err() {
            return;
        }
    }
}

/// Keeps the user's online marker fresh while connected; announces them online.
async fn heartbeat(rt: Arc<Realtime>, user: UserId, device: DeviceId, closing: Closing) {
    let period = rt.presence.heartbeat_every();
    let mut every = tokio::time::interval(period);
    let mut announced = false;
    loop {
        tokio::select! {
            () = closing.token.cancelled() => return,
            _ = every.tick() => {}
        }
        match rt.presence.heartbeat(user, device).await {
            Ok(()) if !announced => {
                announced = true;
                // Connections opened together (after a restart, say) would
                // otherwise beat together: a burst of presence writes each period.
                every.reset_after(period.mul_f64(fastrand::f64()));
                rt.announce(user, super::Status { online: true, last_seen: Some(Utc::now()) }).await;
            }
            Ok(()) => {}
            Err(err) => tracing::warn!(error = %err, "presence heartbeat failed"),
        }
    }
}

/// Queued frames written before one flush: a connection that fell behind
/// catches up with one `write` call for many frames instead of one each.
const FRAMES_PER_FLUSH: usize = 64;

/// Whether reading failed on a frame or message over the socket's size limit.
fn is_over_capacity(err: &axum::Error) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<tungstenite::Error>())
        .is_some_and(|err| matches!(err, tungstenite::Error::Capacity(_)))
}

/// Writes queued frames (and keep-alive pings) until the connection closes,
/// then says why and closes.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Frame>,
    closing: Closing,
    ping_every: Duration,
) {
    let ping_every = ping_every.max(Duration::from_millis(100));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    // Commit times of the queued frames written by one flush.
    let mut flushed: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(FRAMES_PER_FLUSH);
    // Looked up once: every frame counts, and a lookup hashes the key.
    let frames_sent = metrics::counter!("ciphertalk_ws_frames_sent_total");
    let delivery_latency = metrics::histogram!("ciphertalk_delivery_latency_seconds");
    loop {
        let (message, recorded_at) = tokio::select! {
            biased;
            () = closing.token.cancelled() => break,
            frame = rx.recv() => match frame {
                Some(frame) => (Message::Text(frame.text.into()), Some(frame.recorded_at)),
                None => break,
            },
            _ = ping.tick() => (Message::Ping(Default::default()), None),
        };
        flushed.clear();
        flushed.extend(recorded_at);
        let written = tokio::select! {
            written = async {
                sink.feed(message).await?;
                // What queued meanwhile goes out with it, in one write.
                while flushed.len() < FRAMES_PER_FLUSH {
                    let Ok(frame) = rx.try_recv() else { break };
                    sink.feed(Message::Text(frame.text.into())).await?;
                    flushed.push(frame.recorded_at);
                }
                sink.flush().await
            } => written,
            () = closing.token.cancelled() => break,
        };
        if written.is_err() {
            closing.close(Reason::ClientGone);
            break;
        }
        frames_sent.increment(flushed.len() as u64);
        let now = Utc::now();
        for at in flushed.iter().flatten() {
            if let Ok(latency) = (now - *at).to_std() {
                delivery_latency.record(latency.as_secs_f64());
            }
        }
    }
    if let Some((code, message, close_code)) = closing.reason().farewell() {
        let error = ServerFrame::Error { code, message }.to_text();
        let farewell = async {
            sink.send(Message::Text(error.into())).await?;
            sink.send(Message::Close(Some(CloseFrame { code: close_code, reason: code.into() }))).await
        };
        let _ = tokio::time::timeout(FAREWELL, farewell).await;
    } else {
        let _ = tokio::time::timeout(FAREWELL, sink.close()).await;
    }
}
