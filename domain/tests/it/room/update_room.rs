//! Changing a room's settings.

use super::*;

fn update(actor: ciphertalk_domain::UserId) -> RoomCommand {
    RoomCommand::UpdateRoom {
        actor,
        name: Some(room_name("Renamed")),
        description: Some(Some(RoomDescription::parse("about").unwrap())),
        photo_file_id: Some(Some(fid(1))),
        join_rule: Some(JoinRule::Open),
        at: at(5),
    }
}

#[test]
fn owner_changes_settings() {
    given(group()).when(update(ALICE)).then_expect_events(vec![RoomEvent::RoomUpdated {
        name: Some(room_name("Renamed")),
        description: Some(RoomDescription::parse("about").unwrap()),
        photo_file_id: Some(fid(1)),
        join_rule: JoinRule::Open,
        by: ALICE,
        at: at(5),
    }]);
}

#[test]
fn admin_changes_settings_and_can_clear_fields() {
    let mut events = group();
    events.push(promoted(BOB, Role::Admin));
    events.push(RoomEvent::RoomUpdated {
        name: Some(room_name("Team")),
        description: Some(RoomDescription::parse("old").unwrap()),
        photo_file_id: Some(fid(1)),
        join_rule: JoinRule::Invite,
        by: ALICE,
        at: at(2),
    });
    let command = RoomCommand::UpdateRoom {
        actor: BOB,
        name: None,
        description: Some(None),
        photo_file_id: Some(None),
        join_rule: None,
        at: at(5),
    };
    given(events).when(command).then_expect_events(vec![RoomEvent::RoomUpdated {
        name: Some(room_name("Team")),
        description: None,
        photo_file_id: None,
        join_rule: JoinRule::Invite,
        by: BOB,
        at: at(5),
    }]);
}

#[test]
fn unchanged_settings_emit_nothing() {
    let command = RoomCommand::UpdateRoom {
        actor: ALICE,
        name: Some(room_name("Team")),
        description: None,
        photo_file_id: None,
        join_rule: Some(JoinRule::Invite),
        at: at(5),
    };
    given(group()).when(command).then_expect_events(vec![]);
}

#[test]
fn plain_member_is_forbidden() {
    let error = given(group()).when(update(BOB)).inspect_result().unwrap_err();
    assert_eq!(error.code(), "forbidden");
}

#[test]
fn non_member_is_not_a_member() {
    given(group()).when(update(EVE)).then_expect_error(DomainError::NotAMember);
}

#[test]
fn unknown_room_is_not_found() {
    given(vec![]).when(update(ALICE)).then_expect_error(DomainError::RoomNotFound);
}

#[test]
fn direct_rooms_have_no_settings() {
    let error = given(vec![direct_created()]).when(update(ALICE)).inspect_result().unwrap_err();
    assert_eq!(error.code(), "forbidden");
}
