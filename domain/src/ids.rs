//! Typed identifiers: one newtype per kind of thing, so a `RoomId` can never be
//! passed where a `UserId` is expected. All are UUIDs; the server mints v7 ones
//! (time-ordered, index friendly) at the edge, never inside an aggregate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered id. Call it at the edge (gateway, command
            /// service), never from `handle`: aggregates stay deterministic.
            #[must_use]
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A user account; also the aggregate id of [`crate::user::User`].
    UserId
);
id_type!(
    /// A direct or group room; also the aggregate id of [`crate::room::Room`].
    RoomId
);
id_type!(
    /// One message in a room. Messages are not aggregates: they live in the room's stream.
    MessageId
);
id_type!(
    /// An uploaded (encrypted) file; also the aggregate id of [`crate::file::File`].
    FileId
);
id_type!(
    /// A moderation case; also the aggregate id of [`crate::report::Report`].
    ReportId
);
id_type!(
    /// One of a user's devices (a phone, a laptop, a browser profile): what
    /// sessions, keys and delivery cursors belong to. Unique within its user.
    DeviceId
);

/// Mixed into a user id to make that user's first device id, so the two are
/// never the same UUID (a log line or a subject cannot confuse them).
const FIRST_DEVICE_MASK: u128 = 0x6465_7669_6365_2d31_6669_7273_742d_6964; // "device-1first-id"

impl DeviceId {
    /// The id of `user`'s first device: the one accounts made before devices
    /// existed own their keys and cursor on, and the one a registration makes.
    /// Derived, not stored, so tokens and cursors minted without a device map
    /// to it without a lookup. A version 8 UUID: it never equals a minted v7 id.
    /// Never change the derivation: upcast events carry its result.
    #[must_use]
    pub const fn first_of(user: UserId) -> Self {
        let bytes = (user.0.as_u128() ^ FIRST_DEVICE_MASK).to_be_bytes();
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = RoomId::new_v7();
        let parsed: RoomId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert_eq!(id.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn serializes_as_a_bare_string() {
        let id = UserId::from_uuid(Uuid::from_u128(1));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"00000000-0000-0000-0000-000000000001\"");
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
    }

    #[test]
    fn first_device_ids_are_deterministic_per_user_and_never_minted() {
        let (alice, bob) = (UserId::new_v7(), UserId::new_v7());
        assert_eq!(DeviceId::first_of(alice), DeviceId::first_of(alice));
        assert_ne!(DeviceId::first_of(alice), DeviceId::first_of(bob));
        assert_ne!(DeviceId::first_of(alice).as_uuid(), alice.as_uuid());
        assert_eq!(DeviceId::first_of(alice).as_uuid().get_version_num(), 8);
    }

    #[test]
    fn rejects_garbage() {
        assert!("not-a-uuid".parse::<MessageId>().is_err());
    }
}
