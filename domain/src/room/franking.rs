//! The bytes a message's reporting tag is computed over.
//!
//! The server binds a client's franking commitment to the message by an
//! HMAC-SHA256 over this encoding (the HMAC itself, with its secret key, is
//! the write side's job). Send path and report verification must build the
//! very same bytes, so the encoding lives here, in one place.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::ids::{MessageId, RoomId, UserId};
use crate::values::{Commitment, FrankingKeyId};

/// Domain separation label, first field of the encoding.
pub const FRANKING_LABEL: &str = "ciphertalk/frank/v1";

/// Everything the reporting tag binds together.
#[derive(Debug, Clone, Copy)]
pub struct FrankingInput<'a> {
    pub message_id: MessageId,
    pub room_id: RoomId,
    pub sender_id: UserId,
    pub seq: u64,
    pub sent_at: DateTime<Utc>,
    pub franking_key_id: &'a FrankingKeyId,
    pub commitment: &'a Commitment,
}

impl FrankingInput<'_> {
    /// The length-prefixed encoding: each field as a 4-byte big-endian
    /// length followed by its bytes. Ids are their 16 raw bytes, `seq` 8
    /// big-endian bytes, `sent_at` RFC 3339 in UTC with microseconds (what
    /// Postgres keeps, so a tag recomputed from a read model still matches),
    /// the commitment its 32 raw bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let sent_at = self.sent_at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let (message_id, room_id, sender_id) =
            (self.message_id.as_uuid(), self.room_id.as_uuid(), self.sender_id.as_uuid());
        let fields: [&[u8]; 8] = [
            FRANKING_LABEL.as_bytes(),
            message_id.as_bytes(),
            room_id.as_bytes(),
            sender_id.as_bytes(),
            &self.seq.to_be_bytes(),
            sent_at.as_bytes(),
            self.franking_key_id.as_str().as_bytes(),
            &self.commitment.to_bytes(),
        ];
        let mut out = Vec::with_capacity(fields.iter().map(|field| field.len() + 4).sum());
        for field in fields {
            // Every field is far below 4 GiB; saturate rather than wrap if that ever changes.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn encoding_is_length_prefixed_and_stable() {
        let key_id = FrankingKeyId::parse("k1").unwrap();
        let commitment = Commitment::from_bytes([9; 32]);
        let input = FrankingInput {
            message_id: MessageId::from_uuid(Uuid::from_u128(1)),
            room_id: RoomId::from_uuid(Uuid::from_u128(2)),
            sender_id: UserId::from_uuid(Uuid::from_u128(3)),
            seq: 42,
            sent_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            franking_key_id: &key_id,
            commitment: &commitment,
        };
        let bytes = input.encode();
        assert_eq!(&bytes[..4], &19_u32.to_be_bytes());
        assert_eq!(&bytes[4..23], FRANKING_LABEL.as_bytes());
        let sent_at = b"2026-01-02T03:04:05.000000Z";
        assert!(bytes.windows(sent_at.len()).any(|w| w == sent_at));
        assert_eq!(bytes.len(), 8 * 4 + 19 + 16 * 3 + 8 + sent_at.len() + 2 + 32);
        assert_eq!(&bytes[bytes.len() - 32..], &[9; 32]);
        // A different seq gives different bytes.
        assert_ne!(FrankingInput { seq: 43, ..input }.encode(), bytes);
    }
}
