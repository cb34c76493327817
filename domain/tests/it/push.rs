//! Given/when/then for push registrations and room mutes on the User aggregate.

use ciphertalk_domain::DomainError;
use ciphertalk_domain::user::{
    FcmToken, P256dhKey, PushRemoval, PushTarget, PushUrl, UserCommand, UserEvent,
};
use uuid::Uuid;

use crate::support::*;
use crate::user::{FIRST, given, registered};

fn hook(url: &str) -> PushTarget {
    PushTarget::Webhook { url: PushUrl::parse(url).unwrap() }
}

fn fcm(token: &str) -> PushTarget {
    PushTarget::Fcm { token: FcmToken::parse(token).unwrap() }
}

fn registered_push(target: PushTarget) -> UserEvent {
    UserEvent::PushRegistered { device_id: FIRST, target, at: at(1) }
}

#[test]
fn a_device_registers_a_target_once_and_may_replace_it() {
    given(vec![registered()])
        .when(UserCommand::RegisterPush { device_id: FIRST, target: fcm("a:b"), at: at(1) })
        .then_expect_events(vec![registered_push(fcm("a:b"))]);
    given(vec![registered(), registered_push(fcm("a:b"))])
        .when(UserCommand::RegisterPush { device_id: FIRST, target: fcm("a:b"), at: at(2) })
        .then_expect_events(vec![]);
    given(vec![registered(), registered_push(fcm("a:b"))])
        .when(UserCommand::RegisterPush {
            device_id: FIRST,
            target: hook("https://bridge.example.org/h"),
            at: at(2),
        })
        .then_expect_events(vec![UserEvent::PushRegistered {
            device_id: FIRST,
            target: hook("https://bridge.example.org/h"),
            at: at(2),
        }]);
}

#[test]
fn only_the_user_s_own_devices_register() {
    let other = ciphertalk_domain::DeviceId::from_uuid(Uuid::from_u128(0xbad));
    given(vec![registered()])
        .when(UserCommand::RegisterPush { device_id: other, target: fcm("a:b"), at: at(1) })
        .then_expect_error(DomainError::DeviceNotFound);
    given(vec![registered()])
        .when(UserCommand::UnregisterPush {
            device_id: other,
            reason: PushRemoval::ByUser,
            only_if: None,
            at: at(1),
        })
        .then_expect_error(DomainError::DeviceNotFound);
}

#[test]
fn gone_removes_only_the_target_that_was_reported_gone() {
    let gone = |only_if| UserCommand::UnregisterPush {
        device_id: FIRST,
        reason: PushRemoval::Gone,
        only_if,
        at: at(3),
    };
    let removed =
        vec![UserEvent::PushUnregistered { device_id: FIRST, reason: PushRemoval::Gone, at: at(3) }];
    given(vec![registered(), registered_push(fcm("old:t"))])
        .when(gone(Some(fcm("old:t"))))
        .then_expect_events(removed);
    // The device registered another target since the failed push.
    given(vec![registered(), registered_push(fcm("old:t")), registered_push(fcm("new:t"))])
        .when(gone(Some(fcm("old:t"))))
        .then_expect_events(vec![]);
    // Nothing registered: nothing to remove.
    given(vec![registered()]).when(gone(None)).then_expect_events(vec![]);
}

#[test]
fn a_removed_device_takes_its_target_with_it() {
    let mut user = ciphertalk_domain::user::User::default();
    use cqrs_es::Aggregate as _;
    for event in [registered(), registered_push(fcm("a:b"))] {
        user.apply(event);
    }
    assert!(user.devices().get(FIRST).unwrap().push.is_some());
    user.apply(UserEvent::PushUnregistered { device_id: FIRST, reason: PushRemoval::ByUser, at: at(2) });
    assert!(user.devices().get(FIRST).unwrap().push.is_none());
}

#[test]
fn a_mute_ends_in_the_future_or_never() {
    given(vec![registered()])
        .when(UserCommand::MuteRoom { room_id: ROOM, until: Some(at(30)), at: at(1) })
        .then_expect_events(vec![UserEvent::RoomMuted { room_id: ROOM, until: Some(at(30)), at: at(1) }]);
    given(vec![registered()])
        .when(UserCommand::MuteRoom { room_id: ROOM, until: None, at: at(1) })
        .then_expect_events(vec![UserEvent::RoomMuted { room_id: ROOM, until: None, at: at(1) }]);
    given(vec![registered()])
        .when(UserCommand::MuteRoom { room_id: ROOM, until: Some(at(1)), at: at(1) })
        .then_expect_error(DomainError::invalid("until", "must be in the future"));
    given(vec![registered()])
        .when(UserCommand::UnmuteRoom { room_id: ROOM, at: at(2) })
        .then_expect_events(vec![UserEvent::RoomUnmuted { room_id: ROOM, at: at(2) }]);
}

#[test]
fn push_values_are_checked_for_shape() {
    assert!(PushUrl::parse("https://push.example.org/x").is_ok());
    assert!(PushUrl::parse("ftp://push.example.org/x").is_err());
    assert!(PushUrl::parse("https:///nohost").is_err());
    assert!(PushUrl::parse("https://push.example.org/a b").is_err());
    assert!(FcmToken::parse("has space").is_err());
    assert!(P256dhKey::parse("AAAA").is_err());
    let mut point = vec![4_u8];
    point.extend([1_u8; 64]);
    let padded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &point);
    let key = P256dhKey::parse(&padded).unwrap();
    assert!(!key.as_str().ends_with('='), "kept unpadded");
}
