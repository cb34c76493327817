//! Invitations and joins, open and invite-only, and a direct room reopened.

use super::*;

#[test]
fn member_invites_and_invitee_joins_invite_only_room() {
    given(group())
        .when(RoomCommand::InviteMember { actor: BOB, user: DAVE, at: at(1) })
        .then_expect_events(vec![RoomEvent::MemberInvited { user: DAVE, by: BOB, at: at(1) }]);
    let mut events = group();
    events.push(RoomEvent::MemberInvited { user: DAVE, by: BOB, at: at(1) });
    given(events.clone()).when(RoomCommand::JoinRoom { user: DAVE, at: at(2) }).then_expect_events(vec![
        RoomEvent::MemberJoined { user: DAVE, role: Role::Member, by: DAVE, at: at(2) },
    ]);
    events.push(RoomEvent::MemberJoined { user: DAVE, role: Role::Member, by: DAVE, at: at(2) });
    assert!(room_from(&events).invited().is_empty(), "joining consumes the invite");
}

#[test]
fn inviting_twice_emits_nothing_and_members_cannot_be_invited() {
    let mut events = group();
    events.push(RoomEvent::MemberInvited { user: DAVE, by: BOB, at: at(1) });
    given(events)
        .when(RoomCommand::InviteMember { actor: ALICE, user: DAVE, at: at(2) })
        .then_expect_events(vec![]);
    given(group())
        .when(RoomCommand::InviteMember { actor: ALICE, user: BOB, at: at(2) })
        .then_expect_error(DomainError::AlreadyMember);
}

#[test]
fn invite_needs_membership_a_group_and_a_room() {
    given(group())
        .when(RoomCommand::InviteMember { actor: EVE, user: DAVE, at: at(1) })
        .then_expect_error(DomainError::NotAMember);
    let error = given(vec![direct_created()])
        .when(RoomCommand::InviteMember { actor: ALICE, user: DAVE, at: at(1) })
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code(), "forbidden");
    given(vec![])
        .when(RoomCommand::InviteMember { actor: ALICE, user: DAVE, at: at(1) })
        .then_expect_error(DomainError::RoomNotFound);
}

#[test]
fn anyone_joins_an_open_room() {
    given(vec![group_created(JoinRule::Open)])
        .when(RoomCommand::JoinRoom { user: EVE, at: at(1) })
        .then_expect_events(vec![RoomEvent::MemberJoined {
            user: EVE,
            role: Role::Member,
            by: EVE,
            at: at(1),
        }]);
}

#[test]
fn uninvited_user_cannot_join_invite_only_room() {
    let error =
        given(group()).when(RoomCommand::JoinRoom { user: EVE, at: at(1) }).inspect_result().unwrap_err();
    assert_eq!(error.code(), "forbidden");
}

#[test]
fn join_rules_for_members_direct_rooms_abandoned_and_unknown_rooms() {
    given(group())
        .when(RoomCommand::JoinRoom { user: BOB, at: at(1) })
        .then_expect_error(DomainError::AlreadyMember);
    let error =
        given(vec![direct_created()]).when(RoomCommand::JoinRoom { user: EVE, at: at(1) }).inspect_result();
    assert_eq!(error.unwrap_err().code(), "forbidden");
    let abandoned = vec![
        group_created(JoinRule::Open),
        RoomEvent::MemberLeft { user: BOB, by: BOB, at: at(1) },
        RoomEvent::MemberLeft { user: CAROL, by: CAROL, at: at(1) },
        RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(1) },
    ];
    given(abandoned)
        .when(RoomCommand::JoinRoom { user: EVE, at: at(2) })
        .then_expect_error(DomainError::Gone);
    given(vec![])
        .when(RoomCommand::JoinRoom { user: EVE, at: at(1) })
        .then_expect_error(DomainError::RoomNotFound);
}

#[test]
fn either_of_a_direct_pair_opening_it_again_brings_back_whoever_left() {
    let left = |user| RoomEvent::MemberLeft { user, by: user, at: at(1) };
    given(vec![direct_created(), left(BOB)])
        .when(RoomCommand::JoinRoom { user: BOB, at: at(2) })
        .then_expect_events(vec![RoomEvent::MemberJoined {
            user: BOB,
            role: Role::Member,
            by: BOB,
            at: at(2),
        }]);
    given(vec![direct_created(), left(BOB)])
        .when(RoomCommand::JoinRoom { user: ALICE, at: at(2) })
        .then_expect_events(vec![RoomEvent::MemberJoined {
            user: BOB,
            role: Role::Member,
            by: ALICE,
            at: at(2),
        }]);
    // Both gone: the first back owns the room again.
    given(vec![direct_created(), left(ALICE), left(BOB)])
        .when(RoomCommand::JoinRoom { user: BOB, at: at(2) })
        .then_expect_events(vec![
            RoomEvent::MemberJoined { user: ALICE, role: Role::Owner, by: BOB, at: at(2) },
            RoomEvent::MemberJoined { user: BOB, role: Role::Member, by: BOB, at: at(2) },
        ]);
    given(vec![direct_created()])
        .when(RoomCommand::JoinRoom { user: BOB, at: at(2) })
        .then_expect_error(DomainError::AlreadyMember);
    let lookup = InMemoryRoomLookup::new();
    lookup.block(ALICE, BOB);
    given_with(&lookup, vec![direct_created(), left(BOB)])
        .when(RoomCommand::JoinRoom { user: BOB, at: at(2) })
        .then_expect_error(DomainError::Blocked);
}
