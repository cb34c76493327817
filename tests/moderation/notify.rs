//! `report.created`: a new report reaches the connected instance admins at
//! once and, when it concerns a room's content, that room's owner and
//! admins; nobody else, and not again for a report that collapses.

use std::time::Duration;

use serde_json::{Value, json};

use super::{app_with_admin, report_message};
use crate::realtime::Client;

/// The next `report.created` frame within `wait`, skipping other frames.
async fn report_created(socket: &mut Client, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = socket.next_within(left).await?;
        if frame["type"] == "report.created" {
            return Some(frame);
        }
    }
}

/// A socket that has its backlog behind it (so its signal subscription is live).
async fn connected(app: &crate::support::app::TestApp, who: &crate::support::app::Person) -> Client {
    let mut socket = Client::connect(&app.base(0), who, "").await;
    socket.backlog().await;
    socket
}

#[tokio::test]
async fn a_new_report_is_pushed_to_connected_admins_and_the_rooms_moderators_only() {
    let (app, admin) = app_with_admin().await;
    let (owner, room_admin, member, outsider) = (
        app.person("Owner").await,
        app.person("RoomAdmin").await,
        app.person("Member").await,
        app.person("Outsider").await,
    );
    let room = app.group(&owner, &[&room_admin, &member]).await;
    let (status, body) = app
        .put(&owner, &format!("/v1/rooms/{room}/members/{}", room_admin.id), Some(json!({"role": "admin"})))
        .await;
    assert!(status.is_success(), "{body}");
    let message = app.send(&owner, &room, "offending").await;
    let mut told = Vec::new();
    for who in [&admin, &owner, &room_admin] {
        told.push(connected(&app, who).await);
    }
    let mut untold = Vec::new();
    for who in [&member, &outsider] {
        untold.push(connected(&app, who).await);
    }

    let (_, report) = report_message(&app, &member, &room, &message, None).await;
    for socket in &mut told {
        let frame = report_created(socket, Duration::from_secs(5)).await.expect("a report.created frame");
        assert_eq!(frame["report"]["id"], report["id"], "{frame}");
        assert_eq!(frame["report"]["target"]["room_id"], room, "{frame}");
        assert_eq!(frame["report"]["status"], "open");
    }
    // The same report again collapses into the first: nobody is told twice.
    report_message(&app, &member, &room, &message, None).await;
    // A report of a user concerns no room: only the instance admin hears of it.
    let (_, of_user) = app
        .post(
            &member,
            "/v1/reports",
            json!({"target": {"kind": "user", "id": outsider.id}, "reason": "spam"}),
        )
        .await;
    let frame = report_created(&mut told[0], Duration::from_secs(5)).await.expect("the user report");
    assert_eq!(frame["report"]["id"], of_user["id"]);
    for socket in told.iter_mut().skip(1).chain(&mut untold) {
        assert!(
            report_created(socket, Duration::from_millis(500)).await.is_none(),
            "told beyond the moderators"
        );
    }
}
