//! Leaving, and the hand-over of ownership.

use super::*;

#[test]
fn member_leaves() {
    given(group())
        .when(RoomCommand::LeaveRoom { user: BOB, at: at(3) })
        .then_expect_events(vec![RoomEvent::MemberLeft { user: BOB, by: BOB, at: at(3) }]);
}

#[test]
fn leaving_owner_hands_over_to_the_longest_standing_admin() {
    let mut events = group();
    events.push(RoomEvent::MemberJoined { user: DAVE, role: Role::Admin, by: ALICE, at: at(1) });
    events.push(promoted(CAROL, Role::Admin));
    // Carol joined before Dave, so she is the longest-standing admin.
    given(events).when(RoomCommand::LeaveRoom { user: ALICE, at: at(3) }).then_expect_events(vec![
        RoomEvent::MemberRoleChanged { user: CAROL, role: Role::Owner, by: ALICE, at: at(3) },
        RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(3) },
    ]);
}

#[test]
fn leaving_owner_without_admins_hands_over_to_the_longest_standing_member() {
    given(group()).when(RoomCommand::LeaveRoom { user: ALICE, at: at(3) }).then_expect_events(vec![
        RoomEvent::MemberRoleChanged { user: BOB, role: Role::Owner, by: ALICE, at: at(3) },
        RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(3) },
    ]);
}

#[test]
fn last_member_may_leave() {
    let events = vec![
        group_created(JoinRule::Invite),
        RoomEvent::MemberLeft { user: BOB, by: BOB, at: at(1) },
        RoomEvent::MemberLeft { user: CAROL, by: CAROL, at: at(1) },
    ];
    given(events)
        .when(RoomCommand::LeaveRoom { user: ALICE, at: at(3) })
        .then_expect_events(vec![RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(3) }]);
}

#[test]
fn non_member_and_unknown_room() {
    given(group())
        .when(RoomCommand::LeaveRoom { user: EVE, at: at(3) })
        .then_expect_error(DomainError::NotAMember);
    given(vec![])
        .when(RoomCommand::LeaveRoom { user: EVE, at: at(3) })
        .then_expect_error(DomainError::RoomNotFound);
}
