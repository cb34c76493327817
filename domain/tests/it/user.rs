//! Given/when/then for every user command: the happy path and each rule.

use ciphertalk_domain::user::{
    DEFAULT_PREKEY_POOL_LIMIT, LastSeenVisibility, OneTimePrekey, SignedPrekey, User, UserCommand, UserEvent,
};
use ciphertalk_domain::values::{Bio, Email, PhoneNumber, Username};
use ciphertalk_domain::{DeviceId, DomainError, UserId};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};

use crate::support::*;

/// Alice's first device: the one she registered on.
pub(crate) const FIRST: DeviceId = DeviceId::first_of(ALICE);

pub(crate) fn given(events: Vec<UserEvent>) -> AggregateTestExecutor<User> {
    TestFramework::<User>::with(()).given(events)
}

fn email() -> Email {
    Email::parse("alice@example.org").unwrap()
}

/// Alice registered (on her first device).
pub(crate) fn registered() -> UserEvent {
    UserEvent::UserRegistered {
        user_id: ALICE,
        email: Some(email()),
        phone: None,
        display_name: dn("Alice"),
        device_id: FIRST,
        device_name: None,
        at: t0(),
    }
}

fn register(user_id: UserId, email: Option<Email>, phone: Option<PhoneNumber>, name: &str) -> UserCommand {
    let (device_id, device_name) = (DeviceId::first_of(user_id), None);
    UserCommand::RegisterUser {
        user_id,
        email,
        phone,
        display_name: dn(name),
        device_id,
        device_name,
        at: t0(),
    }
}

pub(crate) fn key(id: u32) -> OneTimePrekey {
    OneTimePrekey { key_id: id, public_key: b64(&id.to_be_bytes()) }
}

fn signed() -> SignedPrekey {
    SignedPrekey { key_id: 1, public_key: b64(&[5; 32]), signature: b64(&[6; 64]) }
}

/// `device` published a bundle whose pool holds `ids`.
pub(crate) fn published_on(device_id: DeviceId, ids: &[u32]) -> UserEvent {
    UserEvent::KeysPublished {
        device_id,
        identity_key: b64(&[1; 32]),
        signed_prekey: signed(),
        one_time_prekeys: ids.iter().copied().map(key).collect(),
        at: at(1),
    }
}

pub(crate) fn publish_on(device_id: DeviceId, ids: &[u32], pool_limit: usize) -> UserCommand {
    UserCommand::PublishKeys {
        device_id,
        identity_key: b64(&[1; 32]),
        signed_prekey: signed(),
        one_time_prekeys: ids.iter().copied().map(key).collect(),
        pool_limit,
        at: at(1),
    }
}

fn published(ids: &[u32]) -> UserEvent {
    published_on(FIRST, ids)
}

fn publish(ids: &[u32], pool_limit: usize) -> UserCommand {
    publish_on(FIRST, ids, pool_limit)
}

fn add(keys: Vec<OneTimePrekey>, pool_limit: usize) -> UserCommand {
    UserCommand::AddOneTimePrekeys { device_id: FIRST, keys, pool_limit, at: at(2) }
}

fn claim(claimed_by: UserId, minutes: i64) -> UserCommand {
    UserCommand::ClaimOneTimePrekey { device_id: FIRST, claimed_by, at: at(minutes) }
}

/// The claim of `device`'s key `id` by `claimed_by`.
pub(crate) fn claimed_on(device_id: DeviceId, id: u32, claimed_by: UserId, minutes: i64) -> UserEvent {
    UserEvent::OneTimePrekeyClaimed {
        device_id,
        key_id: id,
        public_key: key(id).public_key,
        claimed_by,
        at: at(minutes),
    }
}

mod register {
    use super::*;

    #[test]
    fn with_email_or_phone() {
        given(vec![])
            .when(register(ALICE, Some(email()), None, "Alice"))
            .then_expect_events(vec![registered()]);
        let phone = PhoneNumber::parse("+4915112345678").unwrap();
        given(vec![]).when(register(BOB, None, Some(phone.clone()), "Bob")).then_expect_events(vec![
            UserEvent::UserRegistered {
                user_id: BOB,
                email: None,
                phone: Some(phone),
                display_name: dn("Bob"),
                device_id: DeviceId::first_of(BOB),
                device_name: None,
                at: t0(),
            },
        ]);
    }

    #[test]
    fn needs_exactly_one_of_email_and_phone() {
        let phone = PhoneNumber::parse("+4915112345678").unwrap();
        for (email, phone) in [(None, None), (Some(email()), Some(phone))] {
            let command = register(ALICE, email, phone, "Alice");
            assert_eq!(given(vec![]).when(command).inspect_result().unwrap_err().code(), "invalid_value");
        }
    }

    #[test]
    fn registering_twice_is_refused() {
        let command = register(ALICE, Some(email()), None, "Alice");
        given(vec![registered()]).when(command).then_expect_error(DomainError::AlreadyExists);
    }

    #[test]
    fn every_other_command_needs_a_registered_user() {
        let commands = vec![
            UserCommand::UpdateProfile {
                display_name: Some(dn("A")),
                username: None,
                bio: None,
                avatar_file_id: None,
                at: at(1),
            },
            UserCommand::UpdateSettings { last_seen_visible_to: None, notifications: Some(false), at: at(1) },
            publish(&[1], 10),
            add(vec![key(1)], 10),
            claim(BOB, 1),
            UserCommand::ClaimPrekeyBundles { claimed_by: BOB, at: at(1) },
            UserCommand::AddDevice { device_id: FIRST, name: None, device_limit: 5, at: at(1) },
            UserCommand::RemoveDevice { device_id: FIRST, at: at(1) },
            UserCommand::AddContact { contact: BOB, at: at(1) },
            UserCommand::RemoveContact { contact: BOB, at: at(1) },
            UserCommand::BlockUser { blocked: BOB, at: at(1) },
            UserCommand::UnblockUser { blocked: BOB, at: at(1) },
            UserCommand::GrantAdmin { by: None, at: at(1) },
        ];
        for command in commands {
            given(vec![]).when(command).then_expect_error(DomainError::NotFound);
        }
    }
}

mod profile_and_settings {
    use super::*;

    #[test]
    fn update_profile_carries_the_whole_new_profile() {
        let command = UserCommand::UpdateProfile {
            display_name: None,
            username: Some(Username::parse("alice").unwrap()),
            bio: Some(Some(Bio::parse("hi").unwrap())),
            avatar_file_id: Some(Some(fid(1))),
            at: at(2),
        };
        given(vec![registered()]).when(command).then_expect_events(vec![UserEvent::ProfileUpdated {
            display_name: dn("Alice"),
            username: Some(Username::parse("alice").unwrap()),
            bio: Some(Bio::parse("hi").unwrap()),
            avatar_file_id: Some(fid(1)),
            at: at(2),
        }]);
    }

    #[test]
    fn clearing_a_field_and_unchanged_profiles() {
        let with_bio = UserEvent::ProfileUpdated {
            display_name: dn("Alice"),
            username: None,
            bio: Some(Bio::parse("hi").unwrap()),
            avatar_file_id: None,
            at: at(1),
        };
        let clear = UserCommand::UpdateProfile {
            display_name: None,
            username: None,
            bio: Some(None),
            avatar_file_id: None,
            at: at(2),
        };
        given(vec![registered(), with_bio]).when(clear.clone()).then_expect_events(vec![
            UserEvent::ProfileUpdated {
                display_name: dn("Alice"),
                username: None,
                bio: None,
                avatar_file_id: None,
                at: at(2),
            },
        ]);
        given(vec![registered()]).when(clear).then_expect_events(vec![]);
    }

    #[test]
    fn update_settings_and_unchanged_settings() {
        let command = UserCommand::UpdateSettings {
            last_seen_visible_to: Some(LastSeenVisibility::Contacts),
            notifications: None,
            at: at(2),
        };
        given(vec![registered()]).when(command).then_expect_events(vec![UserEvent::SettingsUpdated {
            last_seen_visible_to: LastSeenVisibility::Contacts,
            notifications: true,
            at: at(2),
        }]);
        let same = UserCommand::UpdateSettings {
            last_seen_visible_to: Some(LastSeenVisibility::Everybody),
            notifications: Some(true),
            at: at(2),
        };
        given(vec![registered()]).when(same).then_expect_events(vec![]);
    }
}

mod keys {
    use super::*;

    #[test]
    fn publish_replaces_the_bundle() {
        given(vec![registered()])
            .when(publish(&[1, 2], DEFAULT_PREKEY_POOL_LIMIT))
            .then_expect_events(vec![published(&[1, 2])]);
        let user = {
            use cqrs_es::Aggregate as _;
            let mut user = User::default();
            for event in [registered(), published(&[1, 2]), published(&[7])] {
                user.apply(event);
            }
            user
        };
        let pool: Vec<u32> = user.keys_of(FIRST).one_time_prekeys.iter().map(|key| key.key_id).collect();
        assert_eq!(pool, vec![7]);
    }

    #[test]
    fn publish_rejects_duplicates_and_oversized_pools() {
        let error = given(vec![registered()]).when(publish(&[1, 1], 10)).inspect_result().unwrap_err();
        assert_eq!(error.code(), "invalid_value");
        let error = given(vec![registered()]).when(publish(&[1, 2, 3], 2)).inspect_result().unwrap_err();
        assert_eq!(error.code(), "invalid_value");
    }

    #[test]
    fn add_one_time_prekeys() {
        given(vec![registered(), published(&[1])]).when(add(vec![key(2), key(3)], 10)).then_expect_events(
            vec![UserEvent::OneTimePrekeysAdded { device_id: FIRST, keys: vec![key(2), key(3)], at: at(2) }],
        );
        given(vec![registered(), published(&[1])]).when(add(vec![], 10)).then_expect_events(vec![]);
    }

    #[test]
    fn add_rejects_pooled_ids_full_pools_and_missing_bundles() {
        let error = given(vec![registered(), published(&[1])]).when(add(vec![key(1)], 10)).inspect_result();
        assert_eq!(error.unwrap_err().code(), "invalid_value");
        let error = given(vec![registered(), published(&[1])]).when(add(vec![key(2)], 1)).inspect_result();
        assert_eq!(error.unwrap_err().code(), "invalid_value");
        given(vec![registered()])
            .when(add(vec![key(2)], 10))
            .then_expect_error(DomainError::KeysNotPublished);
    }

    #[test]
    fn claim_hands_out_the_oldest_key() {
        given(vec![registered(), published(&[4, 5])])
            .when(claim(BOB, 3))
            .then_expect_events(vec![claimed_on(FIRST, 4, BOB, 3)]);
    }

    #[test]
    fn claim_on_an_empty_pool_emits_nothing_and_needs_a_bundle() {
        given(vec![registered(), published(&[])]).when(claim(BOB, 3)).then_expect_events(vec![]);
        given(vec![registered()]).when(claim(BOB, 3)).then_expect_error(DomainError::KeysNotPublished);
    }

    #[test]
    fn a_blocked_requester_gets_no_bundle_and_takes_no_key() {
        let blocked = UserEvent::UserBlocked { blocked: BOB, at: at(3) };
        given(vec![registered(), published(&[4, 5]), blocked])
            .when(claim(BOB, 4))
            .then_expect_error(DomainError::KeysNotPublished);
    }

    #[test]
    fn a_claimed_key_is_gone_from_the_pool() {
        given(vec![registered(), published(&[4, 5]), claimed_on(FIRST, 4, BOB, 3)])
            .when(claim(CAROL, 4))
            .then_expect_events(vec![claimed_on(FIRST, 5, CAROL, 4)]);
    }
}

mod contacts_and_blocks {
    use super::*;

    #[test]
    fn add_and_remove_contacts() {
        given(vec![registered()])
            .when(UserCommand::AddContact { contact: BOB, at: at(1) })
            .then_expect_events(vec![UserEvent::ContactAdded { contact: BOB, at: at(1) }]);
        let added = UserEvent::ContactAdded { contact: BOB, at: at(1) };
        given(vec![registered(), added.clone()])
            .when(UserCommand::AddContact { contact: BOB, at: at(2) })
            .then_expect_events(vec![]);
        given(vec![registered(), added])
            .when(UserCommand::RemoveContact { contact: BOB, at: at(2) })
            .then_expect_events(vec![UserEvent::ContactRemoved { contact: BOB, at: at(2) }]);
        given(vec![registered()])
            .when(UserCommand::RemoveContact { contact: BOB, at: at(2) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn block_and_unblock() {
        given(vec![registered()])
            .when(UserCommand::BlockUser { blocked: BOB, at: at(1) })
            .then_expect_events(vec![UserEvent::UserBlocked { blocked: BOB, at: at(1) }]);
        let blocked = UserEvent::UserBlocked { blocked: BOB, at: at(1) };
        given(vec![registered(), blocked.clone()])
            .when(UserCommand::BlockUser { blocked: BOB, at: at(2) })
            .then_expect_events(vec![]);
        given(vec![registered(), blocked])
            .when(UserCommand::UnblockUser { blocked: BOB, at: at(2) })
            .then_expect_events(vec![UserEvent::UserUnblocked { blocked: BOB, at: at(2) }]);
        given(vec![registered()])
            .when(UserCommand::UnblockUser { blocked: BOB, at: at(2) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn nobody_adds_or_blocks_themselves() {
        let error = given(vec![registered()])
            .when(UserCommand::AddContact { contact: ALICE, at: at(1) })
            .inspect_result();
        assert_eq!(error.unwrap_err().code(), "invalid_value");
        let error = given(vec![registered()])
            .when(UserCommand::BlockUser { blocked: ALICE, at: at(1) })
            .inspect_result();
        assert_eq!(error.unwrap_err().code(), "invalid_value");
    }
}

mod admin {
    use super::*;

    #[test]
    fn grant_admin_once() {
        given(vec![registered()])
            .when(UserCommand::GrantAdmin { by: Some(BOB), at: at(1) })
            .then_expect_events(vec![UserEvent::AdminGranted { by: Some(BOB), at: at(1) }]);
        given(vec![registered(), UserEvent::AdminGranted { by: None, at: at(1) }])
            .when(UserCommand::GrantAdmin { by: Some(BOB), at: at(2) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn the_configuration_demotes_only_the_admins_it_named() {
        let revoke = |by| UserCommand::RevokeAdmin { by, at: at(2) };
        given(vec![registered(), UserEvent::AdminGranted { by: None, at: at(1) }])
            .when(revoke(None))
            .then_expect_events(vec![UserEvent::AdminRevoked { by: None, at: at(2) }]);
        given(vec![registered(), UserEvent::AdminGranted { by: Some(BOB), at: at(1) }])
            .when(revoke(None))
            .then_expect_events(vec![]);
        given(vec![registered(), UserEvent::AdminGranted { by: Some(BOB), at: at(1) }])
            .when(revoke(Some(BOB)))
            .then_expect_events(vec![UserEvent::AdminRevoked { by: Some(BOB), at: at(2) }]);
        given(vec![registered()]).when(revoke(None)).then_expect_events(vec![]);
        let demoted = vec![
            registered(),
            UserEvent::AdminGranted { by: None, at: at(1) },
            UserEvent::AdminRevoked { by: None, at: at(2) },
        ];
        given(demoted)
            .when(UserCommand::GrantAdmin { by: None, at: at(3) })
            .then_expect_events(vec![UserEvent::AdminGranted { by: None, at: at(3) }]);
    }

    #[test]
    fn an_admin_named_by_the_configuration_stays_one_whatever_another_admin_asks() {
        given(vec![registered(), UserEvent::AdminGranted { by: None, at: at(1) }])
            .when(UserCommand::RevokeAdmin { by: Some(BOB), at: at(2) })
            .then_expect_events(vec![]);
        // Promoted first, then named: the configuration's naming is recorded.
        given(vec![registered(), UserEvent::AdminGranted { by: Some(BOB), at: at(1) }])
            .when(UserCommand::GrantAdmin { by: None, at: at(2) })
            .then_expect_events(vec![UserEvent::AdminGranted { by: None, at: at(2) }]);
        given(vec![
            registered(),
            UserEvent::AdminGranted { by: Some(BOB), at: at(1) },
            UserEvent::AdminGranted { by: None, at: at(2) },
        ])
        .when(UserCommand::RevokeAdmin { by: Some(BOB), at: at(3) })
        .then_expect_events(vec![]);
    }
}

mod suspension {
    use ciphertalk_domain::values::ModeratorNote;

    use super::*;

    fn reason() -> ModeratorNote {
        ModeratorNote::parse("spam").unwrap()
    }

    fn suspended(until: Option<i64>) -> UserEvent {
        UserEvent::UserSuspended { by: BOB, reason: reason(), until: until.map(at), at: at(1) }
    }

    #[test]
    fn an_admin_suspends_until_a_time_or_for_good() {
        for until in [None, Some(at(60))] {
            given(vec![registered()])
                .when(UserCommand::Suspend { by: BOB, reason: reason(), until, at: at(1) })
                .then_expect_events(vec![UserEvent::UserSuspended {
                    by: BOB,
                    reason: reason(),
                    until,
                    at: at(1),
                }]);
        }
    }

    #[test]
    fn a_suspension_must_end_in_the_future_and_not_be_self_inflicted() {
        let past = given(vec![registered()])
            .when(UserCommand::Suspend { by: BOB, reason: reason(), until: Some(at(1)), at: at(1) })
            .inspect_result();
        assert_eq!(past.unwrap_err().code(), "invalid_value");
        let yourself = given(vec![registered()])
            .when(UserCommand::Suspend { by: ALICE, reason: reason(), until: None, at: at(1) })
            .inspect_result();
        assert_eq!(yourself.unwrap_err().code(), "invalid_value");
    }

    #[test]
    fn a_suspended_user_s_own_commands_are_refused() {
        given(vec![registered(), suspended(None)])
            .when(UserCommand::AddContact { contact: BOB, at: at(2) })
            .then_expect_error(DomainError::Suspended);
        given(vec![registered(), suspended(None)])
            .when(UserCommand::UpdateSettings {
                last_seen_visible_to: None,
                notifications: Some(false),
                at: at(2),
            })
            .then_expect_error(DomainError::Suspended);
    }

    #[test]
    fn a_suspension_runs_out_at_its_end() {
        given(vec![registered(), suspended(Some(10))])
            .when(UserCommand::AddContact { contact: BOB, at: at(10) })
            .then_expect_events(vec![UserEvent::ContactAdded { contact: BOB, at: at(10) }]);
        given(vec![registered(), suspended(Some(10))])
            .when(UserCommand::LiftSuspension { by: BOB, at: at(11) })
            .then_expect_events(vec![]);
    }

    #[test]
    fn lifting_ends_it_and_signing_out_stays_possible() {
        given(vec![registered(), suspended(None)])
            .when(UserCommand::LiftSuspension { by: BOB, at: at(2) })
            .then_expect_events(vec![UserEvent::SuspensionLifted { by: BOB, at: at(2) }]);
        given(vec![registered(), suspended(None), UserEvent::SuspensionLifted { by: BOB, at: at(2) }])
            .when(UserCommand::AddContact { contact: BOB, at: at(3) })
            .then_expect_events(vec![UserEvent::ContactAdded { contact: BOB, at: at(3) }]);
        given(vec![registered(), suspended(None)])
            .when(UserCommand::RemoveDevice { device_id: FIRST, at: at(2) })
            .then_expect_events(vec![UserEvent::DeviceRemoved { device_id: FIRST, at: at(2) }]);
    }
}
