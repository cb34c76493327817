//! A dead S3 store: chunk uploads fail fast with 503 naming the file store,
//! `/health` and `/health/ready` report it down (the rest of the API keeps
//! working), and all is well again once it is back.

use std::time::{Duration, Instant};

use ciphertalk_gateway::config::StorageBackend;

use super::*;
use crate::support::app::{assert_error, spawn_app};
use crate::support::eventually;

async fn health(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.http.get(format!("{}{path}", app.base(0))).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_store_is_a_fast_503_naming_it_and_health_reports_it() {
    let mut app = spawn_app().files_on(StorageBackend::S3).await;
    let alice = app.person("Alice").await;
    let room = app.group(&alice, &[]).await;
    let (file, urls) = registered(&app, &alice, &room, 250, 100).await;
    assert_eq!(put_chunk(&app, &urls[0], bytes(0, 100)).await.0, StatusCode::OK);
    let (status, body) = health(&app, "/health").await;
    assert_eq!(
        (status, &body["storage"], &body["storage_backend"]),
        (StatusCode::OK, &json!("ok"), &json!("s3"))
    );

    app.garage.as_mut().unwrap().kill();
    let started = Instant::now();
    let (status, body) = put_chunk(&app, &urls[1], bytes(1, 100)).await;
    let took = started.elapsed();
    assert_error(status, &body, 503, "dependency_down");
    assert!(body["error"]["message"].as_str().unwrap().contains("file store"), "{body}");
    assert!(took < Duration::from_secs(4), "the 503 took {took:?}");
    for path in ["/health", "/health/ready"] {
        let down =
            eventually(10, || async { health(&app, path).await.0 == StatusCode::SERVICE_UNAVAILABLE }).await;
        assert!(down, "{path} did not notice");
        let (_, body) = health(&app, path).await;
        assert!(body["storage"].as_str().unwrap().starts_with("down"), "{body}");
        assert_eq!(body["error"]["details"]["down"], json!(["storage"]), "{body}");
        assert_eq!((&body["nats"], &body["postgres"]), (&json!("ok"), &json!("ok")));
    }
    // What needs no blob still answers: the file and its (presigned) URLs.
    let (status, shown) = app.get(&alice, &format!("/v1/files/{file}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");

    app.garage.as_mut().unwrap().restart().await;
    assert!(eventually(10, || async { health(&app, "/health/ready").await.0 == StatusCode::OK }).await);
    assert_eq!(put_chunk(&app, &urls[1], bytes(1, 100)).await.0, StatusCode::OK, "uploads work again");
    let url = download_url(&app, &alice, &file, 1).await;
    assert_eq!(get_chunk(&app, &url, None).await.2, bytes(1, 100));
    app.stop().await;
}
