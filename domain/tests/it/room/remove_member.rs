//! Removing lower-ranked members.

use super::*;

fn remove(actor: ciphertalk_domain::UserId, user: ciphertalk_domain::UserId) -> RoomCommand {
    RoomCommand::RemoveMember { actor, user, at: at(4) }
}

#[test]
fn admin_removes_a_member() {
    let mut events = group();
    events.push(promoted(BOB, Role::Admin));
    given(events).when(remove(BOB, CAROL)).then_expect_events(vec![RoomEvent::MemberLeft {
        user: CAROL,
        by: BOB,
        at: at(4),
    }]);
}

#[test]
fn refusals() {
    let mut events = group();
    events.push(promoted(BOB, Role::Admin));
    let forbidden = |events: &[RoomEvent], command: RoomCommand| {
        let error = given(events.to_vec()).when(command).inspect_result().unwrap_err();
        assert_eq!(error.code(), "forbidden");
    };
    forbidden(&events, remove(BOB, ALICE)); // admin on the owner
    forbidden(&events, remove(ALICE, ALICE)); // yourself: leave instead
    forbidden(&events, remove(CAROL, BOB)); // member on an admin
    forbidden(&group(), remove(BOB, CAROL)); // plain member on a member
    forbidden(&[direct_created()], remove(ALICE, BOB));
    given(events.clone()).when(remove(ALICE, EVE)).then_expect_error(DomainError::MemberNotFound);
    given(events).when(remove(EVE, BOB)).then_expect_error(DomainError::NotAMember);
    given(vec![]).when(remove(ALICE, BOB)).then_expect_error(DomainError::RoomNotFound);
}
