//! Editing a message within its window.

use super::*;

fn edit(actor: ciphertalk_domain::UserId, when: chrono::DateTime<chrono::Utc>) -> RoomCommand {
    RoomCommand::EditMessage { actor, message_id: mid(1), ciphertext: ct("edited"), at: when }
}

fn with_message(deleted: bool) -> AggregateTestExecutor<Room> {
    let lookup = lookup_with(&[(1, BOB, 1, t0(), deleted)]);
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    given_with(&lookup, events)
}

#[test]
fn sender_edits_within_48_hours() {
    let deadline = t0() + EDIT_WINDOW;
    with_message(false).when(edit(BOB, deadline)).then_expect_events(vec![RoomEvent::MessageEdited {
        message_id: mid(1),
        seq: 1,
        by: BOB,
        ciphertext: ct("edited"),
        at: deadline,
    }]);
}

#[test]
fn after_48_hours_the_window_is_closed() {
    with_message(false)
        .when(edit(BOB, t0() + EDIT_WINDOW + TimeDelta::seconds(1)))
        .then_expect_error(DomainError::EditWindowClosed);
}

#[test]
fn only_the_sender_edits() {
    let error = with_message(false).when(edit(ALICE, at(1))).inspect_result().unwrap_err();
    assert_eq!(error.code(), "forbidden");
}

#[test]
fn deleted_unknown_and_non_member() {
    with_message(true).when(edit(BOB, at(1))).then_expect_error(DomainError::Gone);
    given(group()).when(edit(BOB, at(1))).then_expect_error(DomainError::MessageNotFound);
    with_message(false).when(edit(EVE, at(1))).then_expect_error(DomainError::NotAMember);
    given(vec![]).when(edit(BOB, at(1))).then_expect_error(DomainError::RoomNotFound);
}
