//! Given/when/then for every room command: the happy path and each rule.

use std::sync::Arc;

use chrono::TimeDelta;
use ciphertalk_domain::DomainError;
use ciphertalk_domain::room::franking::FrankingInput;
use ciphertalk_domain::room::{
    DeleteScope, EDIT_WINDOW, Franker, JoinRule, MAX_FILES_PER_MESSAGE, ReceiptKind, Role, Room, RoomCommand,
    RoomEvent, RoomKind,
};
use ciphertalk_domain::testing::InMemoryRoomLookup;
use ciphertalk_domain::values::{Base64Bytes, Commitment, ContentType, FrankingKeyId, RoomDescription};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};

use crate::support::*;

fn given(events: Vec<RoomEvent>) -> AggregateTestExecutor<Room> {
    TestFramework::<Room>::with(InMemoryRoomLookup::new().services()).given(events)
}

fn given_with(lookup: &Arc<InMemoryRoomLookup>, events: Vec<RoomEvent>) -> AggregateTestExecutor<Room> {
    TestFramework::<Room>::with(lookup.services()).given(events)
}

fn group() -> Vec<RoomEvent> {
    vec![group_created(JoinRule::Invite)]
}

fn promoted(user: ciphertalk_domain::UserId, role: Role) -> RoomEvent {
    RoomEvent::MemberRoleChanged { user, role, by: ALICE, at: at(1) }
}

fn create(kind: RoomKind, members: Vec<ciphertalk_domain::UserId>) -> RoomCommand {
    RoomCommand::CreateRoom {
        room_id: ROOM,
        kind,
        name: (kind == RoomKind::Group).then(|| room_name("Team")),
        description: None,
        join_rule: JoinRule::Invite,
        creator: ALICE,
        members,
        at: t0(),
    }
}

mod create_room {
    use super::*;

    #[test]
    fn creator_owns_a_group_and_members_are_deduplicated() {
        given(vec![])
            .when(create(RoomKind::Group, vec![BOB, ALICE, CAROL, BOB]))
            .then_expect_events(vec![group_created(JoinRule::Invite)]);
    }

    #[test]
    fn a_group_may_start_with_only_its_creator() {
        let events = given(vec![]).when(create(RoomKind::Group, vec![])).inspect_result().unwrap();
        let room = room_from(&events);
        assert_eq!(room.owner(), Some(ALICE));
        assert_eq!(room.members().len(), 1);
    }

    #[test]
    fn direct_room_between_two_people_is_invite_only() {
        let command = RoomCommand::CreateRoom {
            room_id: ROOM,
            kind: RoomKind::Direct,
            name: None,
            description: None,
            join_rule: JoinRule::Open,
            creator: ALICE,
            members: vec![BOB],
            at: t0(),
        };
        given(vec![]).when(command).then_expect_events(vec![direct_created()]);
    }

    #[test]
    fn direct_room_needs_exactly_one_other_member() {
        for members in [vec![], vec![ALICE], vec![BOB, CAROL]] {
            let error = given(vec![]).when(create(RoomKind::Direct, members)).inspect_result().unwrap_err();
            assert_eq!(error.code(), "invalid_value");
        }
    }

    #[test]
    fn direct_room_is_refused_when_either_side_blocked_the_other() {
        for (blocker, blocked) in [(BOB, ALICE), (ALICE, BOB)] {
            let lookup = InMemoryRoomLookup::new();
            lookup.block(blocker, blocked);
            given_with(&lookup, vec![])
                .when(create(RoomKind::Direct, vec![BOB]))
                .then_expect_error(DomainError::Blocked);
        }
    }

    #[test]
    fn creating_twice_is_refused() {
        given(group()).when(create(RoomKind::Group, vec![])).then_expect_error(DomainError::AlreadyExists);
    }

    #[test]
    fn a_failing_lookup_is_unavailable_not_a_refusal() {
        let lookup = InMemoryRoomLookup::new();
        lookup.set_failing(true);
        let error = given_with(&lookup, vec![]).when(create(RoomKind::Direct, vec![BOB])).inspect_result();
        assert_eq!(error.unwrap_err().code(), "unavailable");
    }
}

mod update_room {
    use super::*;

    fn update(actor: ciphertalk_domain::UserId) -> RoomCommand {
        RoomCommand::UpdateRoom {
            actor,
            name: Some(room_name("Renamed")),
            description: Some(Some(RoomDescription::parse("about").unwrap())),
            photo_file_id: Some(Some(fid(1))),
            join_rule: Some(JoinRule::Open),
            at: at(5),
        }
    }

    #[test]
    fn owner_changes_settings() {
        given(group()).when(update(ALICE)).then_expect_events(vec![RoomEvent::RoomUpdated {
            name: Some(room_name("Renamed")),
            description: Some(RoomDescription::parse("about").unwrap()),
            photo_file_id: Some(fid(1)),
            join_rule: JoinRule::Open,
            by: ALICE,
            at: at(5),
        }]);
    }

    #[test]
    fn admin_changes_settings_and_can_clear_fields() {
        let mut events = group();
        events.push(promoted(BOB, Role::Admin));
        events.push(RoomEvent::RoomUpdated {
            name: Some(room_name("Team")),
            description: Some(RoomDescription::parse("old").unwrap()),
            photo_file_id: Some(fid(1)),
            join_rule: JoinRule::Invite,
            by: ALICE,
            at: at(2),
        });
        let command = RoomCommand::UpdateRoom {
            actor: BOB,
            name: None,
            description: Some(None),
            photo_file_id: Some(None),
            join_rule: None,
            at: at(5),
        };
        given(events).when(command).then_expect_events(vec![RoomEvent::RoomUpdated {
            name: Some(room_name("Team")),
            description: None,
            photo_file_id: None,
            join_rule: JoinRule::Invite,
            by: BOB,
            at: at(5),
        }]);
    }

    #[test]
    fn unchanged_settings_emit_nothing() {
        let command = RoomCommand::UpdateRoom {
            actor: ALICE,
            name: Some(room_name("Team")),
            description: None,
            photo_file_id: None,
            join_rule: Some(JoinRule::Invite),
            at: at(5),
        };
        given(group()).when(command).then_expect_events(vec![]);
    }

    #[test]
    fn plain_member_is_forbidden() {
        let error = given(group()).when(update(BOB)).inspect_result().unwrap_err();
        assert_eq!(error.code(), "forbidden");
    }

    #[test]
    fn non_member_is_not_a_member() {
        given(group()).when(update(EVE)).then_expect_error(DomainError::NotAMember);
    }

    #[test]
    fn unknown_room_is_not_found() {
        given(vec![]).when(update(ALICE)).then_expect_error(DomainError::RoomNotFound);
    }

    #[test]
    fn direct_rooms_have_no_settings() {
        let error = given(vec![direct_created()]).when(update(ALICE)).inspect_result().unwrap_err();
        assert_eq!(error.code(), "forbidden");
    }
}

mod invite_and_join {
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
        let error = given(vec![direct_created()])
            .when(RoomCommand::JoinRoom { user: EVE, at: at(1) })
            .inspect_result();
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
}

mod leave_room {
    use super::*;

    #[test]
    fn member_leaves() {
        given(group())
            .when(RoomCommand::LeaveRoom { user: BOB, at: at(3) })
            .then_expect_events(vec![RoomEvent::MemberLeft { user: BOB, by: BOB, at: at(3) }]);
    }

    #[test]
    fn leaving_owner_hands_over_to_the_longest_standing_admin() {
        let mut events = group();
        events.push(RoomEvent::MemberJoined { user: DAVE, role: Role::Admin, by: ALICE, at: at(1) });
        events.push(promoted(CAROL, Role::Admin));
        // Carol joined before Dave, so she is the longest-standing admin.
        given(events).when(RoomCommand::LeaveRoom { user: ALICE, at: at(3) }).then_expect_events(vec![
            RoomEvent::MemberRoleChanged { user: CAROL, role: Role::Owner, by: ALICE, at: at(3) },
            RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(3) },
        ]);
    }

    #[test]
    fn leaving_owner_without_admins_hands_over_to_the_longest_standing_member() {
        given(group()).when(RoomCommand::LeaveRoom { user: ALICE, at: at(3) }).then_expect_events(vec![
            RoomEvent::MemberRoleChanged { user: BOB, role: Role::Owner, by: ALICE, at: at(3) },
            RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(3) },
        ]);
    }

    #[test]
    fn last_member_may_leave() {
        let events = vec![
            group_created(JoinRule::Invite),
            RoomEvent::MemberLeft { user: BOB, by: BOB, at: at(1) },
            RoomEvent::MemberLeft { user: CAROL, by: CAROL, at: at(1) },
        ];
        given(events)
            .when(RoomCommand::LeaveRoom { user: ALICE, at: at(3) })
            .then_expect_events(vec![RoomEvent::MemberLeft { user: ALICE, by: ALICE, at: at(3) }]);
    }

    #[test]
    fn non_member_and_unknown_room() {
        given(group())
            .when(RoomCommand::LeaveRoom { user: EVE, at: at(3) })
            .then_expect_error(DomainError::NotAMember);
        given(vec![])
            .when(RoomCommand::LeaveRoom { user: EVE, at: at(3) })
            .then_expect_error(DomainError::RoomNotFound);
    }
}

mod add_member {
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
}

mod change_role {
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
}

mod remove_member {
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
}

mod send_message {
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
        let command = RoomCommand::SendMessage {
            message_id: mid(2),
            sender: ALICE,
            client_msg_id: cmid("c-2"),
            ciphertext: ct("hi"),
            content_type: ContentType::parse("image/png").unwrap(),
            reply_to: Some(mid(1)),
            file_ids: vec![fid(1), fid(2)],
            forwarded_from: Some(forwarded()),
            commitment: Some(commitment.clone()),
            reporting_tag: Some(b64(&[2; 32])),
            franking_key_id: Some(key_id.clone()),
            sent_at: at(2),
        };
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
        let mut retry = send(BOB, 1);
        if let RoomCommand::SendMessage { message_id, .. } = &mut retry {
            *message_id = mid(77); // the retry came with a fresh server id
        }
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
        given_with(&lookup, vec![direct_created()])
            .when(send(ALICE, 1))
            .then_expect_error(DomainError::Blocked);
        // The blocker may still write.
        given_with(&lookup, vec![direct_created()])
            .when(send(BOB, 1))
            .then_expect_events(vec![sent(BOB, 1, 1)]);
    }

    #[test]
    fn reply_to_must_exist_in_this_room() {
        let mut command = send(BOB, 2);
        if let RoomCommand::SendMessage { reply_to, .. } = &mut command {
            *reply_to = Some(mid(1));
        }
        given(group()).when(command).then_expect_error(DomainError::MessageNotFound);
    }

    #[test]
    fn franking_fields_come_together() {
        let mut command = send(BOB, 1);
        if let RoomCommand::SendMessage { commitment, reporting_tag, .. } = &mut command {
            *commitment = Some(Commitment::from_bytes([1; 32]));
            *reporting_tag = Some(b64(&[2; 32]));
        }
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
        let mut command = send(ALICE, 2);
        if let RoomCommand::SendMessage { commitment: c, .. } = &mut command {
            *c = Some(commitment.clone());
        }
        let mut events = group();
        events.push(sent(BOB, 1, 1));
        let events =
            TestFramework::<Room>::with(services).given(events).when(command).inspect_result().unwrap();
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
        let mut command = send(BOB, 1);
        if let RoomCommand::SendMessage { commitment, .. } = &mut command {
            *commitment = Some(Commitment::from_bytes([1; 32]));
        }
        assert_eq!(given(group()).when(command).inspect_result().unwrap_err().code(), "forbidden");
    }

    #[test]
    fn file_references_are_bounded_and_distinct() {
        let mut too_many = send(BOB, 1);
        if let RoomCommand::SendMessage { file_ids, .. } = &mut too_many {
            *file_ids = (0..=MAX_FILES_PER_MESSAGE as u128).map(fid).collect();
        }
        assert_eq!(given(group()).when(too_many).inspect_result().unwrap_err().code(), "invalid_value");
        let mut duplicated = send(BOB, 1);
        if let RoomCommand::SendMessage { file_ids, .. } = &mut duplicated {
            *file_ids = vec![fid(1), fid(1)];
        }
        assert_eq!(given(group()).when(duplicated).inspect_result().unwrap_err().code(), "invalid_value");
    }
}

mod edit_message {
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
}

mod delete_message {
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
        with_message(false, &[])
            .when(delete(EVE, DeleteScope::ForMe))
            .then_expect_error(DomainError::NotAMember);
        given(vec![]).when(delete(BOB, DeleteScope::ForMe)).then_expect_error(DomainError::RoomNotFound);
    }
}

mod update_receipt {
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
}

mod take_down_message {
    use super::*;

    fn take_down() -> RoomCommand {
        RoomCommand::TakeDownMessage {
            moderator: EVE,
            message_id: mid(1),
            report_id: Some(repid(1)),
            at: at(20),
        }
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
}

#[test]
fn refused_commands_leave_the_room_untouched() {
    let lookup = InMemoryRoomLookup::new();
    let mut room = room_from(&group());
    let before = room.clone();
    assert!(run_room(&mut room, &lookup, send(EVE, 1)).is_err());
    assert!(run_room(&mut room, &lookup, RoomCommand::LeaveRoom { user: EVE, at: at(1) }).is_err());
    assert_eq!(room, before);
}

mod room_size {
    use super::*;

    /// A room of at most three members (Alice, Bob and Carol fill it).
    fn given_max_three(events: Vec<RoomEvent>) -> AggregateTestExecutor<Room> {
        TestFramework::<Room>::with(InMemoryRoomLookup::new().services().with_max_members(3)).given(events)
    }

    #[test]
    fn a_room_may_be_created_at_its_maximum_but_not_over_it() {
        given_max_three(vec![])
            .when(create(RoomKind::Group, vec![BOB, CAROL]))
            .then_expect_events(vec![group_created(JoinRule::Invite)]);
        let refused = given_max_three(vec![]).when(create(RoomKind::Group, vec![BOB, CAROL, DAVE]));
        assert!(matches!(
            refused.inspect_result(),
            Err(DomainError::Invalid(invalid)) if invalid.field == "members"
        ));
    }

    #[test]
    fn a_full_room_takes_no_join_and_no_add() {
        let open = vec![group_created(JoinRule::Open)];
        given_max_three(open.clone())
            .when(RoomCommand::JoinRoom { user: DAVE, at: at(1) })
            .then_expect_error(DomainError::RoomFull);
        given_max_three(open)
            .when(RoomCommand::AddMember { actor: ALICE, user: DAVE, role: Role::Member, at: at(1) })
            .then_expect_error(DomainError::RoomFull);
    }

    #[test]
    fn a_member_leaving_makes_room_for_one_more() {
        let events =
            vec![group_created(JoinRule::Open), RoomEvent::MemberLeft { user: CAROL, by: CAROL, at: at(1) }];
        given_max_three(events).when(RoomCommand::JoinRoom { user: DAVE, at: at(2) }).then_expect_events(
            vec![RoomEvent::MemberJoined { user: DAVE, role: Role::Member, by: DAVE, at: at(2) }],
        );
    }
}
