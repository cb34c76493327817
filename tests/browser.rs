//! The web client in a real browser: each test starts an instance of the
//! harness serving the built web/dist and runs one scenario of web/e2e/ in
//! headless Chromium (`node web/e2e/app/<scenario>.mjs`, see web/e2e/README.md);
//! after a run that sent messages or files, the plaintext check looks for
//! each of them in everything the instance stored.

mod admin;
mod app;
mod harness;
mod plaintext;

#[allow(unused_imports)]
pub use harness::{ADMIN_EMAIL, Artifacts, Scenario, browser_app, run_scenario, scenario};
#[allow(unused_imports)]
pub use plaintext::{assert_no_plaintext, find_plaintext};

/// The chat app and the admin page load with no console error and no CSP
/// violation (and the policy really blocks an inline script).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_and_the_admin_page_load_cleanly_under_the_content_security_policy() {
    let app = browser_app().await;
    run_scenario("app/smoke.mjs", &app).await;
    app.stop().await;
}
