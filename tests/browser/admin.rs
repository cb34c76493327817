//! The admin page's scenarios (web/e2e/admin/): one test function each.

#[allow(unused_imports)]
use super::*;

/// An instance admin takes a reported message down from the admin page: the
/// franked report shows as verified, a second report arrives live over the
/// WebSocket, the takedown leaves a tombstone, an actioned report and an
/// audit entry; a plain user who logs in sees "not an admin".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_takes_a_reported_message_down_from_the_admin_page() {
    let app = browser_app().await;
    run_scenario("admin/takedown.mjs", &app).await;
    app.stop().await;
}

/// The admin page's other panels: a room's state now and before an
/// invitation, a takedown by id, a suspension and its lifting, a promotion
/// and a demotion, and the health panel's projection lag and streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_reads_room_states_suspends_promotes_and_shows_health() {
    let app = browser_app().await;
    run_scenario("admin/panels.mjs", &app).await;
    app.stop().await;
}
