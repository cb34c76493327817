//! Properties of instance moderation on the user aggregate: suspensions and
//! the admin role, over random sequences of admin and user commands.

use ciphertalk_domain::testing::execute;
use ciphertalk_domain::user::{User, UserCommand, UserEvent};
use ciphertalk_domain::values::ModeratorNote;
use ciphertalk_domain::{DeviceId, DomainError};
use cqrs_es::Aggregate as _;
use proptest::prelude::*;

use crate::support::*;

/// What an admin or the user does, at a minute after t0.
#[derive(Debug, Clone)]
enum Step {
    Suspend {
        until: Option<i64>,
    },
    Lift,
    /// A command of the user's own (refused while suspended).
    Act,
    Grant {
        by_configuration: bool,
    },
    Revoke {
        by_configuration: bool,
    },
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        proptest::option::of(1_i64..20).prop_map(|until| Step::Suspend { until }),
        Just(Step::Lift),
        Just(Step::Act),
        Just(Step::Act),
        any::<bool>().prop_map(|by_configuration| Step::Grant { by_configuration }),
        any::<bool>().prop_map(|by_configuration| Step::Revoke { by_configuration }),
    ]
}

fn registered() -> User {
    let mut user = User::default();
    user.apply(UserEvent::UserRegistered {
        user_id: ALICE,
        email: None,
        phone: Some(ciphertalk_domain::values::PhoneNumber::parse("+15555550100").unwrap()),
        display_name: dn("Alice"),
        device_id: DeviceId::first_of(ALICE),
        device_name: None,
        at: t0(),
    });
    user
}

fn run(user: &mut User, command: UserCommand) -> Result<Vec<UserEvent>, DomainError> {
    let events = futures::executor::block_on(execute(user, command, &()))?;
    for event in &events {
        user.apply(event.clone());
    }
    Ok(events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // A suspended user's own commands are refused exactly while a suspension
    // is in force: from the latest suspension until its end or its lifting.
    #[test]
    fn a_user_acts_exactly_when_no_suspension_is_in_force(steps in proptest::collection::vec(any_step(), 1..30)) {
        let mut user = registered();
        // The model: the minute the latest suspension ends (`i64::MAX` for good).
        let mut suspended_until: Option<i64> = None;
        for (minute, step) in (1_i64..).zip(steps) {
            let at = at(minute);
            match step {
                Step::Suspend { until } => {
                    let until = until.map(|delta| minute + delta);
                    let reason = ModeratorNote::parse("abuse").unwrap();
                    run(&mut user, UserCommand::Suspend { by: BOB, reason, until: until.map(crate::support::at), at }).unwrap();
                    suspended_until = Some(until.unwrap_or(i64::MAX));
                }
                Step::Lift => {
                    run(&mut user, UserCommand::LiftSuspension { by: BOB, at }).unwrap();
                    suspended_until = None;
                }
                Step::Act => {
                    let in_force = suspended_until.is_some_and(|until| minute < until);
                    let result = run(&mut user, UserCommand::UpdateSettings { last_seen_visible_to: None, notifications: Some(minute % 2 == 0), at });
                    prop_assert_eq!(result.is_err(), in_force);
                    if in_force {
                        prop_assert_eq!(result.unwrap_err(), DomainError::Suspended);
                    }
                }
                Step::Grant { by_configuration } => {
                    run(&mut user, UserCommand::GrantAdmin { by: (!by_configuration).then_some(BOB), at }).unwrap();
                }
                Step::Revoke { by_configuration } => {
                    run(&mut user, UserCommand::RevokeAdmin { by: (!by_configuration).then_some(BOB), at }).unwrap();
                }
            }
            prop_assert_eq!(user.suspension_at(at).is_some(), suspended_until.is_some_and(|until| minute < until));
        }
    }

    // An admin named by the configuration stays one whatever another admin
    // asks; only the configuration's own revocation demotes them.
    #[test]
    fn a_configured_admin_is_demoted_only_by_the_configuration(steps in proptest::collection::vec(any_step(), 1..30)) {
        let mut user = registered();
        let mut named = false;
        let mut admin = false;
        for (minute, step) in (1_i64..).zip(steps) {
            let at = at(minute);
            match step {
                Step::Grant { by_configuration } => {
                    run(&mut user, UserCommand::GrantAdmin { by: (!by_configuration).then_some(BOB), at }).unwrap();
                    named |= by_configuration;
                    admin = true;
                }
                Step::Revoke { by_configuration } => {
                    run(&mut user, UserCommand::RevokeAdmin { by: (!by_configuration).then_some(BOB), at }).unwrap();
                    // The configuration demotes only whom it named; an admin only whom it did not.
                    if admin && by_configuration == named {
                        admin = false;
                        named = false;
                    }
                }
                _ => {}
            }
            prop_assert_eq!(user.is_admin(), admin);
            prop_assert_eq!(user.is_admin_by_configuration(), named && admin);
        }
    }
}
