//! The room's member limit.

use super::*;

/// A room of at most three members (Alice, Bob and Carol fill it).
fn given_max_three(events: Vec<RoomEvent>) -> AggregateTestExecutor<Room> {
    TestFramework::<Room>::with(InMemoryRoomLookup::new().services().with_max_members(3)).given(events)
}

#[test]
fn a_room_may_be_created_at_its_maximum_but_not_over_it() {
    given_max_three(vec![])
        .when(create(RoomKind::Group, vec![BOB, CAROL]))
        .then_expect_events(vec![group_created(JoinRule::Invite)]);
    let refused = given_max_three(vec![]).when(create(RoomKind::Group, vec![BOB, CAROL, DAVE]));
    assert!(matches!(
        refused.inspect_result(),
        Err(DomainError::Invalid(invalid)) if invalid.field == "members"
    ));
}

#[test]
fn a_full_room_takes_no_join_and_no_add() {
    let open = vec![group_created(JoinRule::Open)];
    given_max_three(open.clone())
        .when(RoomCommand::JoinRoom { user: DAVE, at: at(1) })
        .then_expect_error(DomainError::RoomFull);
    given_max_three(open)
        .when(RoomCommand::AddMember { actor: ALICE, user: DAVE, role: Role::Member, at: at(1) })
        .then_expect_error(DomainError::RoomFull);
}

#[test]
fn a_member_leaving_makes_room_for_one_more() {
    let events =
        vec![group_created(JoinRule::Open), RoomEvent::MemberLeft { user: CAROL, by: CAROL, at: at(1) }];
    given_max_three(events).when(RoomCommand::JoinRoom { user: DAVE, at: at(2) }).then_expect_events(vec![
        RoomEvent::MemberJoined { user: DAVE, role: Role::Member, by: DAVE, at: at(2) },
    ]);
}
