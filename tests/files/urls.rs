//! The chunk URLs: refused expired, tampered, for another chunk or method,
//! with more bytes than the chunk has; idempotent with the same bytes, 409
//! with others; `Range` on downloads.

use std::time::Duration;

use ciphertalk_gateway::config::StorageBackend;

use super::*;
use crate::support::app::{assert_error, spawn_app};

fn with_index(url: &str, index: u32) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let (base, _) = path.rsplit_once('/').unwrap();
    format!("{base}/{index}?{query}")
}

on_each_store! {
async fn tampered_urls_and_other_chunks_are_refused(backend) {
    let app = spawn_app().files_on(backend).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    let tampered = urls[0].replace("signature=", "signature=A");
    let (status, body) = put_chunk(&app, &tampered, bytes(0, 100)).await;
    assert_error(status, &body, 403, "invalid_signature");
    let stretched = urls[0].replace("expires=", "expires=9");
    let (status, body) = put_chunk(&app, &stretched, bytes(0, 100)).await;
    assert_error(status, &body, 403, "invalid_signature");
    let (status, body) = put_chunk(&app, &with_index(&urls[0], 1), bytes(0, 100)).await;
    assert_error(status, &body, 403, "invalid_signature");
    // An upload URL is no download URL.
    let (status, _, _) = get_chunk(&app, &urls[0], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // More bytes than the chunk has: refused, nothing stored.
    let (status, body) = put_chunk(&app, &urls[0], bytes(0, 101)).await;
    assert_error(status, &body, 413, "too_large");
    let (status, body) = put_chunk(&app, &urls[2], bytes(0, 49)).await;
    assert_error(status, &body, 422, "invalid_value");
    let stored = blobs_of(&app, &file).await;
    assert!(stored.is_empty(), "{stored:?}");
    app.stop().await;
}
}

on_each_store! {
async fn expired_urls_are_refused(backend) {
    let app = spawn_app().files_on(backend).config(|config| config.files.url_lifetime_secs = 4).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    assert_eq!(put_chunk(&app, &urls[0], bytes(0, 100)).await.0, StatusCode::OK);
    let download = download_url(&app, &alice, &file, 0).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let (status, body) = put_chunk(&app, &urls[1], bytes(1, 100)).await;
    assert_error(status, &body, 403, "url_expired");
    let (status, _, _) = get_chunk(&app, &download, None).await;
    // The gateway answers an expired URL 403; Garage, for its presigned URLs, 400.
    let refused = if backend == StorageBackend::S3 { StatusCode::BAD_REQUEST } else { StatusCode::FORBIDDEN };
    assert_eq!(status, refused);
    // Renewed URLs name only the missing chunks, and work.
    let (status, body) = app.post(&alice, &format!("/v1/files/{file}/upload-urls"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let indexes: Vec<u64> =
        body["chunks"].as_array().unwrap().iter().map(|c| c["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [1, 2]);
    assert_eq!(put_chunk(&app, &upload_urls(&body)[0], bytes(1, 100)).await.0, StatusCode::OK);
    app.stop().await;
}
}

on_each_store! {
async fn a_chunk_again_is_the_same_answer_with_the_same_bytes_and_409_with_others(backend) {
    let app = spawn_app().files_on(backend).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    let first = put_chunk(&app, &urls[0], bytes(0, 100)).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(put_chunk(&app, &urls[0], bytes(0, 100)).await, first);
    let (status, body) = put_chunk(&app, &urls[0], bytes(9, 100)).await;
    assert_error(status, &body, 409, "conflict");
    let blobs = blobs_of(&app, &file).await;
    assert_eq!(blobs.len(), 1, "only the first bytes are kept: {blobs:?}");
    assert_eq!(blob_bytes(&app, &blobs[0]).await, bytes(0, 100));
    app.stop().await;
}
}

on_each_store! {
async fn a_declared_digest_refuses_other_bytes_and_stores_nothing(backend) {
    let app = spawn_app().files_on(backend).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let digests: Vec<String> = (0..3).map(|n| sha256_b64(&bytes(n, if n == 2 { 50 } else { 100 }))).collect();
    let (status, body) =
        register(&app, &alice, &room, 250, 100, &[&alice], json!({"chunk_sha256": digests})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (file, urls) = (body["file_id"].as_str().unwrap().to_owned(), upload_urls(&body));
    let (status, body) = put_chunk(&app, &urls[1], bytes(7, 100)).await;
    assert_error(status, &body, 422, "invalid_value");
    let stored = blobs_of(&app, &file).await;
    assert!(stored.is_empty(), "nothing stored: {stored:?}");
    let (_, shown) = app.get(&alice, &format!("/v1/files/{file}")).await;
    assert_eq!(shown["chunks"], json!([]));
    assert_eq!(put_chunk(&app, &urls[1], bytes(1, 100)).await.0, StatusCode::OK);
    app.stop().await;
}
}

on_each_store! {
async fn downloads_answer_range_requests(backend) {
    let app = spawn_app().files_on(backend).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    let chunk = bytes(3, 100);
    assert_eq!(put_chunk(&app, &urls[0], chunk.clone()).await.0, StatusCode::OK);
    let url = download_url(&app, &alice, &file, 0).await;
    let (status, headers, body) = get_chunk(&app, &url, Some("bytes=10-19")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, chunk[10..20]);
    assert_eq!(headers["content-range"], "bytes 10-19/100");
    let (status, _, body) = get_chunk(&app, &url, Some("bytes=-5")).await;
    assert_eq!((status, body), (StatusCode::PARTIAL_CONTENT, chunk[95..].to_vec()));
    let (status, _, body) = get_chunk(&app, &url, Some("bytes=90-")).await;
    assert_eq!((status, body), (StatusCode::PARTIAL_CONTENT, chunk[90..].to_vec()));
    let (status, headers, body) = get_chunk(&app, &url, None).await;
    assert_eq!((status, body), (StatusCode::OK, chunk));
    assert_eq!(headers["accept-ranges"], "bytes");
    let (status, _, _) = get_chunk(&app, &url, Some("bytes=100-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    app.stop().await;
}
}
