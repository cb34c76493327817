//! `moderation` and `audit` rebuilt from stream sequence 1 equal the live
//! tables row by row, after a history of more than 1,000 mixed events
//! (messages, membership and role churn, deletions, takedowns, reports and
//! their decisions, suspensions, instance roles, a file taken down).

use chrono::Utc;
use ciphertalk_domain::RoomId;
use ciphertalk_domain::room::{DeleteScope, Role, RoomCommand};
use ciphertalk_domain::user::UserCommand;
use ciphertalk_domain::values::ModeratorNote;
use ciphertalk_projections::{Projection, rebuild};
use reqwest::StatusCode;
use serde_json::json;

use super::{app_with_admin, report_message};
use crate::files::{bytes, put_chunk, registered};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moderation_and_audit_replay_equal_to_the_live_tables_after_a_thousand_mixed_events() {
    let (app, admin) = app_with_admin().await;
    let mut people = Vec::new();
    for n in 0..6 {
        people.push(app.person(&format!("P{n}")).await);
    }
    let others: Vec<&_> = people[1..].iter().collect();
    let room = app.group(&people[0], &others).await;
    let room_id: RoomId = room.parse().unwrap();
    let churned = app.commands().register("Churn").await;
    let owner = people[0].id;

    let mut reports = Vec::new();
    for n in 0..600 {
        let sender = &people[n % people.len()];
        let message = app.commands().send(room_id, sender.id, &format!("m{n}")).await;
        let at = Utc::now();
        match n % 12 {
            0 => {
                let delete = RoomCommand::DeleteMessage {
                    actor: sender.id,
                    message_id: message,
                    scope: DeleteScope::ForEveryone,
                    at,
                };
                app.commands().room(room_id, sender.id, delete).await;
            }
            3 => {
                let add = RoomCommand::AddMember { actor: owner, user: churned, role: Role::Member, at };
                app.commands().room(room_id, owner, add).await;
                let promote = RoomCommand::ChangeRole { actor: owner, user: churned, role: Role::Admin, at };
                app.commands().room(room_id, owner, promote).await;
                app.commands()
                    .room(room_id, owner, RoomCommand::RemoveMember { actor: owner, user: churned, at })
                    .await;
            }
            5 | 9 => {
                let reporter = &people[(n / 12) % (people.len() - 1) + 1];
                let sent = json!({"id": message.to_string()});
                let (status, report) = report_message(&app, reporter, &room, &sent, None).await;
                assert_eq!(status, StatusCode::CREATED, "{report}");
                reports.push(report["id"].as_str().unwrap().to_owned());
            }
            7 => {
                let target = &people[n % 5 + 1];
                let reason = ModeratorNote::parse("churn").unwrap();
                app.commands()
                    .user(target.id, UserCommand::Suspend { by: admin.id, reason, until: None, at })
                    .await;
                app.commands().user(target.id, UserCommand::LiftSuspension { by: admin.id, at }).await;
                app.commands().user(target.id, UserCommand::GrantAdmin { by: Some(admin.id), at }).await;
                app.commands().user(target.id, UserCommand::RevokeAdmin { by: Some(admin.id), at }).await;
            }
            _ => {}
        }
    }
    for (n, report) in reports.iter().enumerate() {
        let action = if n % 3 == 0 { "takedown" } else { "dismiss" };
        let (status, body) = app
            .post(
                &admin,
                &format!("/v1/admin/reports/{report}/resolve"),
                json!({"action": action, "note": "n"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (file, urls) = registered(&app, &people[1], &room, 100, 100).await;
    put_chunk(&app, &urls[0], bytes(9, 100)).await;
    let (_, filed) = app
        .post(&people[2], "/v1/reports", json!({"target": {"kind": "file", "id": file}, "reason": "r"}))
        .await;
    let resolve = format!("/v1/admin/reports/{}/resolve", filed["id"].as_str().unwrap());
    assert_eq!(app.post(&admin, &resolve, json!({"action": "takedown"})).await.0, StatusCode::OK);
    assert!(app.committed_events().await > 1_000, "only {} events", app.committed_events().await);
    app.caught_up().await;

    for projection in [Projection::Moderation, Projection::Audit] {
        let live = app.snapshot(projection).await;
        let rows = live[0].1.as_array().unwrap().len();
        assert!(rows > 50, "{projection}: only {rows} rows");
        let mut progress = Vec::new();
        let report = rebuild(&app.db.pool, &app.js(), projection, |p| progress.push(p)).await.unwrap();
        assert_eq!(app.snapshot(projection).await, live, "{projection}: the replay differs from live");
        assert!(report.applied_events > 0);
        let last = progress.last().unwrap();
        assert_eq!(last.applied, last.total);
    }
    let (_, counts) = app.get(&admin, "/v1/admin/reports?status=actioned&limit=200").await;
    let moderated: i64 =
        sqlx::query_scalar("SELECT count(*) FROM moderation_reports WHERE status = 'actioned'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        counts["items"].as_array().unwrap().len() as i64,
        moderated,
        "the table agrees with the reports"
    );

    // The command-line replay, as an operator runs it beside the server.
    let env = [("DATABASE_URL", app.db.url.clone()), ("NATS_URL", app.nats.url())];
    for name in ["moderation", "audit"] {
        let projection = Projection::from_name(name).unwrap();
        let live = app.snapshot(projection).await;
        let (ok, output) = crate::support::binary::run(&["projections", "replay", name], &env);
        assert!(ok && output.contains("rebuilt from sequence 1"), "{output}");
        assert_eq!(app.snapshot(projection).await, live, "{name}: the command's replay differs from live");
    }
}
