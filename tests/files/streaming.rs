//! A 20 MiB file in 1 MiB chunks: a second member downloads each chunk as
//! `file.chunk_available` reaches their WebSocket, before the next is
//! uploaded; on the local store, on S3 through the gateway, and on S3 with
//! presigned PUTs to the bucket.

use std::time::Duration;

use super::*;
use crate::realtime::Client;
use crate::support::app::{TestApp, spawn_app};

const MIB: usize = 1 << 20;

/// The next `file.chunk_available` of `file`, skipping other frames.
async fn chunk_available(client: &mut Client, file: &str) -> u64 {
    loop {
        let frame = client.next_within(Duration::from_secs(20)).await.expect("file.chunk_available");
        let event = &frame["event"];
        if frame["type"] == "event" && event["type"] == "file.chunk_available" && event["file_id"] == file {
            return event["index"].as_u64().unwrap();
        }
    }
}

on_each_store! {
threads 4,
async fn a_member_downloads_each_chunk_while_the_rest_is_still_uploading(backend) {
    upload_while_a_member_downloads(spawn_app().files_on(backend).await).await;
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_downloads_each_chunk_while_the_rest_is_still_put_to_the_bucket() {
    upload_while_a_member_downloads(super::presigned::presigned_app().await).await;
}

async fn upload_while_a_member_downloads(app: TestApp) {
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let mut bob_ws = Client::connect(&app.base(0), &bob, "").await;
    let chunks: Vec<Vec<u8>> = (0..20).map(|n| bytes(n, MIB)).collect();
    let digests: Vec<String> = chunks.iter().map(|chunk| sha256_b64(chunk)).collect();
    let (status, body) = register(
        &app,
        &alice,
        &room,
        20 * MIB as u64,
        MIB as u64,
        &[&alice, &bob],
        json!({"chunk_sha256": digests}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let file = body["file_id"].as_str().unwrap().to_owned();
    let targets = body["chunks"].as_array().unwrap();
    assert_eq!(targets.len(), 20);
    let mut downloaded = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        let (status, receipt) = send_chunk(&app, &alice, &targets[index], chunk.clone()).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
        assert_eq!(receipt["sha256"], digests[index]);
        // Bob fetches chunk N now, before chunk N+1 is uploaded.
        assert_eq!(chunk_available(&mut bob_ws, &file).await, index as u64);
        let url = download_url(&app, &bob, &file, index as u64).await;
        let (status, _, got) = get_chunk(&app, &url, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(got == *chunk, "chunk {index} came back different");
        downloaded.push(got);
    }
    assert_eq!(downloaded.concat(), chunks.concat(), "the whole file, byte for byte");
    let (status, body) = app.post(&alice, &format!("/v1/files/{file}/complete"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["completed"], true);
    loop {
        let frame = bob_ws.next_within(Duration::from_secs(20)).await.expect("file.completed");
        if frame["event"]["type"] == "file.completed" {
            assert_eq!(frame["event"]["file_id"], file.as_str());
            break;
        }
    }
    app.stop().await;
}
