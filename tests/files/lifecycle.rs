//! Files over time: the sweeper expires files and removes their blobs, an
//! upload survives a restart, the `files` projection replays equal to live.

use ciphertalk_projections::{Projection, rebuild};

use super::*;
use crate::support::app::{assert_error, spawn_app};
use crate::support::eventually;

on_each_store! {
async fn the_sweeper_expires_files_and_removes_their_blobs(backend) {
    let app = spawn_app().files_on(backend).config(|config| config.files.sweep_every_secs = 1).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (status, body) = register(&app, &alice, &room, 100, 100, &[&alice], json!({"expires_in": 3})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let file = body["file_id"].as_str().unwrap().to_owned();
    assert_eq!(put_chunk(&app, &upload_urls(&body)[0], bytes(1, 100)).await.0, StatusCode::OK);
    let (kept, _) = registered(&app, &alice, &room, 100, 100).await;
    assert_eq!(blobs_of(&app, &file).await.len(), 1);
    assert!(eventually(30, || async { blobs_of(&app, &file).await.is_empty() }).await, "the blobs stayed");
    let (status, body) = app.get(&alice, &format!("/v1/files/{file}")).await;
    assert_error(status, &body, 410, "gone");
    let (status, _) = app.get(&alice, &format!("/v1/files/{kept}")).await;
    assert_eq!(status, StatusCode::OK, "a file without expiry stays");
    app.stop().await;
}
}

on_each_store! {
async fn a_restart_during_an_upload_loses_no_stored_chunk(backend) {
    let mut app = spawn_app().files_on(backend).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    for (index, url) in urls.iter().enumerate().take(2) {
        assert_eq!(put_chunk(&app, url, bytes(index as u8, 100)).await.0, StatusCode::OK);
    }
    app.stop_gateways().await;
    app.add_gateway(|_| {}).await;
    let (status, body) = app.post(&alice, &format!("/v1/files/{file}/upload-urls"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chunks"].as_array().unwrap().len(), 1, "only chunk 2 is missing: {body}");
    for index in 0..2 {
        let url = download_url(&app, &alice, &file, index).await;
        assert_eq!(get_chunk(&app, &url, None).await.2, bytes(index as u8, 100));
    }
    assert_eq!(put_chunk(&app, &upload_urls(&body)[0], bytes(2, 50)).await.0, StatusCode::OK);
    let (status, body) = app.post(&alice, &format!("/v1/files/{file}/complete"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.stop().await;
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_projection_replays_equal_to_the_live_one() {
    let app = spawn_app().await;
    let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
    let room = app.group(&alice, &[&bob]).await;
    let (done, urls) = registered(&app, &alice, &room, 150, 100).await;
    put_chunk(&app, &urls[0], bytes(0, 100)).await;
    put_chunk(&app, &urls[1], bytes(1, 50)).await;
    app.post(&alice, &format!("/v1/files/{done}/complete"), json!({})).await;
    let (deleted, urls) = registered(&app, &bob, &room, 100, 100).await;
    put_chunk(&app, &urls[0], bytes(2, 100)).await;
    app.delete(&bob, &format!("/v1/files/{deleted}")).await;
    registered(&app, &alice, &room, 300, 100).await;
    app.caught_up().await;
    for projection in [Projection::Files, Projection::Delivery] {
        let live = app.snapshot(projection).await;
        let has_rows = |table: &str| live.iter().any(|(name, rows)| name == table && rows != &json!([]));
        let owned: &[&str] =
            if projection == Projection::Files { &["files", "file_chunks"] } else { &["delivery_files"] };
        assert!(owned.iter().all(|table| has_rows(table)), "{live:?}");
        rebuild(&app.db.pool, &app.js(), projection, |_| {}).await.unwrap();
        assert_eq!(app.snapshot(projection).await, live, "{projection}: the replay differs from live");
    }
    let env = [("DATABASE_URL", app.db.url.clone()), ("NATS_URL", app.nats.url())];
    let live = app.snapshot(Projection::Files).await;
    let (ok, output) = crate::support::binary::run(&["projections", "replay", "files"], &env);
    assert!(ok, "{output}");
    assert_eq!(app.snapshot(Projection::Files).await, live);
    app.stop().await;
}
