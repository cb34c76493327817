//! Given/when/then for every room command: the happy path and each rule.

use std::sync::Arc;

use chrono::TimeDelta;
use ciphertalk_domain::DomainError;
use ciphertalk_domain::room::franking::FrankingInput;
use ciphertalk_domain::room::{
    DeleteScope, EDIT_WINDOW, Franker, JoinRule, MAX_FILES_PER_MESSAGE, ReceiptKind, Role, Room, RoomCommand,
    RoomEvent, RoomKind,
};
use ciphertalk_domain::testing::{InMemoryRoomLookup, SendMessageBuilder};
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

mod add_member;
mod change_role;
mod create_room;
mod delete_message;
mod edit_message;
mod invite_and_join;
mod leave_room;
mod remove_member;
mod room_size;
mod send_message;
mod take_down_message;
mod update_receipt;
mod update_room;

#[test]
fn refused_commands_leave_the_room_untouched() {
    let lookup = InMemoryRoomLookup::new();
    let mut room = room_from(&group());
    let before = room.clone();
    assert!(run_room(&mut room, &lookup, send(EVE, 1)).is_err());
    assert!(run_room(&mut room, &lookup, RoomCommand::LeaveRoom { user: EVE, at: at(1) }).is_err());
    assert_eq!(room, before);
}
