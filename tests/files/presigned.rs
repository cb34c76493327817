//! `files.s3_uploads = "presigned"`: chunks PUT straight to a real Garage
//! with URLs signed for their declared SHA-256, then confirmed to the
//! gateway. The store refuses an expired or tampered URL and other bytes;
//! the confirmation refuses a chunk not there (yet), of the wrong size or
//! with another stored checksum (deleting it), answers a stored chunk as the first time, and is the
//! uploader's alone (404 for non-members).

use std::time::Duration;

use ciphertalk_gateway::config::{Config, S3Uploads, StorageBackend};

use super::*;
use crate::support::app::{assert_error, spawn_app};

/// An app whose chunks go to its Garage with presigned PUTs.
pub(crate) async fn presigned_app() -> TestApp {
    presigned_app_with(|_| {}).await
}

async fn presigned_app_with(change: impl Fn(&mut Config) + Send + Sync + 'static) -> TestApp {
    spawn_app()
        .files_on(StorageBackend::S3)
        .config(move |config| {
            config.files.s3_uploads = S3Uploads::Presigned;
            change(config);
        })
        .await
}

/// Registers a 250-byte file in 100-byte chunks whose declared digests are
/// those of `chunks`: its id and upload answer.
async fn registered_as(app: &TestApp, who: &Person, room: &str, chunks: &[Vec<u8>]) -> (String, Value) {
    let digests: Vec<String> = chunks.iter().map(|chunk| sha256_b64(chunk)).collect();
    let (status, body) = register(app, who, room, 250, 100, &[who], json!({"chunk_sha256": digests})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["file_id"].as_str().unwrap().to_owned(), body)
}

fn three_chunks() -> Vec<Vec<u8>> {
    vec![bytes(0, 100), bytes(1, 100), bytes(2, 50)]
}

/// A PUT of `body` to chunk `target`'s URL with its headers, no confirmation.
async fn put_only(app: &TestApp, target: &Value, url: &str, body: Vec<u8>) -> StatusCode {
    let mut request = app.http.put(url);
    for (name, value) in target["upload_headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    request.body(body).send().await.unwrap().status()
}

async fn stored_chunks(app: &TestApp, who: &Person, file: &str) -> Value {
    let (status, shown) = app.get(who, &format!("/v1/files/{file}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    shown["chunks"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_presigned_puts_signed_for_the_declared_digest_which_is_required() {
    let app = presigned_app().await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (status, body) = register(&app, &alice, &room, 250, 100, &[&alice], json!({})).await;
    assert_error(status, &body, 422, "invalid_value");
    assert_eq!(body["error"]["details"]["field"], "chunk_sha256", "{body}");

    let chunks = three_chunks();
    let (file, body) = registered_as(&app, &alice, &room, &chunks).await;
    for (index, target) in body["chunks"].as_array().unwrap().iter().enumerate() {
        let url = target["upload_url"].as_str().unwrap();
        assert!(url.starts_with("http://127.0.0.1:") && url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains(&file), "the chunk's object: {url}");
        assert_eq!(target["upload_headers"], json!({"x-amz-checksum-sha256": sha256_b64(&chunks[index])}));
        assert_eq!(target["confirm_url"], format!("/v1/files/{file}/chunks/{index}"));
    }
    // A stored chunk is confirmed; a second confirmation answers as the first.
    let target = &body["chunks"][1];
    let (status, receipt) = send_chunk(&app, &alice, target, chunks[1].clone()).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt, json!({"file_id": file, "index": 1, "size": 100, "sha256": sha256_b64(&chunks[1])}));
    let confirm = target["confirm_url"].as_str().unwrap();
    assert_eq!(app.post(&alice, confirm, json!({})).await, (StatusCode::OK, receipt.clone()));
    // The same bytes PUT again change nothing.
    assert_eq!(send_chunk(&app, &alice, target, chunks[1].clone()).await, (StatusCode::OK, receipt));
    assert_eq!(blobs_of(&app, &file).await.len(), 1);
    let listed = stored_chunks(&app, &alice, &file).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let url = download_url(&app, &alice, &file, 1).await;
    assert_eq!(get_chunk(&app, &url, None).await.2, chunks[1]);

    // Renewal answers presigned PUTs for the missing chunks.
    let (status, renewed) = app.post(&alice, &format!("/v1/files/{file}/upload-urls"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let indexes: Vec<u64> =
        renewed["chunks"].as_array().unwrap().iter().map(|c| c["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [0, 2]);
    for (target, chunk) in renewed["chunks"].as_array().unwrap().iter().zip([&chunks[0], &chunks[2]]) {
        assert_eq!(send_chunk(&app, &alice, target, chunk.clone()).await.0, StatusCode::OK);
    }
    let (status, done) = app.post(&alice, &format!("/v1/files/{file}/complete"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_refuses_expired_tampered_and_other_chunks_urls_and_other_bytes() {
    let app = presigned_app_with(|config| config.files.url_lifetime_secs = 3).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let chunks = three_chunks();
    let (file, body) = registered_as(&app, &alice, &room, &chunks).await;
    let (first, second) = (&body["chunks"][0], &body["chunks"][1]);
    let url = first["upload_url"].as_str().unwrap();

    let tampered = tamper_signature(url);
    assert_eq!(put_only(&app, first, &tampered, chunks[0].clone()).await, StatusCode::FORBIDDEN);
    // Chunk 0's URL names chunk 0's object and checksum: chunk 1's bytes do not fit it...
    let status = put_only(&app, first, url, chunks[1].clone()).await;
    assert!(status.is_client_error(), "another chunk's bytes: {status}");
    // ... nor does the URL for another object.
    let elsewhere = url.replacen("/chunks/0-", "/chunks/1-", 1);
    assert_eq!(put_only(&app, first, &elsewhere, chunks[0].clone()).await, StatusCode::FORBIDDEN);
    // More bytes than declared, or other bytes of the same length.
    let longer = [&chunks[0][..], b"!"].concat();
    assert!(put_only(&app, first, url, longer).await.is_client_error());
    let mut altered = chunks[0].clone();
    altered[7] ^= 1;
    assert!(put_only(&app, first, url, altered).await.is_client_error());
    // Without the signed checksum header (Garage: 400, a signed header missing).
    let bare = app.http.put(url).body(chunks[0].clone()).send().await.unwrap().status();
    assert!(bare.is_client_error(), "no checksum header: {bare}");
    let (status, answer) = app.post(&alice, first["confirm_url"].as_str().unwrap(), json!({})).await;
    assert_error(status, &answer, 409, "chunk_missing");
    assert!(blobs_of(&app, &file).await.is_empty(), "nothing stored");
    assert_eq!(stored_chunks(&app, &alice, &file).await, json!([]), "nothing recorded");

    tokio::time::sleep(Duration::from_millis(3500)).await;
    let status = put_only(&app, second, second["upload_url"].as_str().unwrap(), chunks[1].clone()).await;
    // Garage answers an expired signature 400 (AWS: 403).
    assert_eq!(status, StatusCode::BAD_REQUEST, "an expired URL");
    assert!(blobs_of(&app, &file).await.is_empty(), "nothing stored");
    app.stop().await;
}

/// The confirmation refuses, and deletes, an object that is not the chunk:
/// of another size (the store took the bytes a digest declared for another
/// length), or whose checksum as the store keeps it (Garage returns it on
/// HEAD) is not the declared one (written by another client of the bucket,
/// as a store that ignored the signed checksum would take it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_is_not_the_chunk_is_deleted_and_refused() {
    use object_store::ObjectStoreExt as _;
    use object_store::aws::{AmazonS3Builder, Checksum};
    let app = presigned_app().await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    // Digests of a longer chunk 0 and a shorter last chunk.
    let declared = vec![bytes(0, 120), bytes(1, 100), bytes(2, 49)];
    let (file, body) = registered_as(&app, &alice, &room, &declared).await;
    for index in [0, 2] {
        let (status, answer) =
            send_chunk(&app, &alice, &body["chunks"][index], declared[index].clone()).await;
        assert_error(status, &answer, 422, "chunk_size_mismatch");
        let expected = if index == 0 { 100 } else { 50 };
        assert_eq!(answer["error"]["details"], json!({"expected": expected, "size": declared[index].len()}));
    }
    let s3 = &app.garage.as_ref().unwrap().s3;
    let writer = AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint_url)
        .with_allow_http(true)
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_access_key_id(&s3.access_key_id)
        .with_secret_access_key(&s3.secret_access_key)
        .with_checksum_algorithm(Checksum::SHA256)
        .build()
        .unwrap();
    let hex: String = Sha256::digest(&declared[1]).iter().map(|byte| format!("{byte:02x}")).collect();
    let key = object_store::path::Path::from(format!("{file}/chunks/1-{hex}"));
    writer.put(&key, bytes(9, 100).into()).await.unwrap();
    let (status, answer) =
        app.post(&alice, body["chunks"][1]["confirm_url"].as_str().unwrap(), json!({})).await;
    assert_error(status, &answer, 422, "invalid_value");
    assert_eq!(answer["error"]["details"]["field"], "sha256");
    assert!(blobs_of(&app, &file).await.is_empty(), "the objects were deleted");
    assert_eq!(stored_chunks(&app, &alice, &file).await, json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_uploader_confirms_and_a_non_member_gets_404() {
    let app = presigned_app().await;
    let (alice, bob, carol) = (app.person("Alice").await, app.person("Bob").await, app.person("Carol").await);
    let room = app.group(&alice, &[&bob]).await;
    let chunks = three_chunks();
    let (file, body) = registered_as(&app, &alice, &room, &chunks).await;
    let target = &body["chunks"][0];
    assert_eq!(
        put_only(&app, target, target["upload_url"].as_str().unwrap(), chunks[0].clone()).await,
        StatusCode::OK
    );
    let confirm = target["confirm_url"].as_str().unwrap();
    let (status, answer) = app.post(&carol, confirm, json!({})).await;
    assert_error(status, &answer, 404, "file_not_found");
    let (status, answer) = app.post(&bob, confirm, json!({})).await;
    assert_error(status, &answer, 403, "forbidden");
    assert_eq!(stored_chunks(&app, &alice, &file).await, json!([]), "not recorded by their calls");
    let (status, answer) = app.post(&alice, &format!("/v1/files/{file}/chunks/3"), json!({})).await;
    assert_error(status, &answer, 422, "invalid_value");
    let (status, receipt) = app.post(&alice, confirm, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    app.stop().await;
}

/// A confirmation is a session's write: over the write limit it is 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_are_rate_limited_as_writes() {
    let app = presigned_app_with(|config| {
        config.rate_limits.mode = ciphertalk_gateway::config::Toggle::On;
        config.write_limits.write_per_user = 2;
    })
    .await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, _) = registered_as(&app, &alice, &room, &three_chunks()).await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        let (status, body) = app.post(&alice, &format!("/v1/files/{file}/chunks/0"), json!({})).await;
        answers.push((status, body["error"]["code"].as_str().unwrap_or_default().to_owned()));
    }
    assert_eq!(answers.first().map(|a| a.1.as_str()), Some("chunk_missing"), "{answers:?}");
    assert!(
        answers
            .iter()
            .any(|(status, code)| *status == StatusCode::TOO_MANY_REQUESTS && code == "rate_limited"),
        "{answers:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_gateway_uploads_there_is_nothing_to_confirm() {
    let app = spawn_app().files_on(StorageBackend::S3).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    let (status, answer) = app.post(&alice, &format!("/v1/files/{file}/chunks/0"), json!({})).await;
    assert_error(status, &answer, 409, "conflict");
    let (status, receipt) = put_chunk(&app, &urls[0], bytes(0, 100)).await;
    assert_eq!(status, StatusCode::OK);
    // A stored chunk confirms as its PUT answered.
    assert_eq!(app.post(&alice, &format!("/v1/files/{file}/chunks/0"), json!({})).await, (status, receipt));
    app.stop().await;
}

fn tamper_signature(url: &str) -> String {
    let (head, signature) = url.split_once("X-Amz-Signature=").unwrap();
    let (signature, tail) = signature.split_at(signature.find('&').unwrap_or(signature.len()));
    let (rest, last) = signature.split_at(signature.len() - 1);
    format!("{head}X-Amz-Signature={rest}{}{tail}", if last == "0" { "1" } else { "0" })
}
