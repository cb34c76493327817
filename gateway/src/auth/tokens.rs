//! Access tokens: short-lived HS256 JWTs. The algorithm is pinned (a token
//! whose header names `none` or any other algorithm is refused before its
//! signature is looked at), and `exp`, `iat`, `sub` and `jti` must all be
//! present and valid. A token names its device (`dev`); one minted before
//! devices names none and speaks for the user's first device.

use std::path::Path;
use std::time::Duration;

use ciphertalk_domain::{DeviceId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Secret;

/// Clock skew tolerated between gateway processes, in seconds.
const LEEWAY_SECS: u64 = 5;

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    /// Unique per token (for audit trails; access tokens are not revocable).
    pub jti: Uuid,
    /// Instance admin when the token was issued.
    #[serde(default)]
    pub adm: bool,
    /// The session (refresh-token family) it was issued to: its WebSockets
    /// close when the session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// The device the session belongs to; absent = the user's first device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<DeviceId>,
}

/// Who a valid access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user_id: UserId,
    pub is_admin: bool,
    pub session: Option<Uuid>,
    pub device: DeviceId,
    /// Unix seconds.
    pub expires_at: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
    #[error("cannot sign the access token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// Issues and verifies access tokens with one HS256 key.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TokenService {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// Lifetime of the tokens this service issues.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        user_id: UserId,
        is_admin: bool,
        session: Option<Uuid>,
        device: DeviceId,
    ) -> Result<String, TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            jti: Uuid::new_v4(),
            adm: is_admin,
            sid: session,
            dev: Some(device),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(TokenError::Sign)
    }

    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|err| {
                match err.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let claims = data.claims;
        // The library checks exp; iat (not in the future) and sub (a user id) are ours.
        if claims.iat > jsonwebtoken::get_current_timestamp() + LEEWAY_SECS || claims.iat > claims.exp {
            return Err(TokenError::Invalid);
        }
        let user_id = claims.sub.parse::<UserId>().map_err(|_| TokenError::Invalid)?;
        let device = claims.dev.unwrap_or_else(|| DeviceId::first_of(user_id));
        Ok(Verified { user_id, is_admin: claims.adm, session: claims.sid, device, expires_at: claims.exp })
    }
}

/// The configured key, or the one kept in `<data_dir>/jwt-secret` (created
/// with 256 random bits and mode 0600 on first start), so that tokens survive
/// restarts and all processes sharing the data dir agree.
pub fn signing_key(configured: Option<&Secret>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    crate::secrets::configured_or_kept(configured, data_dir, "jwt-secret", "signing key")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn service() -> TokenService {
        TokenService::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(900))
    }

    fn forge(header_json: &str, claims: &serde_json::Value, signature: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header_json),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature
        )
    }

    #[test]
    fn a_token_round_trips() {
        let user = UserId::new_v7();
        let session = Some(Uuid::new_v4());
        let device = DeviceId::new_v7();
        let token = service().issue(user, true, session, device).unwrap();
        let verified = service().verify(&token).unwrap();
        assert_eq!(
            (verified.user_id, verified.is_admin, verified.session, verified.device),
            (user, true, session, device)
        );
    }

    #[test]
    fn a_token_without_a_device_speaks_for_the_first_device() {
        let user = UserId::new_v7();
        let now = jsonwebtoken::get_current_timestamp();
        let claims =
            serde_json::json!({"sub": user.to_string(), "iat": now, "exp": now + 60, "jti": Uuid::new_v4()});
        let key = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert_eq!(service().verify(&token).unwrap().device, DeviceId::first_of(user));
    }

    #[test]
    fn alg_none_other_algorithms_and_other_keys_are_refused() {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({"sub": UserId::new_v7().to_string(), "iat": now, "exp": now + 60,
            "jti": Uuid::new_v4(), "adm": true});
        let none = forge(r#"{"alg":"none","typ":"JWT"}"#, &claims, "");
        assert!(matches!(service().verify(&none), Err(TokenError::Invalid)));
        let other = TokenService::new(b"another key that is 32 bytes lo", Duration::from_secs(60));
        let user = UserId::new_v7();
        let token = other.issue(user, true, None, DeviceId::first_of(user)).unwrap();
        assert!(matches!(service().verify(&token), Err(TokenError::Invalid)));
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(matches!(service().verify(&hs512), Err(TokenError::Invalid)));
    }

    #[test]
    fn expired_future_and_incomplete_tokens_are_refused() {
        let key = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let now = jsonwebtoken::get_current_timestamp();
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
        };
        let sub = UserId::new_v7().to_string();
        let expired =
            sign(serde_json::json!({"sub": sub, "iat": now - 1000, "exp": now - 100, "jti": Uuid::new_v4()}));
        assert!(matches!(service().verify(&expired), Err(TokenError::Expired)));
        let future =
            sign(serde_json::json!({"sub": sub, "iat": now + 600, "exp": now + 900, "jti": Uuid::new_v4()}));
        assert!(matches!(service().verify(&future), Err(TokenError::Invalid)));
        let no_jti = sign(serde_json::json!({"sub": sub, "iat": now, "exp": now + 60}));
        assert!(matches!(service().verify(&no_jti), Err(TokenError::Invalid)));
        let bad_sub =
            sign(serde_json::json!({"sub": "root", "iat": now, "exp": now + 60, "jti": Uuid::new_v4()}));
        assert!(matches!(service().verify(&bad_sub), Err(TokenError::Invalid)));
        assert!(matches!(service().verify("not.a.jwt"), Err(TokenError::Invalid)));
    }

    #[test]
    fn the_generated_key_is_kept_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = signing_key(None, dir.path()).unwrap();
        let second = signing_key(None, dir.path()).unwrap();
        assert_eq!(first, second);
        assert!(first.len() >= 43);
        let mode = std::fs::metadata(dir.path().join("jwt-secret")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let configured = Secret::new("x".repeat(40));
        assert_eq!(signing_key(Some(&configured), dir.path()).unwrap(), "x".repeat(40).into_bytes());
    }
}
