//! The `User` aggregate: account, profile, privacy settings, instance role,
//! Signal-protocol key directory, contacts and blocks. Credentials (password
//! hashes, refresh tokens) live elsewhere and never enter these events.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Account, DEFAULT_PREKEY_POOL_LIMIT, KeyDirectory, User};
pub use commands::UserCommand;
pub use events::{InstanceRole, LastSeenVisibility, OneTimePrekey, Settings, SignedPrekey, UserEvent};
