//! Who may call each moderation route: instance admin, room owner, room
//! admin, member, non-member, suspended user, blocked user.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{app_with_admin, report_message};
use crate::support::app::{Person, TestApp};

struct Cast {
    admin: Person,
    owner: Person,
    room_admin: Person,
    member: Person,
    outsider: Person,
    suspended: Person,
    blocked: Person,
    room: String,
}

impl Cast {
    /// Everyone but the instance admin, with a name for failure messages.
    fn non_admins(&self) -> [(&'static str, &Person); 6] {
        [
            ("room owner", &self.owner),
            ("room admin", &self.room_admin),
            ("member", &self.member),
            ("non-member", &self.outsider),
            ("suspended", &self.suspended),
            ("blocked", &self.blocked),
        ]
    }
}

async fn cast(app: &TestApp, admin: Person) -> Cast {
    let owner = app.person("Owner").await;
    let room_admin = app.person("RoomAdmin").await;
    let member = app.person("Member").await;
    let outsider = app.person("Outsider").await;
    let suspended = app.person("Suspended").await;
    let blocked = app.person("Blocked").await;
    let room = app.group(&owner, &[&room_admin, &member, &suspended, &blocked]).await;
    let (status, body) = app
        .put(&owner, &format!("/v1/rooms/{room}/members/{}", room_admin.id), Some(json!({"role": "admin"})))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = app.put(&owner, &format!("/v1/blocks/{}", blocked.id), None).await;
    assert!(status.is_success(), "{body}");
    let (status, body) = app
        .post(&admin, &format!("/v1/admin/users/{}/suspend", suspended.id), json!({"reason": "matrix"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    Cast { admin, owner, room_admin, member, outsider, suspended, blocked, room }
}

#[track_caller]
fn expect(who: &str, route: &str, (status, body): (StatusCode, Value), wanted: u16, code: Option<&str>) {
    assert_eq!(status.as_u16(), wanted, "{who} on {route}: {body}");
    if let Some(code) = code {
        assert_eq!(body["error"]["code"], code, "{who} on {route}: {body}");
    }
}

#[tokio::test]
async fn admin_routes_refuse_everyone_but_instance_admins() {
    let (app, admin) = app_with_admin().await;
    let cast = cast(&app, admin).await;
    let message = app.send(&cast.owner, &cast.room, "reported").await;
    let (_, report) = report_message(&app, &cast.member, &cast.room, &message, None).await;
    let report_id = report["id"].as_str().unwrap().to_owned();
    let target = cast.outsider.id;
    let message_id = message["id"].as_str().unwrap().to_owned();
    let (file, _) = crate::files::registered(&app, &cast.owner, &cast.room, 100, 100).await;
    let room_state = format!("/v1/admin/rooms/{}/state", cast.room);
    for (who, person) in cast.non_admins() {
        let code = if who == "suspended" { "suspended" } else { "forbidden" };
        expect(who, "GET admin/reports", app.get(person, "/v1/admin/reports").await, 403, Some(code));
        expect(
            who,
            "DELETE admin/messages",
            app.delete(person, &format!("/v1/admin/messages/{message_id}")).await,
            403,
            Some(code),
        );
        let role =
            app.put(person, &format!("/v1/admin/users/{target}/role"), Some(json!({"role": "admin"}))).await;
        expect(who, "PUT role", role, 403, Some(code));
        let suspend =
            app.post(person, &format!("/v1/admin/users/{target}/suspend"), json!({"reason": "x"})).await;
        expect(who, "POST suspend", suspend, 403, Some(code));
        expect(
            who,
            "DELETE suspend",
            app.delete(person, &format!("/v1/admin/users/{target}/suspend")).await,
            403,
            Some(code),
        );
        expect(
            who,
            "DELETE admin/files",
            app.delete(person, &format!("/v1/admin/files/{file}")).await,
            403,
            Some(code),
        );
        expect(who, "GET admin/audit", app.get(person, "/v1/admin/audit").await, 403, Some(code));
        expect(who, "GET admin/rooms/state", app.get(person, &room_state).await, 403, Some(code));
    }
    // Resolving: instance admins, and the owner and admins of the reported message's room.
    for (who, person) in
        [("member", &cast.member), ("non-member", &cast.outsider), ("blocked", &cast.blocked)]
    {
        let resolve = app
            .post(person, &format!("/v1/admin/reports/{report_id}/resolve"), json!({"action": "dismiss"}))
            .await;
        expect(who, "resolve", resolve, 403, Some("forbidden"));
    }
    let resolve = app
        .post(
            &cast.suspended,
            &format!("/v1/admin/reports/{report_id}/resolve"),
            json!({"action": "dismiss"}),
        )
        .await;
    expect("suspended", "resolve", resolve, 403, Some("suspended"));
    let resolve = app
        .post(
            &cast.room_admin,
            &format!("/v1/admin/reports/{report_id}/resolve"),
            json!({"action": "dismiss"}),
        )
        .await;
    expect("room admin", "resolve", resolve, 200, None);
    let second = app.send(&cast.owner, &cast.room, "reported too").await;
    let (_, other) = report_message(&app, &cast.member, &cast.room, &second, None).await;
    let resolve = app
        .post(
            &cast.owner,
            &format!("/v1/admin/reports/{}/resolve", other["id"].as_str().unwrap()),
            json!({"action": "takedown"}),
        )
        .await;
    expect("room owner", "resolve", resolve, 200, None);
    // The admin may do all of it.
    expect("admin", "GET admin/reports", app.get(&cast.admin, "/v1/admin/reports").await, 200, None);
    let role =
        app.put(&cast.admin, &format!("/v1/admin/users/{target}/role"), Some(json!({"role": "admin"}))).await;
    expect("admin", "PUT role", role.clone(), 200, None);
    assert_eq!(role.1["role"], "admin");
    expect(
        "admin",
        "DELETE admin/messages",
        app.delete(&cast.admin, &format!("/v1/admin/messages/{message_id}")).await,
        204,
        None,
    );
    expect(
        "admin",
        "DELETE suspend",
        app.delete(&cast.admin, &format!("/v1/admin/users/{}/suspend", cast.suspended.id)).await,
        204,
        None,
    );
    expect(
        "admin",
        "DELETE admin/files",
        app.delete(&cast.admin, &format!("/v1/admin/files/{file}")).await,
        204,
        None,
    );
    expect("admin", "GET admin/audit", app.get(&cast.admin, "/v1/admin/audit").await, 200, None);
    let state = app.get(&cast.admin, &room_state).await;
    assert_eq!(state.1["members"].as_array().map(Vec::len), Some(5), "{}", state.1);
    expect("admin", "GET admin/rooms/state", state, 200, None);
}

#[tokio::test]
async fn report_routes_follow_room_membership_and_room_roles() {
    let (app, admin) = app_with_admin().await;
    let cast = cast(&app, admin).await;
    let message = app.send(&cast.owner, &cast.room, "reported").await;
    let room_reports = format!("/v1/rooms/{}/reports", cast.room);
    let expected_room_reports = [
        ("room owner", &cast.owner, 200, None),
        ("room admin", &cast.room_admin, 200, None),
        ("member", &cast.member, 403, Some("forbidden")),
        ("non-member", &cast.outsider, 404, Some("not_found")),
        ("suspended", &cast.suspended, 403, Some("suspended")),
        ("blocked", &cast.blocked, 403, Some("forbidden")),
        ("admin", &cast.admin, 200, None),
    ];
    let (_, filed) = report_message(&app, &cast.blocked, &cast.room, &message, None).await;
    for (who, person, status, code) in expected_room_reports {
        let answer = app.get(person, &room_reports).await;
        if status == 200 {
            assert_eq!(answer.1["items"][0]["id"], filed["id"], "{who}");
        }
        expect(who, "GET room reports", answer, status, code);
    }
    let expected_filing = [
        ("room owner", &cast.owner, 201, None),
        ("room admin", &cast.room_admin, 201, None),
        ("member", &cast.member, 201, None),
        ("non-member", &cast.outsider, 404, Some("not_found")),
        ("suspended", &cast.suspended, 403, Some("suspended")),
        ("blocked", &cast.blocked, 200, None),
        ("admin", &cast.admin, 404, Some("not_found")),
    ];
    for (who, person, status, code) in expected_filing {
        expect(
            who,
            "POST reports",
            report_message(&app, person, &cast.room, &message, None).await,
            status,
            code,
        );
        let mine = app.get(person, "/v1/reports").await;
        let wanted = if who == "suspended" { 403 } else { 200 };
        expect(who, "GET reports", mine, wanted, None);
    }
    // Files follow the membership of their room the same way.
    let (file, _) = crate::files::registered(&app, &cast.owner, &cast.room, 100, 100).await;
    let of_file = json!({"target": {"kind": "file", "id": file}, "reason": "r"});
    let expected_file_filing = [
        ("room owner", &cast.owner, 201, None),
        ("room admin", &cast.room_admin, 201, None),
        ("member", &cast.member, 201, None),
        ("non-member", &cast.outsider, 404, Some("file_not_found")),
        ("suspended", &cast.suspended, 403, Some("suspended")),
        ("blocked", &cast.blocked, 201, None),
        ("admin", &cast.admin, 404, Some("file_not_found")),
    ];
    for (who, person, status, code) in expected_file_filing {
        expect(
            who,
            "POST reports (file)",
            app.post(person, "/v1/reports", of_file.clone()).await,
            status,
            code,
        );
    }
    // A report of a user: anyone registered but the suspended.
    let of_user = json!({"target": {"kind": "user", "id": cast.owner.id}, "reason": "r"});
    for (who, person) in [
        ("room admin", &cast.room_admin),
        ("member", &cast.member),
        ("non-member", &cast.outsider),
        ("blocked", &cast.blocked),
        ("admin", &cast.admin),
    ] {
        expect(who, "POST reports (user)", app.post(person, "/v1/reports", of_user.clone()).await, 201, None);
    }
    expect(
        "suspended",
        "POST reports (user)",
        app.post(&cast.suspended, "/v1/reports", of_user).await,
        403,
        Some("suspended"),
    );
    // Room moderators see the file reports of their room too.
    let (_, listed) = app.get(&cast.room_admin, &room_reports).await;
    let kinds: Vec<&Value> =
        listed["items"].as_array().unwrap().iter().map(|r| &r["target"]["kind"]).collect();
    assert!(kinds.contains(&&json!("file")) && !kinds.contains(&&json!("user")), "{listed}");
}
