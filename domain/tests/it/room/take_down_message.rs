//! Moderator takedowns.

use super::*;

fn take_down() -> RoomCommand {
    RoomCommand::TakeDownMessage { moderator: EVE, message_id: mid(1), report_id: Some(repid(1)), at: at(20) }
}

#[test]
fn moderator_takes_down_without_being_a_member() {
    let lookup = lookup_with(&[(1, BOB, 1, t0(), false)]);
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    given_with(&lookup, events).when(take_down()).then_expect_events(vec![RoomEvent::MessageTakenDown {
        message_id: mid(1),
        seq: 1,
        moderator: EVE,
        report_id: Some(repid(1)),
        at: at(20),
    }]);
}

#[test]
fn unknown_message_and_room() {
    given(group()).when(take_down()).then_expect_error(DomainError::MessageNotFound);
    given(vec![]).when(take_down()).then_expect_error(DomainError::RoomNotFound);
}
