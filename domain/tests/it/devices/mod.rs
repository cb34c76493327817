//! Devices: given/when/then for the device and per-device key commands, the
//! to-device batch and outbox, and the named properties of devices, of the
//! upcast of data written before devices, and of per-device delivery cursors.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ciphertalk_domain::delivery::{Audience, DeliveryQueue, Position, Session};
use ciphertalk_domain::testing::execute;
use ciphertalk_domain::to_device::{
    BatchId, Outbox, ToDeviceBatch, ToDeviceCommand, ToDeviceEvent, ToDeviceKind, ToDeviceLimits,
    ToDeviceMessage,
};
use ciphertalk_domain::upcast::{upcast, upcasters};
use ciphertalk_domain::user::{
    DeviceName, KeyDirectory, OneTimePrekey, SignedPrekey, User, UserCommand, UserEvent,
};
use ciphertalk_domain::{DeviceId, DomainError, UserId};
use cqrs_es::Aggregate as _;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;
use crate::user::{FIRST, claimed_on, given, key, publish_on, published_on, registered};

const LAPTOP: DeviceId = DeviceId::from_uuid(Uuid::from_u128(0xde71));
const TABLET: DeviceId = DeviceId::from_uuid(Uuid::from_u128(0xde72));

fn name(s: &str) -> DeviceName {
    DeviceName::parse(s).unwrap()
}

fn add_device(device_id: DeviceId, device_limit: usize) -> UserCommand {
    UserCommand::AddDevice { device_id, name: Some(name("Laptop")), device_limit, at: at(2) }
}

fn laptop_added() -> UserEvent {
    UserEvent::DeviceAdded { device_id: LAPTOP, name: Some(name("Laptop")), at: at(2) }
}

fn replay(events: impl IntoIterator<Item = UserEvent>) -> User {
    let mut user = User::default();
    for event in events {
        user.apply(event);
    }
    user
}

fn pool(user: &User, device: DeviceId) -> Vec<u32> {
    user.keys_of(device).one_time_prekeys.iter().map(|key| key.key_id).collect()
}

mod delivery;
mod keys;
mod lifecycle;
mod properties;
mod to_device;
mod upcast;
