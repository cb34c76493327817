//! Adding, renaming and removing devices.

use super::*;

#[test]
fn registering_makes_the_first_device() {
    let user = replay([registered()]);
    let device = user.devices().get(FIRST).unwrap();
    assert_eq!((device.name.as_ref(), device.created_at), (None, t0()));
    assert_eq!(user.devices().len(), 1);
}

#[test]
fn add_a_device_once_and_within_the_limit() {
    given(vec![registered()]).when(add_device(LAPTOP, 2)).then_expect_events(vec![laptop_added()]);
    given(vec![registered(), laptop_added()]).when(add_device(LAPTOP, 2)).then_expect_events(vec![]);
    given(vec![registered(), laptop_added()])
        .when(add_device(TABLET, 2))
        .then_expect_error(DomainError::DeviceLimitReached);
    given(vec![registered()]).when(add_device(LAPTOP, 1)).then_expect_error(DomainError::DeviceLimitReached);
}

#[test]
fn rename_a_device() {
    let rename = |device_id, to: &str| UserCommand::RenameDevice { device_id, name: name(to), at: at(3) };
    given(vec![registered(), laptop_added()]).when(rename(LAPTOP, "Work")).then_expect_events(vec![
        UserEvent::DeviceRenamed { device_id: LAPTOP, name: name("Work"), at: at(3) },
    ]);
    given(vec![registered(), laptop_added()]).when(rename(LAPTOP, "Laptop")).then_expect_events(vec![]);
    given(vec![registered()]).when(rename(LAPTOP, "Work")).then_expect_error(DomainError::DeviceNotFound);
    let renamed =
        replay([registered(), UserEvent::DeviceRenamed { device_id: FIRST, name: name("Phone"), at: at(3) }]);
    assert_eq!(renamed.devices().get(FIRST).unwrap().name, Some(name("Phone")));
}

#[test]
fn removing_a_device_takes_its_keys_and_nothing_else() {
    let remove = |device_id| UserCommand::RemoveDevice { device_id, at: at(4) };
    let history = vec![registered(), laptop_added(), published_on(FIRST, &[1]), published_on(LAPTOP, &[2])];
    given(history.clone())
        .when(remove(LAPTOP))
        .then_expect_events(vec![UserEvent::DeviceRemoved { device_id: LAPTOP, at: at(4) }]);
    given(vec![registered()]).when(remove(LAPTOP)).then_expect_error(DomainError::DeviceNotFound);
    let user = replay(history.into_iter().chain([UserEvent::DeviceRemoved { device_id: LAPTOP, at: at(4) }]));
    assert_eq!(user.keys_of(LAPTOP), &KeyDirectory::default());
    assert_eq!(pool(&user, FIRST), [1]);
    assert!(!user.devices().contains(LAPTOP));
    let error = TestFramework::<User>::with(())
        .given(vec![registered(), laptop_added(), UserEvent::DeviceRemoved { device_id: LAPTOP, at: at(4) }])
        .when(publish_on(LAPTOP, &[3], 10))
        .inspect_result();
    assert_eq!(error, Err(DomainError::DeviceNotFound));
}

#[test]
fn the_last_device_may_go() {
    let user = replay([registered(), UserEvent::DeviceRemoved { device_id: FIRST, at: at(1) }]);
    assert!(user.devices().is_empty());
    given(vec![registered(), UserEvent::DeviceRemoved { device_id: FIRST, at: at(1) }])
        .when(add_device(LAPTOP, 1))
        .then_expect_events(vec![laptop_added()]);
}

#[test]
fn device_names_are_trimmed_and_bounded() {
    assert_eq!(name("  Phone ").as_str(), "Phone");
    for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
        assert!(DeviceName::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(DeviceName::parse(&"é".repeat(64)).is_ok());
}
