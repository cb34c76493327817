//! The fake ciphertext of a load message: opaque base64 to the server, but
//! carrying the message's number and send time, so that a receiver knows
//! which message arrived and how long it took.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Marks plaintexts written by the load generator.
const TAG: &str = "ctbench";

/// Microseconds since sending started, shared by senders and receivers (one
/// process, one monotonic clock, so latencies need no clock sync).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock reading 0 until `epoch`.
    pub fn starting_at(epoch: Instant) -> Self {
        Self { epoch }
    }

    pub fn micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// Base64 of `"ctbench <message> <sent_us> "`, padded to `size` bytes.
pub fn encode(message: u64, sent_us: u64, size: usize) -> String {
    let mut plain = format!("{TAG} {message} {sent_us} ").into_bytes();
    if plain.len() < size {
        plain.resize(size, b'.');
    }
    STANDARD.encode(plain)
}

/// `(message, sent_us)`; `None` for a ciphertext the load generator did not write.
pub fn decode(ciphertext: &str) -> Option<(u64, u64)> {
    let plain = STANDARD.decode(ciphertext).ok()?;
    let mut parts = plain.split(|&b| b == b' ').map(std::str::from_utf8);
    if parts.next()?.ok()? != TAG {
        return None;
    }
    let message = parts.next()?.ok()?.parse().ok()?;
    let sent_us = parts.next()?.ok()?.parse().ok()?;
    Some((message, sent_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_gives_back_its_message_and_send_time() {
        let ciphertext = encode(7 << 32 | 42, 1_234_567, 256);
        assert_eq!(STANDARD.decode(&ciphertext).map(|p| p.len()).ok(), Some(256));
        assert_eq!(decode(&ciphertext), Some((7 << 32 | 42, 1_234_567)));
    }

    #[test]
    fn foreign_ciphertexts_are_not_counted() {
        assert_eq!(decode(&STANDARD.encode("hello world 1 2")), None);
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode(&STANDARD.encode("ctbench x 2")), None);
    }
}
