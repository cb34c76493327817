//! Sending: seqs, idempotency, membership, blocks, replies, franking, files.

use super::*;

#[test]
fn first_message_gets_seq_one_and_the_next_follows() {
    given(group()).when(send(BOB, 1)).then_expect_events(vec![sent(BOB, 1, 1)]);
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    events.push(sent(CAROL, 2, 2));
    given(events).when(send(ALICE, 3)).then_expect_events(vec![sent(ALICE, 3, 3)]);
}

#[test]
fn carries_every_field() {
    let lookup = lookup_with(&[(1, BOB, 1, at(1), false)]);
    let commitment = Commitment::from_bytes([1; 32]);
    let key_id = ciphertalk_domain::values::FrankingKeyId::parse("k1").unwrap();
    let command = SendMessageBuilder::new(mid(2), ALICE, cmid("c-2"), ct("hi"), at(2))
        .content_type(ContentType::parse("image/png").unwrap())
        .reply_to(mid(1))
        .file_ids(vec![fid(1), fid(2)])
        .forwarded_from(forwarded())
        .commitment(commitment.clone())
        .reporting_tag(b64(&[2; 32]))
        .franking_key_id(key_id.clone())
        .build();
    let expected = RoomEvent::MessageSent {
        message_id: mid(2),
        seq: 2,
        sender_id: ALICE,
        client_msg_id: cmid("c-2"),
        ciphertext: ct("hi"),
        content_type: ContentType::parse("image/png").unwrap(),
        reply_to: Some(mid(1)),
        file_ids: vec![fid(1), fid(2)],
        forwarded_from: Some(forwarded()),
        commitment: Some(commitment),
        reporting_tag: Some(b64(&[2; 32])),
        franking_key_id: Some(key_id),
        sent_at: at(2),
    };
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    given_with(&lookup, events).when(command).then_expect_events(vec![expected]);
}

#[test]
fn a_repeated_client_msg_id_emits_nothing_and_finds_the_original() {
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    // The retry came with a fresh server id.
    let retry = SendMessageBuilder::new(mid(77), BOB, cmid("c-1"), ct("hello"), at(1)).build();
    given(events.clone()).when(retry).then_expect_events(vec![]);
    let room = room_from(&events);
    assert_eq!(room.find_client_message(BOB, &cmid("c-1")), Some((mid(1), 1)));
    // Client ids are per sender.
    assert_eq!(room.find_client_message(CAROL, &cmid("c-1")), None);
    given(events).when(send(CAROL, 1)).then_expect_events(vec![sent(CAROL, 1, 2)]);
}

#[test]
fn only_members_send() {
    given(group()).when(send(EVE, 1)).then_expect_error(DomainError::NotAMember);
    given(vec![]).when(send(ALICE, 1)).then_expect_error(DomainError::RoomNotFound);
}

#[test]
fn blocked_sender_cannot_write_in_a_direct_room() {
    let lookup = InMemoryRoomLookup::new();
    lookup.block(BOB, ALICE);
    given_with(&lookup, vec![direct_created()]).when(send(ALICE, 1)).then_expect_error(DomainError::Blocked);
    // The blocker may still write.
    given_with(&lookup, vec![direct_created()]).when(send(BOB, 1)).then_expect_events(vec![sent(BOB, 1, 1)]);
}

#[test]
fn reply_to_must_exist_in_this_room() {
    let command = message(BOB, 2).reply_to(mid(1)).build();
    given(group()).when(command).then_expect_error(DomainError::MessageNotFound);
}

#[test]
fn franking_fields_come_together() {
    let command =
        message(BOB, 1).commitment(Commitment::from_bytes([1; 32])).reporting_tag(b64(&[2; 32])).build();
    assert_eq!(given(group()).when(command).inspect_result().unwrap_err().code(), "invalid_value");
}

/// A stand-in key: the "tag" is the encoded input itself, so the test
/// can see exactly what was bound.
struct EchoFranker(FrankingKeyId);

impl Franker for EchoFranker {
    fn key_id(&self) -> &FrankingKeyId {
        &self.0
    }

    fn tag(&self, encoded: &[u8]) -> Base64Bytes {
        b64(encoded)
    }
}

#[test]
fn a_commitment_alone_is_franked_over_the_seq_the_message_gets() {
    let key_id = FrankingKeyId::parse("fk-test").unwrap();
    let lookup = InMemoryRoomLookup::new();
    let services = lookup.services().with_franker(Arc::new(EchoFranker(key_id.clone())));
    let commitment = Commitment::from_bytes([1; 32]);
    let command = message(ALICE, 2).commitment(commitment.clone()).build();
    let mut events = group();
    events.push(sent(BOB, 1, 1));
    let events = TestFramework::<Room>::with(services).given(events).when(command).inspect_result().unwrap();
    let [RoomEvent::MessageSent { seq, reporting_tag, franking_key_id, sent_at, message_id, .. }] =
        events.as_slice()
    else {
        panic!("expected one MessageSent");
    };
    assert_eq!(*seq, 2);
    assert_eq!(franking_key_id.as_ref(), Some(&key_id));
    let expected = FrankingInput {
        message_id: *message_id,
        room_id: ROOM,
        sender_id: ALICE,
        seq: 2,
        sent_at: *sent_at,
        franking_key_id: &key_id,
        commitment: &commitment,
    };
    assert_eq!(reporting_tag.as_ref().unwrap().to_bytes(), expected.encode());
}

#[test]
fn a_commitment_alone_is_refused_without_a_franking_key() {
    let command = message(BOB, 1).commitment(Commitment::from_bytes([1; 32])).build();
    assert_eq!(given(group()).when(command).inspect_result().unwrap_err().code(), "forbidden");
}

#[test]
fn file_references_are_bounded_and_distinct() {
    let too_many = message(BOB, 1).file_ids((0..=MAX_FILES_PER_MESSAGE as u128).map(fid).collect()).build();
    assert_eq!(given(group()).when(too_many).inspect_result().unwrap_err().code(), "invalid_value");
    let duplicated = message(BOB, 1).file_ids(vec![fid(1), fid(1)]).build();
    assert_eq!(given(group()).when(duplicated).inspect_result().unwrap_err().code(), "invalid_value");
}
