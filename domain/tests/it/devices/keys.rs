//! Keys per device: publishing, claims, bundles.

use super::*;

fn bundles(claimed_by: UserId) -> UserCommand {
    UserCommand::ClaimPrekeyBundles { claimed_by, at: at(5) }
}

#[test]
fn each_device_publishes_its_own_bundle() {
    given(vec![registered(), laptop_added()])
        .when(publish_on(LAPTOP, &[7], 10))
        .then_expect_events(vec![published_on(LAPTOP, &[7])]);
    let user =
        replay([registered(), laptop_added(), published_on(FIRST, &[1, 2]), published_on(LAPTOP, &[7])]);
    assert_eq!((pool(&user, FIRST), pool(&user, LAPTOP)), (vec![1, 2], vec![7]));
    given(vec![registered()])
        .when(publish_on(LAPTOP, &[7], 10))
        .then_expect_error(DomainError::DeviceNotFound);
}

#[test]
fn a_claim_names_the_device_it_takes_from() {
    let history =
        vec![registered(), laptop_added(), published_on(FIRST, &[1]), published_on(LAPTOP, &[1, 2])];
    given(history)
        .when(UserCommand::ClaimOneTimePrekey { device_id: LAPTOP, claimed_by: BOB, at: at(5) })
        .then_expect_events(vec![claimed_on(LAPTOP, 1, BOB, 5)]);
    let user = replay(
        [registered(), laptop_added(), published_on(FIRST, &[1]), published_on(LAPTOP, &[1, 2])]
            .into_iter()
            .chain([claimed_on(LAPTOP, 1, BOB, 5)]),
    );
    assert_eq!((pool(&user, FIRST), pool(&user, LAPTOP)), (vec![1], vec![2]));
    given(vec![registered(), published_on(FIRST, &[1])])
        .when(UserCommand::ClaimOneTimePrekey { device_id: LAPTOP, claimed_by: BOB, at: at(5) })
        .then_expect_error(DomainError::KeysNotPublished);
}

#[test]
fn bundles_claim_one_key_from_every_device_that_has_one() {
    let tablet = UserEvent::DeviceAdded { device_id: TABLET, name: None, at: at(2) };
    let history = vec![
        registered(),
        laptop_added(),
        tablet.clone(),
        published_on(FIRST, &[4, 5]),
        published_on(LAPTOP, &[]),
    ];
    // The tablet published nothing, the laptop's pool is empty: one claim, the first device's.
    given(history).when(bundles(BOB)).then_expect_events(vec![claimed_on(FIRST, 4, BOB, 5)]);
    let both = vec![registered(), laptop_added(), published_on(FIRST, &[4]), published_on(LAPTOP, &[9])];
    given(both)
        .when(bundles(BOB))
        .then_expect_events(vec![claimed_on(FIRST, 4, BOB, 5), claimed_on(LAPTOP, 9, BOB, 5)]);
    given(vec![registered(), published_on(FIRST, &[])]).when(bundles(BOB)).then_expect_events(vec![]);
    given(vec![registered(), tablet]).when(bundles(BOB)).then_expect_error(DomainError::KeysNotPublished);
}

#[test]
fn a_blocked_requester_gets_no_bundle_from_any_device() {
    let blocked = UserEvent::UserBlocked { blocked: BOB, at: at(3) };
    let history =
        vec![registered(), laptop_added(), published_on(FIRST, &[4]), published_on(LAPTOP, &[9]), blocked];
    given(history.clone()).when(bundles(BOB)).then_expect_error(DomainError::KeysNotPublished);
    given(history)
        .when(UserCommand::ClaimOneTimePrekey { device_id: LAPTOP, claimed_by: BOB, at: at(5) })
        .then_expect_error(DomainError::KeysNotPublished);
}
