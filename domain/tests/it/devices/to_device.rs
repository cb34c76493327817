//! To-device batches and the outbox that records them.

use super::*;

fn message(user_id: UserId, device_id: DeviceId, bytes: usize) -> ToDeviceMessage {
    ToDeviceMessage {
        user_id,
        device_id,
        kind: ToDeviceKind::parse("olm.prekey").unwrap(),
        ciphertext: b64ct(bytes),
    }
}

fn b64ct(bytes: usize) -> ciphertalk_domain::values::Ciphertext {
    ciphertalk_domain::values::Ciphertext::parse(b64(&vec![7; bytes]).as_str()).unwrap()
}

fn batch(messages: Vec<ToDeviceMessage>) -> Result<ToDeviceBatch, DomainError> {
    ToDeviceBatch::parse(
        BatchId::parse("b-1").unwrap(),
        messages,
        &ToDeviceLimits { max_messages: 3, max_bytes: 100 },
    )
}

#[test]
fn a_batch_holds_one_to_max_messages_within_max_bytes() {
    assert_eq!(batch(vec![]).unwrap_err().code(), "invalid_value");
    assert!(batch(vec![message(BOB, LAPTOP, 50), message(BOB, TABLET, 50)]).is_ok());
    assert_eq!(batch(vec![message(BOB, LAPTOP, 1); 4]).unwrap_err().code(), "too_large");
    assert_eq!(
        batch(vec![message(BOB, LAPTOP, 51), message(BOB, TABLET, 50)]).unwrap_err().code(),
        "too_large"
    );
}

#[test]
fn batch_ids_and_kinds_are_validated() {
    assert!(BatchId::parse(&"b".repeat(64)).is_ok());
    for bad in ["", "tab\there", &"b".repeat(65)] {
        assert!(BatchId::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(ToDeviceKind::parse("m.room_key/v2:x-y_z").is_ok());
    for bad in ["", "has space", "ü", &"k".repeat(65)] {
        assert!(ToDeviceKind::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn only_own_devices_and_reachable_users_may_be_sent_to() {
    let sent = batch(vec![message(ALICE, LAPTOP, 1), message(BOB, TABLET, 1)]).unwrap();
    assert_eq!(sent.recipients(), BTreeSet::from([ALICE, BOB]));
    assert_eq!(sent.authorise(ALICE, |user| user == BOB), Ok(()));
    let refused = sent.authorise(ALICE, |_| false).unwrap_err();
    assert_eq!((refused.code(), refused.kind()), ("not_allowed", ciphertalk_domain::ErrorKind::Forbidden));
    assert_eq!(batch(vec![message(ALICE, LAPTOP, 1)]).unwrap().authorise(ALICE, |_| false), Ok(()));
}

fn send(from_user: UserId, batch: ToDeviceBatch) -> ToDeviceCommand {
    ToDeviceCommand::SendToDevice { from_user, from_device: FIRST, batch, at: at(1) }
}

#[test]
fn the_outbox_records_the_batch_whole_and_in_order() {
    let messages = vec![message(BOB, LAPTOP, 3), message(CAROL, TABLET, 2), message(BOB, TABLET, 1)];
    let sent = ToDeviceEvent::ToDeviceSent {
        from_user: ALICE,
        from_device: FIRST,
        batch_id: BatchId::parse("b-1").unwrap(),
        messages: messages.clone(),
        at: at(1),
    };
    TestFramework::<Outbox>::with(())
        .given_no_previous_events()
        .when(send(ALICE, batch(messages).unwrap()))
        .then_expect_events(vec![sent.clone()]);
    assert_eq!(sent.idempotency_key(), format!("to-device:{FIRST}:b-1"));
    let delivered: Vec<UserId> =
        sent.deliverable(|user| user == CAROL).map(|message| message.user_id).collect();
    assert_eq!(delivered, [BOB, BOB], "Carol blocked Alice: hers is dropped");
    let error = TestFramework::<Outbox>::with(())
        .given(vec![sent])
        .when(send(BOB, batch(vec![message(CAROL, TABLET, 1)]).unwrap()))
        .inspect_result();
    assert_eq!(error.unwrap_err().code(), "forbidden");
}
