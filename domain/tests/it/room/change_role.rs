//! Promotions and demotions by rank.

use super::*;

fn change(actor: ciphertalk_domain::UserId, user: ciphertalk_domain::UserId, role: Role) -> RoomCommand {
    RoomCommand::ChangeRole { actor, user, role, at: at(4) }
}

#[test]
fn owner_promotes_and_demotes() {
    given(group()).when(change(ALICE, BOB, Role::Admin)).then_expect_events(vec![
        RoomEvent::MemberRoleChanged { user: BOB, role: Role::Admin, by: ALICE, at: at(4) },
    ]);
    let mut events = group();
    events.push(promoted(BOB, Role::Admin));
    given(events).when(change(ALICE, BOB, Role::Member)).then_expect_events(vec![
        RoomEvent::MemberRoleChanged { user: BOB, role: Role::Member, by: ALICE, at: at(4) },
    ]);
}

#[test]
fn same_role_emits_nothing() {
    given(group()).when(change(ALICE, BOB, Role::Member)).then_expect_events(vec![]);
}

#[test]
fn refusals() {
    let mut admins = group();
    admins.push(promoted(BOB, Role::Admin));
    admins.push(promoted(CAROL, Role::Admin));
    let forbidden = |events: &[RoomEvent], command: RoomCommand| {
        let error = given(events.to_vec()).when(command).inspect_result().unwrap_err();
        assert_eq!(error.code(), "forbidden");
    };
    forbidden(&admins, change(BOB, CAROL, Role::Member)); // admin on an equal
    forbidden(&admins, change(BOB, ALICE, Role::Member)); // admin on the owner
    forbidden(&admins, change(ALICE, BOB, Role::Owner)); // owner is never granted
    forbidden(&group(), change(BOB, CAROL, Role::Admin)); // plain member
    forbidden(&[direct_created()], change(ALICE, BOB, Role::Admin));
    given(group()).when(change(ALICE, EVE, Role::Admin)).then_expect_error(DomainError::MemberNotFound);
    given(group()).when(change(EVE, BOB, Role::Admin)).then_expect_error(DomainError::NotAMember);
    given(vec![]).when(change(ALICE, BOB, Role::Admin)).then_expect_error(DomainError::RoomNotFound);
}
