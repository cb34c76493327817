//! Delivered and read receipts.

use super::*;

fn receipt(user: ciphertalk_domain::UserId, up_to_seq: u64, kind: ReceiptKind) -> RoomCommand {
    RoomCommand::UpdateReceipt { user, up_to_seq, kind, at: at(10) }
}

fn three_messages(extra: &[RoomEvent]) -> Vec<RoomEvent> {
    let mut events = group();
    events.extend([sent(ALICE, 1, 1), sent(ALICE, 2, 2), sent(ALICE, 3, 3)]);
    events.extend_from_slice(extra);
    events
}

#[test]
fn receipts_advance() {
    for kind in [ReceiptKind::Delivered, ReceiptKind::Read] {
        given(three_messages(&[])).when(receipt(BOB, 2, kind)).then_expect_events(vec![
            RoomEvent::ReceiptUpdated { user: BOB, kind, up_to_seq: 2, at: at(10) },
        ]);
    }
}

#[test]
fn receipts_never_go_backwards_and_read_implies_delivered() {
    let read = RoomEvent::ReceiptUpdated { user: BOB, kind: ReceiptKind::Read, up_to_seq: 2, at: at(9) };
    let events = three_messages(&[read]);
    given(events.clone()).when(receipt(BOB, 1, ReceiptKind::Read)).then_expect_events(vec![]);
    given(events.clone()).when(receipt(BOB, 2, ReceiptKind::Delivered)).then_expect_events(vec![]);
    assert_eq!(room_from(&events).receipt(BOB).unwrap().delivered_up_to, 2);
}

#[test]
fn receipts_never_pass_the_last_message() {
    let error = given(three_messages(&[])).when(receipt(BOB, 4, ReceiptKind::Read)).inspect_result();
    assert_eq!(error.unwrap_err().code(), "invalid_value");
}

#[test]
fn non_member_and_unknown_room() {
    given(three_messages(&[]))
        .when(receipt(EVE, 1, ReceiptKind::Read))
        .then_expect_error(DomainError::NotAMember);
    given(vec![]).when(receipt(EVE, 1, ReceiptKind::Read)).then_expect_error(DomainError::RoomNotFound);
}
