//! The configured limits: file size, chunk size, chunk count, a user's stored
//! bytes, expiry, each 413.

use super::*;
use crate::support::app::{assert_error, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_beyond_the_limits_are_413() {
    let app = spawn_app()
        .config(|config| {
            config.files.max_file_bytes = 1000;
            config.files.max_chunk_bytes = 300;
            config.files.max_chunk_count = 5;
            config.files.max_user_bytes = 1500;
            config.files.max_expiry_secs = 3600;
        })
        .await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    for (size, chunk_size, extra) in [
        (1001, 300, json!({})),
        (600, 301, json!({})),
        (600, 100, json!({})),
        (100, 100, json!({"expires_in": 3601})),
    ] {
        let (status, body) = register(&app, &alice, &room, size, chunk_size, &[&alice], extra).await;
        assert_error(status, &body, 413, "too_large");
    }
    // Unasked, a file gets the longest life allowed.
    let (status, body) = register(&app, &alice, &room, 1000, 250, &[&alice], json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, shown) = app.get(&alice, &format!("/v1/files/{}", body["file_id"].as_str().unwrap())).await;
    assert!(shown["expires_at"].is_string(), "{shown}");
    // 1000 of Alice's 1500 bytes are taken: 600 more do not fit, 500 do.
    let (status, body) = register(&app, &alice, &room, 600, 300, &[&alice], json!({})).await;
    assert_error(status, &body, 413, "too_large");
    let (status, body) = register(&app, &alice, &room, 500, 250, &[&alice], json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Deleting a file gives its bytes back.
    app.delete(&alice, &format!("/v1/files/{}", body["file_id"].as_str().unwrap())).await;
    let (status, body) = register(&app, &alice, &room, 500, 250, &[&alice], json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.stop().await;
}
