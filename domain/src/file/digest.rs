//! The SHA-256 of one encrypted chunk, as a client declares it and as the
//! server measured the bytes it stored: 32 bytes, standard base64 on the wire.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkDigest([u8; 32]);

impl ChunkDigest {
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses standard padded base64 of exactly 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let mut out = [0_u8; 32];
        match (raw.len(), STANDARD.decode_slice(raw, &mut out)) {
            (44, Ok(32)) => Ok(Self(out)),
            _ => Err(ValidationError::new("chunk_sha256", "must be 32 bytes of base64")),
        }
    }

    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex: how blob names carry it.
    #[must_use]
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Display for ChunkDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for ChunkDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkDigest({self})")
    }
}

impl Serialize for ChunkDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChunkDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trips_through_base64_and_refuses_other_lengths() {
        let digest = ChunkDigest::from_bytes([7; 32]);
        assert_eq!(ChunkDigest::parse(&digest.to_string()).unwrap(), digest);
        assert_eq!(digest.to_hex().len(), 64);
        assert!(ChunkDigest::parse(&STANDARD.encode([1_u8; 31])).is_err());
        assert!(ChunkDigest::parse(&STANDARD.encode([1_u8; 33])).is_err());
        assert!(ChunkDigest::parse("not base64 at all, not at all, not at all!!").is_err());
    }
}
