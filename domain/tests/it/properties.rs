//! The seed's correctness properties that the domain decides, as proptests.
//! Each test names its property; where a property is finished by a read
//! model (fan-out, sorting), the test checks the domain's half of it.

use std::collections::{BTreeSet, HashMap};

use chrono::TimeDelta;
use ciphertalk_domain::room::{DeleteScope, JoinRule, ReceiptKind, Role, RoomCommand, RoomEvent, RoomKind};
use ciphertalk_domain::testing::{InMemoryRoomLookup, execute};
use ciphertalk_domain::user::{User, UserCommand, UserEvent};
use ciphertalk_domain::values::{Bio, Email, RoomDescription, Username};
use ciphertalk_domain::{DomainError, FileId, MessageId, UserId};
use cqrs_es::Aggregate as _;
use proptest::prelude::*;
use proptest::sample::select;

use crate::support::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(128)
}

/// Alice owns, Bob is admin, Carol and Dave are members, Eve is outside.
fn staffed_group() -> Vec<RoomEvent> {
    vec![
        group_created(JoinRule::Invite),
        RoomEvent::MemberRoleChanged { user: BOB, role: Role::Admin, by: ALICE, at: at(1) },
        RoomEvent::MemberJoined { user: DAVE, role: Role::Member, by: ALICE, at: at(1) },
    ]
}

const EVERYONE: [UserId; 5] = [ALICE, BOB, CAROL, DAVE, EVE];

fn any_user() -> impl Strategy<Value = UserId> {
    select(EVERYONE.to_vec())
}

fn any_role() -> impl Strategy<Value = Role> {
    select(vec![Role::Owner, Role::Admin, Role::Member])
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(future)
}

fn registered_user() -> User {
    let mut user = User::default();
    user.apply(UserEvent::UserRegistered {
        user_id: ALICE,
        email: Some(Email::parse("alice@example.org").unwrap()),
        phone: None,
        display_name: dn("Alice"),
        device_id: ciphertalk_domain::DeviceId::first_of(ALICE),
        device_name: None,
        at: t0(),
    });
    user
}

fn run_user(user: &mut User, command: UserCommand) -> Result<Vec<UserEvent>, DomainError> {
    block_on(execute(user, command, &()))
}

/// A message by `sender` at t0 in a staffed group, known to the lookup.
fn staffed_group_with_message(
    sender: UserId,
) -> (ciphertalk_domain::room::Room, std::sync::Arc<InMemoryRoomLookup>) {
    let lookup = InMemoryRoomLookup::new();
    let mut room = room_from(&staffed_group());
    run_room(&mut room, &lookup, send_with(mid(1), sender, "c-1", t0())).unwrap();
    (room, lookup)
}

proptest! {
    #![proptest_config(config())]

    // Property 6: Message delivery to all participants.
    // The domain's half: every accepted message is one MessageSent (which the
    // delivery projection fans out to every member) with the next sequence
    // number, gap-free from 1; only members may send; a repeated client id
    // yields the original message instead of a second one.
    #[test]
    fn property_6_every_accepted_message_gets_the_next_seq(
        sends in prop::collection::vec((any_user(), 0_u8..12), 1..60),
    ) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        let mut originals: HashMap<(UserId, u8), (MessageId, u64)> = HashMap::new();
        let mut last = 0;
        for (i, (sender, client)) in sends.into_iter().enumerate() {
            let message_id = mid(i as u128);
            let client_id = format!("c-{client}");
            let result = run_room(&mut room, &lookup, send_with(message_id, sender, &client_id, at(i as i64)));
            if sender == EVE {
                prop_assert_eq!(result, Err(DomainError::NotAMember));
                continue;
            }
            let events = result.unwrap();
            if let Some(original) = originals.get(&(sender, client)) {
                prop_assert!(events.is_empty());
                prop_assert_eq!(room.find_client_message(sender, &cmid(&client_id)), Some(*original));
                continue;
            }
            last += 1;
            prop_assert_eq!(events.len(), 1);
            let RoomEvent::MessageSent { seq, sender_id, message_id: sent_id, .. } = &events[0] else {
                return Err(TestCaseError::fail("not a MessageSent"));
            };
            prop_assert_eq!((*seq, *sender_id, *sent_id), (last, sender, message_id));
            originals.insert((sender, client), (message_id, last));
        }
        prop_assert_eq!(room.last_seq(), last);
    }

    // Property 7: Delivery status tracking.
    // A delivered receipt is recorded exactly when it advances, never moves
    // backwards and never passes the last message.
    #[test]
    fn property_7_delivery_receipts_are_monotonic_and_bounded(
        messages in 0_u64..8,
        updates in prop::collection::vec((select(vec![ALICE, BOB, CAROL]), 0_u64..12), 1..30),
    ) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        for n in 0..messages {
            run_room(&mut room, &lookup, send_with(mid(n.into()), ALICE, &format!("c-{n}"), at(1))).unwrap();
        }
        for (user, up_to_seq) in updates {
            let before = room.receipt(user).unwrap_or_default();
            let command = RoomCommand::UpdateReceipt { user, up_to_seq, kind: ReceiptKind::Delivered, at: at(5) };
            let result = run_room(&mut room, &lookup, command);
            let after = room.receipt(user).unwrap_or_default();
            if up_to_seq > messages {
                prop_assert_eq!(result.unwrap_err().code(), "invalid_value");
            } else if up_to_seq > before.delivered_up_to {
                prop_assert_eq!(result.unwrap().len(), 1);
                prop_assert_eq!(after.delivered_up_to, up_to_seq);
            } else {
                prop_assert!(result.unwrap().is_empty());
            }
            prop_assert!(after.delivered_up_to >= before.delivered_up_to);
            prop_assert!(after.delivered_up_to <= room.last_seq());
        }
    }

    // Property 8: Read status tracking.
    // A read receipt is recorded exactly when it advances, never moves
    // backwards, never passes the last message, and implies delivery.
    #[test]
    fn property_8_read_receipts_are_monotonic_bounded_and_imply_delivery(
        messages in 0_u64..8,
        updates in prop::collection::vec((select(vec![ALICE, BOB, CAROL]), 0_u64..12, any::<bool>()), 1..30),
    ) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        for n in 0..messages {
            run_room(&mut room, &lookup, send_with(mid(n.into()), ALICE, &format!("c-{n}"), at(1))).unwrap();
        }
        for (user, up_to_seq, read) in updates {
            let kind = if read { ReceiptKind::Read } else { ReceiptKind::Delivered };
            let before = room.receipt(user).unwrap_or_default();
            let result = run_room(&mut room, &lookup, RoomCommand::UpdateReceipt { user, up_to_seq, kind, at: at(5) });
            let after = room.receipt(user).unwrap_or_default();
            let reached = if read { before.read_up_to } else { before.delivered_up_to };
            if up_to_seq > messages {
                prop_assert!(result.is_err());
            } else {
                prop_assert_eq!(result.unwrap().len(), usize::from(up_to_seq > reached));
            }
            prop_assert!(after.read_up_to >= before.read_up_to);
            prop_assert!(after.read_up_to <= after.delivered_up_to);
            prop_assert!(after.delivered_up_to <= room.last_seq());
        }
    }

    // Property 11: Group creation with participants.
    // Every selected user is a participant of the new group, the creator is
    // its only owner, everyone else a member.
    #[test]
    fn property_11_group_creation_includes_every_selected_user(
        selected in prop::collection::vec(0_u128..10, 0..15),
    ) {
        let creator = uid(100);
        let members: Vec<UserId> = selected.iter().map(|n| uid(100 + n)).collect();
        let lookup = InMemoryRoomLookup::new();
        let mut room = ciphertalk_domain::room::Room::default();
        let command = RoomCommand::CreateRoom {
            room_id: ROOM,
            kind: RoomKind::Group,
            name: Some(room_name("g")),
            description: None,
            join_rule: JoinRule::Invite,
            creator,
            members: members.clone(),
            at: t0(),
        };
        run_room(&mut room, &lookup, command).unwrap();
        let expected: BTreeSet<UserId> = members.into_iter().chain([creator]).collect();
        let actual: BTreeSet<UserId> = room.members().keys().copied().collect();
        prop_assert_eq!(actual, expected);
        for (user, member) in room.members() {
            let role = if *user == creator { Role::Owner } else { Role::Member };
            prop_assert_eq!(member.role, role);
        }
    }

    // Property 12: Participant addition.
    // A user added by an admin or the owner (with a role up to their own,
    // never owner) appears in the participant list with that role; any other
    // attempt is refused and adds no one.
    #[test]
    fn property_12_added_users_appear_in_the_member_list(actor in any_user(), role in any_role()) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        let newcomer = uid(77);
        let result = run_room(&mut room, &lookup, RoomCommand::AddMember { actor, user: newcomer, role, at: at(3) });
        let actor_role = room.role_of(actor);
        let allowed = actor_role.is_some_and(|r| r.is_admin_or_owner() && role != Role::Owner && role.rank() <= r.rank());
        prop_assert_eq!(result.is_ok(), allowed);
        prop_assert_eq!(room.role_of(newcomer), allowed.then_some(role));
    }

    // Property 13: Participant removal.
    // A member removed by someone ranked above them is no longer a
    // participant; otherwise the removal is refused and nothing changes.
    #[test]
    fn property_13_removed_users_leave_the_member_list(actor in any_user(), target in any_user()) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        let (actor_role, target_role) = (room.role_of(actor), room.role_of(target));
        let result = run_room(&mut room, &lookup, RoomCommand::RemoveMember { actor, user: target, at: at(3) });
        let allowed = matches!((actor_role, target_role),
            (Some(a), Some(t)) if a.is_admin_or_owner() && t.rank() < a.rank());
        prop_assert_eq!(result.is_ok(), allowed);
        if allowed {
            prop_assert!(!room.is_member(target));
        } else {
            prop_assert_eq!(room.role_of(target), target_role);
        }
    }

    // Property 14: Admin role assignment.
    // A member promoted to admin by the owner or an admin has the admin role.
    #[test]
    fn property_14_promoted_members_are_admins(
        actor in select(vec![ALICE, BOB]),
        targets in prop::collection::btree_set(select(vec![CAROL, DAVE]), 1..=2),
    ) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        for target in targets {
            let events = run_room(&mut room, &lookup,
                RoomCommand::ChangeRole { actor, user: target, role: Role::Admin, at: at(3) }).unwrap();
            prop_assert_eq!(events, vec![RoomEvent::MemberRoleChanged { user: target, role: Role::Admin, by: actor, at: at(3) }]);
            prop_assert_eq!(room.role_of(target), Some(Role::Admin));
        }
        prop_assert_eq!(room.owner(), Some(ALICE));
    }

    // Property 15: Group settings persistence.
    // Settings changed by an admin (name, photo, description, join rule) are
    // what the room holds afterwards, and untouched settings keep their value.
    #[test]
    fn property_15_group_settings_persist(
        actor in select(vec![ALICE, BOB]),
        name in proptest::option::of("[A-Za-z][A-Za-z ]{0,20}[a-z]"),
        description in proptest::option::of(proptest::option::of("[a-z ]{0,40}")),
        photo in proptest::option::of(proptest::option::of(0_u128..5)),
        join_rule in proptest::option::of(select(vec![JoinRule::Open, JoinRule::Invite])),
    ) {
        let lookup = InMemoryRoomLookup::new();
        let mut room = room_from(&staffed_group());
        let before = room.clone();
        let name = name.map(|n| room_name(&n));
        let description = description.map(|d| d.map(|d| RoomDescription::parse(&d).unwrap()));
        let photo: Option<Option<FileId>> = photo.map(|p| p.map(fid));
        let command = RoomCommand::UpdateRoom {
            actor, name: name.clone(), description: description.clone(), photo_file_id: photo, join_rule, at: at(3),
        };
        run_room(&mut room, &lookup, command).unwrap();
        prop_assert_eq!(room.name(), name.as_ref().or(before.name()));
        let expected_description = description.unwrap_or_else(|| before.description().cloned());
        prop_assert_eq!(room.description(), expected_description.as_ref());
        prop_assert_eq!(room.photo_file_id(), photo.unwrap_or(before.photo_file_id()));
        prop_assert_eq!(room.join_rule(), join_rule.unwrap_or(before.join_rule()));
        // Reloading from events gives the same settings.
        let mut reloaded = room_from(&staffed_group());
        reloaded.apply(RoomEvent::RoomUpdated {
            name: room.name().cloned(), description: room.description().cloned(),
            photo_file_id: room.photo_file_id(), join_rule: room.join_rule(), by: actor, at: at(3),
        });
        prop_assert_eq!(reloaded, room);
    }

    // Property 27: Contact addition.
    // Every user added as a contact appears in the contact list, once.
    #[test]
    fn property_27_added_contacts_appear_in_the_list(contacts in prop::collection::vec(0_u128..20, 0..30)) {
        let mut user = registered_user();
        let mut expected = BTreeSet::new();
        for n in contacts {
            let contact = uid(1000 + n);
            let events = run_user(&mut user, UserCommand::AddContact { contact, at: at(1) }).unwrap();
            prop_assert_eq!(events.len(), usize::from(expected.insert(contact)));
        }
        prop_assert_eq!(user.contacts(), &expected);
        let add_self = run_user(&mut user, UserCommand::AddContact { contact: ALICE, at: at(2) });
        prop_assert!(add_self.is_err());
    }

    // Property 28: Contact removal preserves history.
    // Removing a contact takes only that user off the list: the rest of the
    // list, the blocks, and (in other aggregates) rooms and their history
    // are untouched: the only event is ContactRemoved.
    #[test]
    fn property_28_contact_removal_removes_only_the_contact(
        ops in prop::collection::vec((0_u128..8, any::<bool>()), 1..40),
    ) {
        let mut user = registered_user();
        run_user(&mut user, UserCommand::BlockUser { blocked: EVE, at: at(0) }).unwrap();
        let mut model = BTreeSet::new();
        for (n, add) in ops {
            let contact = uid(1000 + n);
            let command = if add {
                model.insert(contact);
                UserCommand::AddContact { contact, at: at(1) }
            } else {
                UserCommand::RemoveContact { contact, at: at(1) }
            };
            let removed = !add && model.remove(&contact);
            let events = run_user(&mut user, command).unwrap();
            if removed {
                prop_assert_eq!(events, vec![UserEvent::ContactRemoved { contact, at: at(1) }]);
            }
            prop_assert_eq!(user.contacts(), &model);
            prop_assert_eq!(user.blocks(), &BTreeSet::from([EVE]));
        }
    }

    // Property 29: Blocking prevents messages.
    // In a direct room, a sender whose peer has blocked them is refused with
    // `blocked` (so nothing reaches the blocker); a direct room cannot even
    // be opened while either side blocks the other.
    #[test]
    fn property_29_blocked_senders_are_refused(
        alice_blocks_bob in any::<bool>(),
        bob_blocks_alice in any::<bool>(),
        sender in select(vec![ALICE, BOB]),
    ) {
        let lookup = InMemoryRoomLookup::new();
        if alice_blocks_bob { lookup.block(ALICE, BOB); }
        if bob_blocks_alice { lookup.block(BOB, ALICE); }
        let mut fresh = ciphertalk_domain::room::Room::default();
        let create = RoomCommand::CreateRoom {
            room_id: ROOM, kind: RoomKind::Direct, name: None, description: None,
            join_rule: JoinRule::Invite, creator: ALICE, members: vec![BOB], at: t0(),
        };
        let created = run_room(&mut fresh, &lookup, create);
        prop_assert_eq!(created.is_err(), alice_blocks_bob || bob_blocks_alice);
        // The room may predate the block: sending is then what is refused.
        let mut room = room_from(&[direct_created()]);
        let result = run_room(&mut room, &lookup, send_with(mid(1), sender, "c-1", at(1)));
        let peer_blocked_sender = if sender == ALICE { bob_blocks_alice } else { alice_blocks_bob };
        if peer_blocked_sender {
            prop_assert_eq!(result, Err(DomainError::Blocked));
            prop_assert_eq!(room.last_seq(), 0);
        } else {
            prop_assert_eq!(result.unwrap().len(), 1);
        }
    }

    // Property 31: Profile update synchronization.
    // Every profile change is one ProfileUpdated carrying the complete new
    // profile, so every contact list (a projection) can overwrite its copy;
    // the aggregate holds exactly that profile afterwards.
    #[test]
    fn property_31_profile_updates_carry_the_whole_profile(
        updates in prop::collection::vec((
            proptest::option::of("[A-Z][a-z]{0,10}"),
            proptest::option::of("[a-z0-9_]{3,12}"),
            proptest::option::of(proptest::option::of("[a-z ]{0,30}")),
            proptest::option::of(proptest::option::of(0_u128..3)),
        ), 1..12),
    ) {
        let mut user = registered_user();
        for (display_name, username, bio, avatar) in updates {
            let before = user.account().unwrap().clone();
            let command = UserCommand::UpdateProfile {
                display_name: display_name.map(|d| dn(&d)),
                username: username.map(|u| Username::parse(&u).unwrap()),
                bio: bio.map(|b| b.map(|b| Bio::parse(&b).unwrap())),
                avatar_file_id: avatar.map(|a| a.map(fid)),
                at: at(1),
            };
            let events = run_user(&mut user, command).unwrap();
            let account = user.account().unwrap();
            match events.as_slice() {
                [] => prop_assert_eq!(account, &before),
                [UserEvent::ProfileUpdated { display_name, username, bio, avatar_file_id, .. }] => {
                    prop_assert_eq!(display_name, &account.display_name);
                    prop_assert_eq!(username, &account.username);
                    prop_assert_eq!(bio, &account.bio);
                    prop_assert_eq!(avatar_file_id, &account.avatar_file_id);
                }
                other => return Err(TestCaseError::fail(format!("unexpected events {other:?}"))),
            }
        }
    }

    // Property 41: Message editing within time limit.
    // An edit is accepted iff the editor is the sender and at most 48 hours
    // have passed since the message was sent; it then carries the new content.
    #[test]
    fn property_41_edit_accepted_iff_sender_within_48_hours(
        editor in select(vec![ALICE, BOB, CAROL]),
        minutes_after in prop_oneof![-60_i64..(96 * 60), (47_i64 * 60 + 58)..(48 * 60 + 2)],
    ) {
        let (mut room, lookup) = staffed_group_with_message(BOB);
        let when = t0() + TimeDelta::minutes(minutes_after);
        let command = RoomCommand::EditMessage { actor: editor, message_id: mid(1), ciphertext: ct("new"), at: when };
        let result = run_room(&mut room, &lookup, command);
        let accepted = editor == BOB && when - t0() <= TimeDelta::hours(48);
        prop_assert_eq!(result.is_ok(), accepted);
        if accepted {
            prop_assert_eq!(result.unwrap(), vec![RoomEvent::MessageEdited {
                message_id: mid(1), seq: 1, by: BOB, ciphertext: ct("new"), at: when,
            }]);
        }
    }

    // Property 44: Time-limited editing enforcement.
    // Any edit of a message older than 48 hours is rejected, even by its sender.
    #[test]
    fn property_44_edits_after_48_hours_are_rejected(seconds_late in 1_i64..(365 * 24 * 3600)) {
        let (mut room, lookup) = staffed_group_with_message(BOB);
        let when = t0() + TimeDelta::hours(48) + TimeDelta::seconds(seconds_late);
        let command = RoomCommand::EditMessage { actor: BOB, message_id: mid(1), ciphertext: ct("late"), at: when };
        prop_assert_eq!(run_room(&mut room, &lookup, command), Err(DomainError::EditWindowClosed));
    }

    // Property 42: Message deletion for all.
    // Deleting for everyone is accepted iff the actor is the sender or an
    // admin/owner; the message is then deleted for every participant (the
    // timeline keeps a tombstone), and deleting again changes nothing.
    #[test]
    fn property_42_delete_for_everyone_by_sender_or_admin(
        sender in select(vec![ALICE, BOB, CAROL, DAVE]),
        actor in select(vec![ALICE, BOB, CAROL, DAVE]),
    ) {
        let (mut room, lookup) = staffed_group_with_message(sender);
        let command = RoomCommand::DeleteMessage { actor, message_id: mid(1), scope: DeleteScope::ForEveryone, at: at(5) };
        let result = run_room(&mut room, &lookup, command.clone());
        let allowed = actor == sender || room.role_of(actor).is_some_and(Role::is_admin_or_owner);
        prop_assert_eq!(result.is_ok(), allowed);
        let facts = block_on(ciphertalk_domain::room::RoomLookup::message(lookup.as_ref(), ROOM, mid(1))).unwrap().unwrap();
        prop_assert_eq!(facts.deleted, allowed);
        if allowed {
            prop_assert_eq!(run_room(&mut room, &lookup, command), Ok(vec![]));
        }
    }

    // Property 43: Self-deletion visibility.
    // Deleting for oneself hides the message for the caller only: one
    // MessageHidden naming the caller, and the message stays visible to the
    // other participants.
    #[test]
    fn property_43_delete_for_me_hides_only_for_the_caller(
        sender in select(vec![ALICE, BOB, CAROL, DAVE]),
        actor in select(vec![ALICE, BOB, CAROL, DAVE]),
    ) {
        let (mut room, lookup) = staffed_group_with_message(sender);
        let command = RoomCommand::DeleteMessage { actor, message_id: mid(1), scope: DeleteScope::ForMe, at: at(5) };
        let events = run_room(&mut room, &lookup, command).unwrap();
        prop_assert_eq!(events, vec![RoomEvent::MessageHidden { message_id: mid(1), seq: 1, user: actor, at: at(5) }]);
        let facts = block_on(ciphertalk_domain::room::RoomLookup::message(lookup.as_ref(), ROOM, mid(1))).unwrap().unwrap();
        prop_assert!(!facts.deleted);
    }
}

proptest! {
    #![proptest_config(config())]

    // A room never holds more members than its maximum, whatever mix of
    // joins, adds and leaves it sees; a join or add is refused as full only
    // when it is full.
    #[test]
    fn a_room_never_grows_past_its_maximum_size(
        max in 3_usize..8,
        ops in prop::collection::vec((0_u128..12, 0_u8..3), 1..60),
    ) {
        let lookup = InMemoryRoomLookup::new();
        let services = lookup.services().with_max_members(max);
        let mut room = room_from(&[group_created(JoinRule::Open)]);
        for (n, op) in ops {
            let user = uid(100 + n);
            let command = match op {
                0 => RoomCommand::JoinRoom { user, at: at(1) },
                1 => RoomCommand::AddMember { actor: ALICE, user, role: Role::Member, at: at(1) },
                _ => RoomCommand::LeaveRoom { user, at: at(1) },
            };
            let before = room.members().len();
            match block_on(execute(&mut room, command, &services)) {
                Err(DomainError::RoomFull) => prop_assert_eq!(before, max),
                _ => prop_assert!(room.members().len() <= max, "{} members, max {}", room.members().len(), max),
            }
        }
    }
}
