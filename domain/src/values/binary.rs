//! Opaque binary values carried as standard base64 with padding: message
//! ciphertext, public keys, signatures, wrapped file keys, franking
//! commitments. The server checks the encoding and the size, never the bytes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::string_value;
use crate::error::ValidationError;

/// The largest decoded size of a [`Base64Bytes`]: keys, signatures and wrapped
/// keys are tens to hundreds of bytes; the cap stops a client from parking
/// megabytes in a user's key directory.
pub const MAX_BASE64_BYTES: usize = 4096;

string_value!(
    /// An end-to-end encrypted payload. The server stores and routes it and
    /// never inspects it; size limits are the caller's (configurable). Its
    /// `Debug` form shows only the length, so ciphertext never reaches logs.
    Ciphertext,
    validate_ciphertext
);

string_value!(
    /// Public keys, signatures, wrapped file keys, reporting tags: non-empty
    /// standard base64 of at most [`MAX_BASE64_BYTES`] decoded bytes.
    #[derive(Debug)]
    Base64Bytes,
    validate_base64_bytes
);

string_value!(
    /// A franking commitment: base64 of exactly 32 bytes (HMAC-SHA256 of the
    /// plaintext under a key that only the recipients can read).
    #[derive(Debug)]
    Commitment,
    validate_commitment
);

/// Decodes standard padded base64, returning the decoded length. Decoding is
/// the only check that agrees exactly with what clients will decode.
fn decoded_len_of(field: &'static str, raw: &str) -> Result<usize, ValidationError> {
    let bytes = STANDARD
        .decode(raw)
        .map_err(|_| ValidationError::new(field, "must be standard base64 with padding"))?;
    if bytes.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    Ok(bytes.len())
}

/// The decoded length of already-validated padded base64, without decoding.
fn padded_decoded_len(encoded: &str) -> usize {
    let padding = encoded.bytes().rev().take_while(|&b| b == b'=').count();
    (encoded.len() / 4 * 3).saturating_sub(padding)
}

fn validate_ciphertext(raw: &str) -> Result<String, ValidationError> {
    decoded_len_of("ciphertext", raw)?;
    Ok(raw.to_owned())
}

fn validate_base64_bytes(raw: &str) -> Result<String, ValidationError> {
    // Reject oversized input before paying for the decode.
    if raw.len() > MAX_BASE64_BYTES.div_ceil(3) * 4 {
        return Err(ValidationError::new("base64", "is too long"));
    }
    if decoded_len_of("base64", raw)? > MAX_BASE64_BYTES {
        return Err(ValidationError::new("base64", "is too long"));
    }
    Ok(raw.to_owned())
}

fn validate_commitment(raw: &str) -> Result<String, ValidationError> {
    if raw.len() != 44 || decoded_len_of("commitment", raw)? != 32 {
        return Err(ValidationError::new("commitment", "must be 32 bytes of base64"));
    }
    Ok(raw.to_owned())
}

impl fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ciphertext(<{} bytes>)", self.decoded_len())
    }
}

impl Ciphertext {
    /// How many bytes the ciphertext decodes to (what size limits count).
    #[must_use]
    pub fn decoded_len(&self) -> usize {
        padded_decoded_len(&self.0)
    }
}

impl Base64Bytes {
    /// Encodes raw bytes. Fails only when empty or over [`MAX_BASE64_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ValidationError> {
        Self::parse(&STANDARD.encode(bytes))
    }

    /// How many bytes the value decodes to.
    #[must_use]
    pub fn decoded_len(&self) -> usize {
        padded_decoded_len(&self.0)
    }

    /// The decoded bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        // Validated on construction, so decoding cannot fail; an empty vector
        // would only ever signal a broken invariant, never panic.
        STANDARD.decode(&self.0).unwrap_or_default()
    }
}

impl Commitment {
    /// The 32 committed bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0_u8; 32];
        // 44 characters of valid base64 decode to exactly 32 bytes.
        let _ = STANDARD.decode_slice(&self.0, &mut out);
        out
    }

    /// Encodes 32 bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(STANDARD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ciphertext_requires_padded_standard_base64() {
        assert_eq!(Ciphertext::parse("aGVsbG8=").unwrap().decoded_len(), 5);
        for bad in ["", "aGVsbG8", "aGVsbG8_", "aGV sbG8=", "====", "aGVsbG9="] {
            assert!(Ciphertext::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ciphertext_debug_hides_the_payload() {
        let ciphertext = Ciphertext::parse("c2VjcmV0").unwrap();
        assert_eq!(format!("{ciphertext:?}"), "Ciphertext(<6 bytes>)");
    }

    #[test]
    fn commitment_is_exactly_32_bytes() {
        let commitment = Commitment::from_bytes([7; 32]);
        assert_eq!(Commitment::parse(commitment.as_str()).unwrap().to_bytes(), [7; 32]);
        assert!(Commitment::parse(&STANDARD.encode([1_u8; 31])).is_err());
        assert!(Commitment::parse(&STANDARD.encode([1_u8; 33])).is_err());
    }

    #[test]
    fn base64_bytes_is_capped() {
        assert!(Base64Bytes::from_bytes(&[0; MAX_BASE64_BYTES]).is_ok());
        assert!(Base64Bytes::from_bytes(&[0; MAX_BASE64_BYTES + 1]).is_err());
        assert!(Base64Bytes::from_bytes(&[]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn decoded_len_matches_the_bytes(bytes in proptest::collection::vec(any::<u8>(), 1..300)) {
            let encoded = STANDARD.encode(&bytes);
            prop_assert_eq!(Ciphertext::parse(&encoded).unwrap().decoded_len(), bytes.len());
            let value = Base64Bytes::parse(&encoded).unwrap();
            prop_assert_eq!(value.decoded_len(), bytes.len());
            prop_assert_eq!(value.to_bytes(), bytes);
        }
    }
}
