//! The web client in a real browser: each test starts an instance of the
//! harness serving the built web/dist and runs one scenario of web/e2e/ in
//! headless Chromium (`node web/e2e/app/<scenario>.mjs`, see web/e2e/README.md);
//! after a run that sent messages or files, the plaintext check looks for
//! each of them in everything the instance stored.

mod admin;
mod app;
mod harness;
mod plaintext;

use std::time::Duration;

#[allow(unused_imports)]
pub use harness::{ADMIN_EMAIL, Artifacts, Scenario, browser_app, run_scenario, scenario};
pub use plaintext::{assert_no_plaintext, find_plaintext};

/// The chat app and the admin page load with no console error and no CSP
/// violation (and the policy really blocks an inline script).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_and_the_admin_page_load_cleanly_under_the_content_security_policy() {
    let app = browser_app().await;
    run_scenario("app/smoke.mjs", &app).await;
    app.stop().await;
}

/// The whole chain the real scenarios rely on: a page of the instance sends a
/// message and a file chunk over the API; sealed with WebCrypto, the
/// plaintext check passes; merely base64-encoded, it names where each went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plaintext_check_passes_sealed_browser_traffic_and_catches_leaky_traffic() {
    let app = browser_app().await;
    let selftest = |mode: &str| {
        scenario("lib/selftest.mjs").env("CIPHERTALK_SELFTEST_MODE", mode).timeout(Duration::from_secs(120))
    };
    let sealed = selftest("sealed").run(&app).await;
    assert_no_plaintext(&app, &sealed.sent()).await;

    let leaky = selftest("leaky").run(&app).await.sent();
    let caught = |found: &[(String, String)]| {
        ["Postgres", "blob store"].iter().all(|place| found.iter().any(|(_, p)| p.contains(place)))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut found = find_plaintext(&app, &leaky).await;
    while !caught(&found) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        found = find_plaintext(&app, &leaky).await;
    }
    assert!(caught(&found), "the leaky client's plaintext was not found: {found:#?}");
    app.stop().await;
}
