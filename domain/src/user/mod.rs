//! The `User` aggregate: account, profile, privacy settings, instance role,
//! devices with their Signal-protocol key directories, contacts and blocks. Credentials (password
//! hashes, refresh tokens) live elsewhere and never enter these events.

mod aggregate;
mod commands;
mod devices;
mod events;
mod keys;
mod push;

pub use aggregate::{Account, Suspension, User};
pub use commands::UserCommand;
pub use devices::{DEFAULT_DEVICE_LIMIT, Device, DeviceName, Devices};
pub use events::{
    DEVICE_EVENT_VERSION, InstanceRole, LastSeenVisibility, OneTimePrekey, Settings, SignedPrekey, UserEvent,
};
pub use keys::{DEFAULT_PREKEY_POOL_LIMIT, KeyDirectory};
pub use push::{
    FcmToken, MAX_PUSH_TARGET_CHARS, P256dhKey, PushAuthSecret, PushRemoval, PushTarget, PushUrl,
};
