//! Adding members with a role.

use super::*;

fn add(actor: ciphertalk_domain::UserId, user: ciphertalk_domain::UserId, role: Role) -> RoomCommand {
    RoomCommand::AddMember { actor, user, role, at: at(4) }
}

#[test]
fn owner_adds_members_and_admins() {
    for role in [Role::Member, Role::Admin] {
        given(group()).when(add(ALICE, DAVE, role)).then_expect_events(vec![RoomEvent::MemberJoined {
            user: DAVE,
            role,
            by: ALICE,
            at: at(4),
        }]);
    }
}

#[test]
fn admin_grants_up_to_admin() {
    let mut events = group();
    events.push(promoted(BOB, Role::Admin));
    given(events).when(add(BOB, DAVE, Role::Admin)).then_expect_events(vec![RoomEvent::MemberJoined {
        user: DAVE,
        role: Role::Admin,
        by: BOB,
        at: at(4),
    }]);
}

#[test]
fn refusals() {
    let forbidden = |events: Vec<RoomEvent>, command: RoomCommand| {
        assert_eq!(given(events).when(command).inspect_result().unwrap_err().code(), "forbidden");
    };
    forbidden(group(), add(BOB, DAVE, Role::Member));
    forbidden(group(), add(ALICE, DAVE, Role::Owner));
    forbidden(vec![direct_created()], add(ALICE, DAVE, Role::Member));
    given(group()).when(add(ALICE, BOB, Role::Member)).then_expect_error(DomainError::AlreadyMember);
    given(group()).when(add(EVE, DAVE, Role::Member)).then_expect_error(DomainError::NotAMember);
    given(vec![]).when(add(ALICE, DAVE, Role::Member)).then_expect_error(DomainError::RoomNotFound);
}
