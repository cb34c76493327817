//! WebSocket frames of API.md ("WebSocket"): what clients send, and how the
//! server's frames are written.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::{DeviceId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::cursor::Cursor;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Everything up to `cursor` has been received.
    Ack {
        cursor: Cursor,
    },
    /// The user started or stopped typing in a room.
    Typing {
        room_id: RoomId,
        typing: bool,
    },
    /// Call signalling for one member of a shared room (one of their devices
    /// with `device_id`), or playback sync (without `to`: for every member).
    // A `Value`, not a `RawValue`: tagged enums buffer their content, which raw values cannot pass through.
    Signal {
        #[serde(default)]
        to: Option<UserId>,
        #[serde(default)]
        device_id: Option<DeviceId>,
        room_id: RoomId,
        kind: SignalKind,
        payload: serde_json::Value,
    },
    /// Asks for a user's presence (answered as their privacy setting allows).
    Presence {
        user_id: UserId,
    },
    Ping,
}

/// What a `signal` frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Offer,
    Answer,
    Candidate,
    Playback,
}

impl SignalKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Answer => "answer",
            Self::Candidate => "candidate",
            Self::Playback => "playback",
        }
    }
}

/// A frame from the server (event frames are written by [`event`]).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Ready {
        cursor: Cursor,
    },
    Acked {
        cursor: Cursor,
    },
    Typing {
        room_id: RoomId,
        user_id: UserId,
        typing: bool,
    },
    Presence {
        user_id: UserId,
        online: bool,
        last_seen: Option<DateTime<Utc>>,
    },
    Signal {
        from: UserId,
        /// The sender's device, to answer it alone.
        from_device: DeviceId,
        room_id: RoomId,
        kind: SignalKind,
        payload: &'a serde_json::Value,
    },
    Error {
        code: &'a str,
        message: &'a str,
    },
    Pong,
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct EventFrame<'a> {
    r#type: &'static str,
    cursor: Cursor,
    event: &'a RawValue,
}

/// `{"type":"event","cursor":"<c>","event":{...}}`; `None` when the stored
/// event is not JSON (never written by the delivery projection).
pub fn event(cursor: Cursor, event: &Bytes) -> Option<String> {
    let event: &RawValue = serde_json::from_slice(event).ok()?;
    serde_json::to_string(&EventFrame { r#type: "event", cursor, event }).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn client_frames_parse_as_documented() {
        let ack: ClientFrame = serde_json::from_str(r#"{"type":"ack","cursor":"7"}"#).unwrap();
        assert!(matches!(ack, ClientFrame::Ack { cursor: Cursor(7) }));
        assert!(matches!(
            serde_json::from_str::<ClientFrame>(r#"{"type":"ping"}"#).unwrap(),
            ClientFrame::Ping
        ));
        let signal: ClientFrame = serde_json::from_str(
            r#"{"type":"signal","to":"0192a3b4-0000-7000-8000-000000000001",
                "room_id":"0192a3b4-0000-7000-8000-000000000002","kind":"offer","payload":{"sdp":"x"}}"#,
        )
        .unwrap();
        assert!(matches!(signal, ClientFrame::Signal { kind: SignalKind::Offer, .. }));
        for bad in [
            r#"{"type":"ack"}"#,
            r#"{"type":"nope"}"#,
            "[]",
            r#"{"type":"typing","room_id":"x","typing":true}"#,
        ] {
            assert!(serde_json::from_str::<ClientFrame>(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn event_frames_embed_the_stored_event() {
        let text = event(Cursor(3), &Bytes::from_static(br#"{"type":"message.sent","seq":1}"#)).unwrap();
        assert_eq!(text, r#"{"type":"event","cursor":"3","event":{"type":"message.sent","seq":1}}"#);
        assert!(event(Cursor(3), &Bytes::from_static(b"not json")).is_none());
    }
}
