//! Creating a room: groups, direct rooms, who may be in them.

use super::*;

#[test]
fn creator_owns_a_group_and_members_are_deduplicated() {
    given(vec![])
        .when(create(RoomKind::Group, vec![BOB, ALICE, CAROL, BOB]))
        .then_expect_events(vec![group_created(JoinRule::Invite)]);
}

#[test]
fn a_group_may_start_with_only_its_creator() {
    let events = given(vec![]).when(create(RoomKind::Group, vec![])).inspect_result().unwrap();
    let room = room_from(&events);
    assert_eq!(room.owner(), Some(ALICE));
    assert_eq!(room.members().len(), 1);
}

#[test]
fn direct_room_between_two_people_is_invite_only() {
    let command = RoomCommand::CreateRoom {
        room_id: ROOM,
        kind: RoomKind::Direct,
        name: None,
        description: None,
        join_rule: JoinRule::Open,
        creator: ALICE,
        members: vec![BOB],
        at: t0(),
    };
    given(vec![]).when(command).then_expect_events(vec![direct_created()]);
}

#[test]
fn direct_room_needs_exactly_one_other_member() {
    for members in [vec![], vec![ALICE], vec![BOB, CAROL]] {
        let error = given(vec![]).when(create(RoomKind::Direct, members)).inspect_result().unwrap_err();
        assert_eq!(error.code(), "invalid_value");
    }
}

#[test]
fn direct_room_is_refused_when_either_side_blocked_the_other() {
    for (blocker, blocked) in [(BOB, ALICE), (ALICE, BOB)] {
        let lookup = InMemoryRoomLookup::new();
        lookup.block(blocker, blocked);
        given_with(&lookup, vec![])
            .when(create(RoomKind::Direct, vec![BOB]))
            .then_expect_error(DomainError::Blocked);
    }
}

#[test]
fn creating_twice_is_refused() {
    given(group()).when(create(RoomKind::Group, vec![])).then_expect_error(DomainError::AlreadyExists);
}

#[test]
fn a_failing_lookup_is_unavailable_not_a_refusal() {
    let lookup = InMemoryRoomLookup::new();
    lookup.set_failing(true);
    let error = given_with(&lookup, vec![]).when(create(RoomKind::Direct, vec![BOB])).inspect_result();
    assert_eq!(error.unwrap_err().code(), "unavailable");
}
