//! The VAPID key pair (RFC 8292) this server signs Web Push requests with:
//! a P-256 key generated once and kept in `<data_dir>/vapid-private-key`
//! (0600, like the other kept secrets), so every process sharing the folder
//! signs with the key browsers subscribed with.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::p256::pkcs8::EncodePrivateKey;

/// How long a VAPID token is valid (RFC 8292 allows at most 24 h).
const TOKEN_LIFETIME_SECS: u64 = 12 * 3600;

pub struct VapidKey {
    encoding: EncodingKey,
    /// The uncompressed public point, base64url: `applicationServerKey`.
    public_key: String,
    subject: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    exp: u64,
    sub: &'a str,
}

impl VapidKey {
    /// The kept key (made on first use); `subject` is the `sub` claim.
    pub fn load(data_dir: &Path, subject: &str) -> std::io::Result<Self> {
        // A kept secret is 32 random bytes, base64url: a P-256 scalar (one
        // outside the curve's order, chance 2^-32, is refused below).
        let kept = crate::secrets::configured_or_kept(None, data_dir, "vapid-private-key", "VAPID key")?;
        let invalid =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("VAPID key: {what}"));
        let scalar = URL_SAFE_NO_PAD.decode(&kept).map_err(|_| invalid("not base64url"))?;
        let secret = SecretKey::from_slice(&scalar).map_err(|_| invalid("not a P-256 private key"))?;
        let der = secret.to_pkcs8_der().map_err(|_| invalid("cannot encode"))?;
        let public_key = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
        Ok(Self {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            public_key,
            subject: subject.to_owned(),
        })
    }

    /// The public key, base64url, for `PushManager.subscribe`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header value for a push to a resource of `origin`
    /// (`scheme://host[:port]`, the JWT's audience).
    pub fn authorization(&self, origin: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let exp = jsonwebtoken::get_current_timestamp() + TOKEN_LIFETIME_SECS;
        let claims = Claims { aud: origin, exp, sub: &self.subject };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.encoding)?;
        Ok(format!("vapid t={token}, k={}", self.public_key))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = VapidKey::load(dir.path(), "mailto:ops@example.org").unwrap();
        let again = VapidKey::load(dir.path(), "mailto:ops@example.org").unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert_eq!(URL_SAFE_NO_PAD.decode(first.public_key()).unwrap().len(), 65);
        assert!(first.authorization("https://push.example.org").unwrap().starts_with("vapid t="));
        assert_eq!(crate::secrets::mode(&dir.path().join("vapid-private-key")), 0o600);
    }
}
