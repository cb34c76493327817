//! Call signalling (WebRTC offers, answers, ICE candidates) and co-watch
//! playback between the members of a room, sent over the WebSocket or the
//! `/v1/webrtc/*` routes and relayed as `signal` frames to the target's
//! connected devices, or to one named device, on whichever gateway holds them.
//!
//! - Authorised on the truth: both are members of the room (the Room
//!   aggregate) and neither blocked the other (both User aggregates).
//! - Bounded: the payload's JSON by `webrtc.max_payload_bytes`; the rate by
//!   `write_limits.signal_*` and `playback_*` (checked by the callers).
//! - Delivered or refused: a call signal is a core-NATS request on the
//!   target's signal subject, which each of their connections answers as it
//!   takes the frame; no connection means no responder, answered at once by
//!   NATS, so the caller learns `peer_offline` instead of waiting for nothing.
//! - Ordered per sender and target: a signal is answered only once a
//!   connection of the target has taken it, and each connection takes its
//!   subject's messages in order, so signals sent one after the other (a
//!   WebSocket's frames, or requests each awaited) arrive in that order,
//!   whatever gateways they went through. Signals to one named device and
//!   to the whole user travel on two subjects, with no order between them.
//! - Playback without a target fans out to every other connected member
//!   (fire and forget, like typing); a late joiner asks that way, and a
//!   peer answers it with a targeted playback signal.

use std::time::Duration;

use bytes::Bytes;
use ciphertalk_commands::{StoreError, WriteModel};
use ciphertalk_domain::{DeviceId, RoomId, UserId};
use ciphertalk_streams::subjects;

use super::frames::{ServerFrame, SignalKind};
use super::membership::{self, MembershipError};
use super::playback::Playback;
use super::{Realtime, signals};

/// Longest wait for a connection of the target to take a signal (it waits
/// only behind the frames that connection has not taken yet).
const TAKEN_WAIT: Duration = Duration::from_secs(10);

/// One signal from one device of a member.
#[derive(Debug, Clone, Copy)]
pub struct Signal<'a> {
    pub from: UserId,
    pub from_device: DeviceId,
    pub room: RoomId,
    pub kind: SignalKind,
    /// `None` only for playback: every other connected member of the room.
    pub to: Option<UserId>,
    /// Only this device of `to`, rather than all of them.
    pub device: Option<DeviceId>,
    pub payload: &'a serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("no such room")]
    NotFound,
    #[error("you may not signal this user in this room")]
    NotAllowed,
    #[error("the user has no connected device to take it")]
    PeerOffline,
    #[error("the payload is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Invalid(String),
    #[error("signalling is unavailable now: {0}")]
    Unavailable(String),
}

impl SignalError {
    /// The code of the API's error answer (and of the WebSocket's error frame).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::NotAllowed => "not_allowed",
            Self::PeerOffline => "peer_offline",
            Self::TooLarge { .. } => "too_large",
            Self::Invalid(_) => "invalid_value",
            Self::Unavailable(_) => "unavailable",
        }
    }

    fn refused(self) -> Self {
        metrics::counter!("ciphertalk_signal_refusals_total", "reason" => self.code()).increment(1);
        self
    }
}

impl From<StoreError> for SignalError {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

impl From<MembershipError> for SignalError {
    fn from(err: MembershipError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// Checks `signal` and relays it; `Ok` once a connection of the target has
/// taken it (for playback to the room: once it is on its way).
pub async fn relay(rt: &Realtime, signal: Signal<'_>) -> Result<(), SignalError> {
    check(rt, &signal).map_err(SignalError::refused)?;
    let frame = ServerFrame::Signal {
        from: signal.from,
        from_device: signal.from_device,
        room_id: signal.room,
        kind: signal.kind,
        payload: signal.payload,
    }
    .to_text();
    let Some(to) = signal.to else {
        let members = room_audience(rt, signal.room, signal.from).await?;
        signals::send(&rt.nats, &members, &frame).await;
        return relayed(signal.kind);
    };
    authorise(&rt.write, signal.from, to, signal.room).await.map_err(SignalError::refused)?;
    let subject = match signal.device {
        Some(device) => subjects::device_signal(&to.to_string(), &device.to_string()),
        None => subjects::signal(&to.to_string()),
    }
    .map_err(|err| SignalError::Unavailable(err.to_string()))?;
    let request = async_nats::Request::new().payload(Bytes::from(frame)).timeout(Some(TAKEN_WAIT));
    match rt.nats.send_request(subject, request).await {
        Ok(_) => relayed(signal.kind),
        Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
            Err(SignalError::PeerOffline.refused())
        }
        Err(err) => Err(SignalError::Unavailable(err.to_string())),
    }
}

fn relayed(kind: SignalKind) -> Result<(), SignalError> {
    metrics::counter!("ciphertalk_signal_frames_relayed_total", "kind" => kind.name()).increment(1);
    Ok(())
}

/// What needs no lookup: the payload's size and, for playback, its shape;
/// a call signal names its target.
fn check(rt: &Realtime, signal: &Signal<'_>) -> Result<(), SignalError> {
    let limit = rt.settings.max_signal_payload_bytes;
    if json_len(signal.payload) > limit {
        return Err(SignalError::TooLarge { limit });
    }
    if signal.kind == SignalKind::Playback {
        Playback::parse(signal.payload).map_err(SignalError::Invalid)?;
    } else if signal.to.is_none() {
        return Err(SignalError::Invalid("`to` names the user an offer, answer or candidate is for".into()));
    }
    if signal.to.is_none() && signal.device.is_some() {
        return Err(SignalError::Invalid("`device_id` needs `to`".into()));
    }
    Ok(())
}

/// Bytes of `value` written as compact JSON.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` into a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// `from` may signal `to` in `room`: both are members as the Room aggregate
/// stands now (a sender who is not one is told the room does not exist), and
/// neither has blocked the other as their User aggregates stand now.
pub async fn authorise(
    write: &WriteModel,
    from: UserId,
    to: UserId,
    room: RoomId,
) -> Result<(), SignalError> {
    let (room_id, to_id, from_id) = (room.to_string(), to.to_string(), from.to_string());
    let (members, blocked_by_target, blocked_by_sender) = tokio::try_join!(
        write.rooms.read(&room_id, |room| (room.is_member(from), room.is_member(to))),
        write.users.read(&to_id, |user| user.has_blocked(from)),
        write.users.read(&from_id, |user| user.has_blocked(to)),
    )?;
    match members {
        (false, _) => Err(SignalError::NotFound),
        (true, false) => Err(SignalError::NotAllowed),
        _ if from == to || blocked_by_target || blocked_by_sender => Err(SignalError::NotAllowed),
        _ => Ok(()),
    }
}

/// The other members of `room` a playback signal of `sender` goes to: those
/// who have not blocked them (the delivery projection's blocks, as typing
/// uses: a room may be large) and whom they have not blocked (their aggregate).
async fn room_audience(rt: &Realtime, room: RoomId, sender: UserId) -> Result<Vec<UserId>, SignalError> {
    let members = membership::audience(&rt.write, &rt.db, room, sender)
        .await?
        .ok_or_else(|| SignalError::NotFound.refused())?;
    let blocked = rt.write.users.read(&sender.to_string(), |user| user.blocks().clone()).await?;
    Ok(members.into_iter().filter(|member| !blocked.contains(member)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_measured_as_compact_json() {
        assert_eq!(json_len(&serde_json::json!({"sdp": "v=0"})), r#"{"sdp":"v=0"}"#.len());
        assert_eq!(json_len(&serde_json::json!("é")), 4);
    }
}
