//! A configured value that must never be printed.

use serde::{Deserialize, Serialize, Serializer};

/// A value that must never be printed: connection strings with passwords,
/// signing keys. Debug and Display show only that it is set.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Writing a configuration out (the example file) never writes a secret: a
/// set one is an error, so it cannot end up in a file or a log.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("a secret is never written out"))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}
