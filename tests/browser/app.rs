//! The chat app's scenarios (web/e2e/app/): one test function each. After a
//! scenario that sent messages or files, none of them may be found in the
//! clear in anything the instance stored.

#[allow(unused_imports)]
use super::*;

/// Two users and a second device of one of them exchange messages and both
/// devices decrypt; reply, edit, delete, forward, typing, read receipts,
/// catch-up after being offline, a reload, history paging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_and_a_second_device_exchange_messages_that_every_device_decrypts() {
    let app = browser_app().await;
    let artifacts = run_scenario("app/messaging.mjs", &app).await;
    assert_no_plaintext(&app, &artifacts.sent()).await;
    app.stop().await;
}

/// A 20 MiB video plays at the receiver before the sender's upload has
/// ended; an image arrives as a decrypted preview; co-watch keeps players in step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_streams_and_plays_before_its_upload_has_ended() {
    let app = browser_app().await;
    let artifacts = scenario("app/files.mjs").timeout(std::time::Duration::from_secs(300)).run(&app).await;
    assert_no_plaintext(&app, &artifacts.sent()).await;
    app.stop().await;
}

/// A call between two browsers connects over loopback and hangs up on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_between_two_browsers_connects_over_loopback() {
    let app = browser_app().await;
    run_scenario("app/call.mjs", &app).await;
    app.stop().await;
}

/// A reported message's franking proof is verified by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_message_carries_a_franking_proof_the_server_verifies() {
    let app = browser_app().await;
    let artifacts = run_scenario("app/report.mjs", &app).await;
    assert_no_plaintext(&app, &artifacts.sent()).await;
    app.stop().await;
}

/// Removing a device logs it out at once; contacts, blocks, privacy, logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_contacts_blocks_and_privacy_from_the_settings() {
    let app = browser_app().await;
    let artifacts = run_scenario("app/settings.mjs", &app).await;
    assert_no_plaintext(&app, &artifacts.sent()).await;
    app.stop().await;
}

/// Bob enables push in his settings (only the browser's push service is
/// replaced: by this test's receiver), closes the app, and Alice's message
/// wakes him: a Web Push request signed with VAPID for the receiver's origin
/// whose payload, opened with his subscription's keys, names only the room,
/// a count and a seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_to_a_closed_app_arrives_at_its_push_service_as_a_contentless_web_push() {
    use crate::push::{Inbox, Subscription, assert_payload, assert_web_push};
    use crate::support::app::Person;

    let receiver = Inbox::start().await;
    let app = browser_app()
        .config(|config| {
            config.push.allow_http = true;
            config.push.coalesce_ms = 300;
        })
        .await;
    let subscription = Subscription::new();
    let endpoint = receiver.url("/wp/bob");
    let artifacts = scenario("app/push.mjs")
        .env("CIPHERTALK_PUSH_SUBSCRIPTION", subscription.browser_json(&endpoint).to_string())
        .run(&app)
        .await;

    let arrived =
        crate::support::eventually(20, || async { !receiver.delivered("/wp/bob").is_empty() }).await;
    assert!(arrived, "no push reached the receiver within 20 s: {:?}", receiver.received("/wp/bob"));
    let push = receiver.delivered("/wp/bob").remove(0);
    let viewer = Person::from_session(&app.register("push-viewer@example.test", "Viewer").await);
    let (_, vapid) = app.get(&viewer, "/v1/push/vapid-public-key").await;
    assert_web_push(&push, vapid["public_key"].as_str().unwrap(), &receiver.base);
    let payload = subscription.open(&push).expect("the subscription's keys open the push");
    let written = std::fs::read_to_string(artifacts.dir.join("push.json")).unwrap();
    let room: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_payload(&payload, room["room_id"].as_str().unwrap());
    assert_eq!(payload["count"].as_u64(), Some(1), "{payload}");
    assert_no_plaintext(&app, &artifacts.sent()).await;
    app.stop().await;
}
