//! The server's franking key: HMAC-SHA256 reporting tags that bind a client's
//! commitment to the message the server accepted (API.md "Messages").
//!
//! The key comes from configuration or is generated once into
//! `<data_dir>/franking-key`, so tags made before a restart still verify and
//! every process sharing the data dir agrees. Its id is derived from the key,
//! so a new key gets a new id and old tags keep naming the key they were made with.

use std::path::Path;

use ciphertalk_domain::room::Franker;
use ciphertalk_domain::values::{Base64Bytes, FrankingKeyId};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

const KEY_FILE: &str = "franking-key";

/// The secret key and the id tags name it by. Never printed.
pub struct FrankingKey {
    id: FrankingKeyId,
    secret: Vec<u8>,
}

impl std::fmt::Debug for FrankingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrankingKey").field("id", &self.id.as_str()).finish_non_exhaustive()
    }
}

impl FrankingKey {
    pub fn new(secret: &[u8]) -> Self {
        let digest = hmac_sha256(secret, b"ciphertalk/franking-key-id");
        let id = format!("fk-{}", hex(&digest[..6]));
        // Twelve hex digits behind a prefix always parse as a key id.
        let id = FrankingKeyId::parse(&id).unwrap_or_else(|_| unreachable!("valid key id"));
        Self { id, secret: secret.to_vec() }
    }

    /// The configured key, or the one kept in `<data_dir>/franking-key`
    /// (256 random bits, mode 0600, created on first start).
    pub fn load(configured: Option<&Secret>, data_dir: &Path) -> std::io::Result<Self> {
        crate::secrets::configured_or_kept(configured, data_dir, KEY_FILE, "franking key")
            .map(|key| Self::new(&key))
    }

    pub fn id(&self) -> &FrankingKeyId {
        &self.id
    }

    /// The raw tag over `encoded` (what a report verification recomputes).
    pub fn tag_bytes(&self, encoded: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.secret, encoded)
    }

    /// Whether `tag` is this key's tag over `encoded`, compared in constant time.
    pub fn verify(&self, encoded: &[u8], tag: &[u8]) -> bool {
        verify_hmac(&self.secret, encoded, tag)
    }
}

impl Franker for FrankingKey {
    fn key_id(&self) -> &FrankingKeyId {
        &self.id
    }

    fn tag(&self, encoded: &[u8]) -> Base64Bytes {
        // 32 bytes are well within Base64Bytes' bounds.
        Base64Bytes::from_bytes(&self.tag_bytes(encoded)).unwrap_or_else(|_| unreachable!("32-byte tag"))
    }
}

/// The current franking key and the ones before it: a report's tag is
/// verified under the key its message names, so rotation breaks no report.
#[derive(Debug)]
pub struct FrankingKeys {
    current: std::sync::Arc<FrankingKey>,
    previous: Vec<FrankingKey>,
}

impl FrankingKeys {
    pub fn new(current: std::sync::Arc<FrankingKey>, previous: &[&[u8]]) -> Self {
        Self { current, previous: previous.iter().map(|secret| FrankingKey::new(secret)).collect() }
    }

    /// The key a tag names by `id`, current or previous.
    pub fn by_id(&self, id: &FrankingKeyId) -> Option<&FrankingKey> {
        std::iter::once(&*self.current).chain(&self.previous).find(|key| key.id() == id)
    }
}

/// Whether `expected` is HMAC-SHA256 of `data` under `key` (a client's
/// commitment over its plaintext under its franking key), in constant time.
pub fn verify_hmac(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(data);
    mac.verify_slice(expected).is_ok()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tags_are_hmac_sha256_and_the_id_follows_the_key() {
        let key = FrankingKey::new(b"key");
        // RFC 4231-style check against a known HMAC-SHA256 value.
        let expected = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert_eq!(hex(&key.tag_bytes(b"The quick brown fox jumps over the lazy dog")), expected);
        assert_eq!(key.id(), FrankingKey::new(b"key").id());
        assert_ne!(key.id(), FrankingKey::new(b"other").id());
        assert!(!format!("{key:?}").contains("secret"));
    }

    #[test]
    fn a_rotated_key_still_finds_the_tags_of_the_old_one() {
        let old = FrankingKey::new(b"old key, at least thirty-two bytes!");
        let keys = FrankingKeys::new(
            std::sync::Arc::new(FrankingKey::new(b"new key")),
            &[b"old key, at least thirty-two bytes!"],
        );
        let found = keys.by_id(old.id()).unwrap();
        assert_eq!(found.tag_bytes(b"m"), old.tag_bytes(b"m"));
        assert!(keys.by_id(FrankingKey::new(b"unknown").id()).is_none());
    }

    #[test]
    fn a_generated_key_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = FrankingKey::load(None, dir.path()).unwrap();
        let second = FrankingKey::load(None, dir.path()).unwrap();
        assert_eq!(first.id(), second.id());
        assert_eq!(first.tag_bytes(b"x"), second.tag_bytes(b"x"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
