//! The gateway's own chunk URLs: `/v1/files/{id}/chunks/{index}` with an
//! expiry and an HMAC-SHA256 over the method, file, index and expiry, under a
//! server secret. Whoever holds the URL may do that one thing to that one
//! chunk until it expires, without a session (as with an S3 presigned URL).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ciphertalk_domain::FileId;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// What a URL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlMethod {
    Put,
    Get,
}

impl UrlMethod {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Put => "PUT",
            Self::Get => "GET",
        }
    }
}

/// The query a signed URL carries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedQuery {
    /// Unix seconds.
    pub expires: i64,
    pub signature: String,
}

/// Why a URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("the URL has expired")]
    Expired,
    #[error("the URL's signature is not valid for this request")]
    BadSignature,
}

pub struct GatewayUrls {
    key: Vec<u8>,
}

impl GatewayUrls {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// A path with its query, relative to the API's base URL.
    pub fn url(&self, method: UrlMethod, file: FileId, index: u32, expires: DateTime<Utc>) -> String {
        let expires = expires.timestamp();
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(method, file, index, expires).finalize().into_bytes());
        format!("/v1/files/{file}/chunks/{index}?expires={expires}&signature={signature}")
    }

    /// Whether `query` allows `method` on chunk `index` of `file` at `now`.
    pub fn verify(
        &self,
        method: UrlMethod,
        file: FileId,
        index: u32,
        query: &SignedQuery,
        now: DateTime<Utc>,
    ) -> Result<(), UrlRefusal> {
        let signature = URL_SAFE_NO_PAD.decode(&query.signature).map_err(|_| UrlRefusal::BadSignature)?;
        // Constant time: the comparison says nothing about how close a guess was.
        self.mac(method, file, index, query.expires)
            .verify_slice(&signature)
            .map_err(|_| UrlRefusal::BadSignature)?;
        if now.timestamp() >= query.expires {
            return Err(UrlRefusal::Expired);
        }
        Ok(())
    }

    fn mac(&self, method: UrlMethod, file: FileId, index: u32, expires: i64) -> Hmac<Sha256> {
        // Any key length is valid for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(
            format!("ciphertalk-chunk-url\n{}\n{file}\n{index}\n{expires}", method.as_str()).as_bytes(),
        );
        mac
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeDelta;

    use super::*;

    fn query_of(url: &str) -> SignedQuery {
        let query = url.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", value) => expires = value.parse().unwrap(),
                ("signature", value) => signature = value.to_owned(),
                _ => panic!("unexpected {pair}"),
            }
        }
        SignedQuery { expires, signature }
    }

    #[test]
    fn a_url_allows_its_method_file_and_index_until_it_expires() {
        let urls = GatewayUrls::new(b"a key of at least thirty-two bytes!".to_vec());
        let file = FileId::new_v7();
        let now = Utc::now();
        let query = query_of(&urls.url(UrlMethod::Put, file, 3, now + TimeDelta::minutes(5)));
        assert_eq!(urls.verify(UrlMethod::Put, file, 3, &query, now), Ok(()));
        assert_eq!(urls.verify(UrlMethod::Get, file, 3, &query, now), Err(UrlRefusal::BadSignature));
        assert_eq!(urls.verify(UrlMethod::Put, file, 4, &query, now), Err(UrlRefusal::BadSignature));
        assert_eq!(
            urls.verify(UrlMethod::Put, FileId::new_v7(), 3, &query, now),
            Err(UrlRefusal::BadSignature)
        );
        let later = now + TimeDelta::minutes(6);
        assert_eq!(urls.verify(UrlMethod::Put, file, 3, &query, later), Err(UrlRefusal::Expired));
        let stretched = SignedQuery { expires: query.expires + 3600, ..query };
        assert_eq!(urls.verify(UrlMethod::Put, file, 3, &stretched, later), Err(UrlRefusal::BadSignature));
        let other_key = GatewayUrls::new(b"another key of thirty-two bytes or more".to_vec());
        let query = query_of(&urls.url(UrlMethod::Get, file, 0, now + TimeDelta::minutes(5)));
        assert_eq!(other_key.verify(UrlMethod::Get, file, 0, &query, now), Err(UrlRefusal::BadSignature));
    }
}
