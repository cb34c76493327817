//! Co-watch: the payload of a `playback` signal. Members watching a media
//! file together tell each other where their player is; a late joiner asks
//! the room, and a peer answers it directly. The server checks the shape
//! (so every member can rely on it) and relays; it keeps no playback state.

use ciphertalk_domain::FileId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a `playback` signal carries, by `op`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Playback {
    /// Where the sender's player is: sent on every play, pause and seek, and
    /// to answer a request.
    State {
        /// The media file being watched (a file of the room).
        #[schema(value_type = Uuid)]
        file_id: FileId,
        state: PlayState,
        /// Seconds from the start of the media, at the moment of sending.
        position: f64,
    },
    /// Asks the room's members for their state (a late joiner); one answers
    /// with a `state` sent to the asker.
    // A struct variant: a unit one would let unknown fields through.
    Request {},
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlayState {
    Playing,
    Paused,
}

/// Positions beyond this (about 11.5 days) are not media.
const MAX_POSITION_SECS: f64 = 1_000_000.0;

impl Playback {
    /// Parses and checks a playback payload; the error says what is wrong.
    pub fn parse(payload: &serde_json::Value) -> Result<Self, String> {
        let playback = Self::deserialize(payload).map_err(|err| format!("a playback payload: {err}"))?;
        if let Self::State { position, .. } = &playback
            && !(position.is_finite() && (0.0..=MAX_POSITION_SECS).contains(position))
        {
            return Err(format!("position must be a number of seconds from 0 to {MAX_POSITION_SECS}"));
        }
        Ok(playback)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn states_and_requests_parse_and_nonsense_does_not() {
        let file = "0192a3b4-0000-7000-8000-000000000001";
        let state =
            Playback::parse(&json!({"op": "state", "file_id": file, "state": "paused", "position": 12.5}));
        assert!(matches!(state, Ok(Playback::State { state: PlayState::Paused, .. })));
        assert_eq!(Playback::parse(&json!({"op": "request"})), Ok(Playback::Request {}));
        for bad in [
            json!({"op": "state", "file_id": file, "state": "paused", "position": -1}),
            json!({"op": "state", "file_id": file, "state": "rewinding", "position": 1}),
            json!({"op": "state", "file_id": "nope", "state": "paused", "position": 1}),
            json!({"op": "state", "file_id": file, "state": "paused"}),
            json!({"op": "request", "extra": 1}),
            json!({"op": "jump"}),
            json!("state"),
        ] {
            assert!(Playback::parse(&bad).is_err(), "{bad} accepted");
        }
    }
}
