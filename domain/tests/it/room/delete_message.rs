//! Deleting for everyone and hiding for oneself.

use super::*;

fn delete(actor: ciphertalk_domain::UserId, scope: DeleteScope) -> RoomCommand {
    RoomCommand::DeleteMessage { actor, message_id: mid(1), scope, at: at(9) }
}

fn with_message(deleted: bool, extra: &[RoomEvent]) -> AggregateTestExecutor<Room> {
    let lookup = lookup_with(&[(1, BOB, 1, t0(), deleted)]);
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    events.extend_from_slice(extra);
    given_with(&lookup, events)
}

#[test]
fn sender_deletes_for_everyone() {
    with_message(false, &[]).when(delete(BOB, DeleteScope::ForEveryone)).then_expect_events(vec![
        RoomEvent::MessageDeleted { message_id: mid(1), seq: 1, by: BOB, at: at(9) },
    ]);
}

#[test]
fn owner_and_admins_delete_anyones_message() {
    with_message(false, &[]).when(delete(ALICE, DeleteScope::ForEveryone)).then_expect_events(vec![
        RoomEvent::MessageDeleted { message_id: mid(1), seq: 1, by: ALICE, at: at(9) },
    ]);
    with_message(false, &[promoted(CAROL, Role::Admin)])
        .when(delete(CAROL, DeleteScope::ForEveryone))
        .then_expect_events(vec![RoomEvent::MessageDeleted {
            message_id: mid(1),
            seq: 1,
            by: CAROL,
            at: at(9),
        }]);
}

#[test]
fn another_member_may_not_delete_for_everyone() {
    let error = with_message(false, &[]).when(delete(CAROL, DeleteScope::ForEveryone)).inspect_result();
    assert_eq!(error.unwrap_err().code(), "forbidden");
}

#[test]
fn any_member_hides_for_themselves() {
    with_message(false, &[]).when(delete(CAROL, DeleteScope::ForMe)).then_expect_events(vec![
        RoomEvent::MessageHidden { message_id: mid(1), seq: 1, user: CAROL, at: at(9) },
    ]);
}

#[test]
fn deleting_a_deleted_message_emits_nothing() {
    with_message(true, &[]).when(delete(BOB, DeleteScope::ForEveryone)).then_expect_events(vec![]);
}

#[test]
fn unknown_message_non_member_unknown_room() {
    given(group()).when(delete(BOB, DeleteScope::ForMe)).then_expect_error(DomainError::MessageNotFound);
    with_message(false, &[]).when(delete(EVE, DeleteScope::ForMe)).then_expect_error(DomainError::NotAMember);
    given(vec![]).when(delete(BOB, DeleteScope::ForMe)).then_expect_error(DomainError::RoomNotFound);
}
