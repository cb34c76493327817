//! Validated value types, parsed once at the edge and trusted afterwards.
//!
//! Every type has `parse(&str) -> Result<Self, ValidationError>`, serializes as
//! a plain JSON string, and re-validates when deserialized, so a value read
//! back from an event or a request body obeys the same rules as a fresh one.

mod binary;
mod contact;
mod text;

pub use binary::{Base64Bytes, Ciphertext, Commitment, MAX_BASE64_BYTES};
pub use contact::{Email, PhoneNumber, Username};
pub use text::{
    Bio, ClientMsgId, ContentType, DisplayName, FrankingKeyId, ModeratorNote, ReportEvidence, ReportReason,
    RoomDescription, RoomName,
};

/// Defines a string newtype whose only constructor is `parse` (through the
/// given validating function, which may also normalize), plus the usual
/// conversions and a serde form that re-validates.
macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident, $validate:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates (and normalizes) `raw`.
            pub fn parse(raw: &str) -> Result<Self, $crate::error::ValidationError> {
                $validate(raw).map(Self)
            }

            /// The validated string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The validated string, owned.
            #[must_use]
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::ValidationError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&raw).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}

pub(crate) use string_value;
pub(crate) use text::printable_ascii_id;

/// Shared checks used by the validators.
pub(crate) mod check {
    use crate::error::ValidationError;

    /// Length in characters (not bytes) within `min..=max`.
    pub fn char_len(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
        let len = value.chars().count();
        if len < min || len > max {
            let reason = if min == 0 {
                format!("must be at most {max} characters")
            } else {
                format!("must be {min} to {max} characters")
            };
            return Err(ValidationError::new(field, reason));
        }
        Ok(())
    }

    /// No control characters, except newlines where `multiline` (bios, descriptions).
    pub fn no_control(field: &'static str, value: &str, multiline: bool) -> Result<(), ValidationError> {
        if value.chars().any(|c| c.is_control() && !(multiline && c == '\n')) {
            return Err(ValidationError::new(field, "must not contain control characters"));
        }
        Ok(())
    }
}
