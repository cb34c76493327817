//! Presigned URLs as a client uses them: a PUT and a GET straight to Garage,
//! refused after expiry, with a tampered signature, or with other bytes than
//! the signed length and checksum.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciphertalk_gateway::storage::s3::s3_signer;
use object_store::ObjectStoreExt as _;
use object_store::signer::{SignedUrlOptions, Signer as _};
use reqwest::header::{CONTENT_LENGTH, HeaderName, HeaderValue, RANGE};
use reqwest::{Method, StatusCode};
use sha2::Digest as _;

use super::{key, pattern};
use crate::support::garage::TestGarage;

const FIVE_MINUTES: Duration = Duration::from_secs(300);

#[tokio::test]
async fn a_presigned_put_uploads_and_a_presigned_get_downloads_whole_or_by_range() {
    let garage = TestGarage::start().await;
    let signer = s3_signer(&garage.s3.settings()).unwrap();
    let http = reqwest::Client::new();
    let blob = pattern(1024 * 1024);
    let path = key("0");

    let put = signer.signed_url(Method::PUT, &path, FIVE_MINUTES).await.unwrap();
    let answer = http.put(put).body(blob.clone()).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "{}", answer.text().await.unwrap());
    assert_eq!(garage.store().head(&path).await.unwrap().size, blob.len() as u64, "the store has it");

    let get = signer.signed_url(Method::GET, &path, FIVE_MINUTES).await.unwrap();
    let whole = http.get(get.clone()).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.bytes().await.unwrap(), blob);
    let part = http.get(get).header(RANGE, "bytes=100-199").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), blob.slice(100..200));
}

#[tokio::test]
async fn an_expired_or_tampered_url_is_refused() {
    let garage = TestGarage::start().await;
    let signer = s3_signer(&garage.s3.settings()).unwrap();
    let http = reqwest::Client::new();
    let path = key("0");

    let mut tampered = signer.signed_url(Method::PUT, &path, FIVE_MINUTES).await.unwrap();
    let query: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(name, value)| {
            let value =
                if name == "X-Amz-Signature" { flip_last_hex_digit(&value) } else { value.into_owned() };
            (name.into_owned(), value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(query);
    let answer = http.put(tampered).body("x").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "a tampered signature");

    let other_key = signer.signed_url(Method::PUT, &path, FIVE_MINUTES).await.unwrap();
    let elsewhere = other_key.as_str().replacen(path.as_ref(), key("1").as_ref(), 1);
    let answer = http.put(elsewhere).body("x").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "a URL for another object");

    let short = signer.signed_url(Method::PUT, &path, Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let answer = http.put(short).body("x").send().await.unwrap();
    // Garage answers an expired signature 400 (AWS: 403).
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "an expired URL");
    assert!(garage.store().head(&path).await.is_err(), "nothing was stored");
}

/// What a presigned PUT can bind beyond the key: the SHA-256 of the bytes
/// (`x-amz-checksum-sha256`), not their length (object_store's signer leaves
/// `Content-Length` unsigned). Why presigned uploads need a declared digest
/// and a confirmation of the size (docs/operations.md, "Object storage").
#[tokio::test]
async fn a_url_signed_for_a_checksum_takes_only_those_bytes_but_no_length_can_be_signed() {
    let garage = TestGarage::start().await;
    let signer = s3_signer(&garage.s3.settings()).unwrap();
    let http = reqwest::Client::new();
    let chunk = pattern(64 * 1024);
    let path = key("0");
    let length = SignedUrlOptions::new().with_signed_header(CONTENT_LENGTH, HeaderValue::from(chunk.len()));
    let refused = signer.signed_url_opts(Method::PUT, &path, FIVE_MINUTES, &length).await;
    assert!(refused.is_err(), "a signed Content-Length: {refused:?}");

    let checksum = STANDARD.encode(sha2::Sha256::digest(&chunk));
    let checksum_header = HeaderName::from_static("x-amz-checksum-sha256");
    // The signer keeps `content-length` to itself; the signed checksum binds
    // the bytes, and so their length.
    let options = SignedUrlOptions::new()
        .with_signed_header(checksum_header.clone(), HeaderValue::from_str(&checksum).unwrap());
    let url = signer.signed_url_opts(Method::PUT, &path, FIVE_MINUTES, &options).await.unwrap();
    let put = |body: Vec<u8>| http.put(url.clone()).header(&checksum_header, &checksum).body(body).send();

    let longer = put([&chunk[..], b"!"].concat()).await.unwrap();
    assert!(longer.status().is_client_error(), "more bytes than signed: {}", longer.status());
    let mut altered = chunk.to_vec();
    altered[7] ^= 1;
    let answer = put(altered).await.unwrap();
    let status = answer.status();
    assert!(
        status.is_client_error(),
        "other bytes of the signed length: {status} {}",
        answer.text().await.unwrap()
    );
    assert!(garage.store().head(&path).await.is_err(), "nothing was stored");

    let answer = put(chunk.to_vec()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "{}", answer.text().await.unwrap());
    assert_eq!(garage.store().get(&path).await.unwrap().bytes().await.unwrap(), chunk);
}

fn flip_last_hex_digit(hex: &str) -> String {
    let (head, last) = hex.split_at(hex.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}
