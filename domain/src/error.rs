//! Domain errors: why a command was refused, with a stable machine code the
//! gateway puts in `{"error": {"code": ...}}` and a coarse kind it maps to an
//! HTTP status. Messages never contain ciphertext or secrets.

use std::borrow::Cow;

use thiserror::Error;

/// What sort of refusal an error is; the gateway maps each to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 404: the thing does not exist (or the caller may not know it exists).
    NotFound,
    /// 403: the caller may not do this.
    Forbidden,
    /// 409: the current state does not allow it (already done, window closed...).
    Conflict,
    /// 422: a value is malformed or out of range.
    Invalid,
    /// 410: the thing existed and is gone for good.
    Gone,
    /// 413: over a size limit.
    TooLarge,
    /// 503: a dependency the aggregate asked (through its services) failed.
    Unavailable,
}

/// A value that failed validation: which field, and why. Reasons are written
/// for API clients and never echo the rejected value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// The field (as the API names it), e.g. `email`.
    pub field: &'static str,
    /// A short human-readable reason.
    pub reason: Cow<'static, str>,
}

impl ValidationError {
    /// A validation error for `field`.
    pub fn new(field: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self { field, reason: reason.into() }
    }
}

/// A lookup through an aggregate's services failed (the read model or the
/// database behind it is unreachable). Not the caller's fault: retryable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("lookup failed: {0}")]
pub struct LookupError(pub String);

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// The user (aggregate) is not registered.
    #[error("user not found")]
    NotFound,
    /// The room was never created.
    #[error("room not found")]
    RoomNotFound,
    /// The message is not in this room.
    #[error("message not found")]
    MessageNotFound,
    /// The target user is not a member of the room.
    #[error("member not found")]
    MemberNotFound,
    /// The file was never registered.
    #[error("file not found")]
    FileNotFound,
    /// The report was never filed.
    #[error("report not found")]
    ReportNotFound,
    /// The user has not published a key bundle.
    #[error("no keys published")]
    KeysNotPublished,
    /// The user has no such device (never had, or it was removed).
    #[error("device not found")]
    DeviceNotFound,
    /// The user has as many devices as a user may have.
    #[error("the device limit is reached")]
    DeviceLimitReached,
    /// A to-device message names a user the sender shares no room with and
    /// is not a contact of.
    #[error("not allowed to send to this user")]
    NotAllowed,
    /// The actor is not a member of the room.
    #[error("not a member of this room")]
    NotAMember,
    /// The actor is a member (or the owner) but lacks the right.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Messages can be edited for 48 hours after they were sent.
    #[error("the edit window of this message has closed")]
    EditWindowClosed,
    /// The user is already a member of the room.
    #[error("already a member")]
    AlreadyMember,
    /// The room has as many members as a room may have.
    #[error("the room is full")]
    RoomFull,
    /// One side of a direct conversation has blocked the other.
    #[error("blocked")]
    Blocked,
    /// A value is malformed or out of range.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Over a size limit.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// The aggregate was already created.
    #[error("already exists")]
    AlreadyExists,
    /// The target was deleted, expired or taken down.
    #[error("gone")]
    Gone,
    /// The current state does not allow this command.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The actor is suspended by an instance admin.
    #[error("the account is suspended")]
    Suspended,
    /// A services lookup failed; the command may be retried.
    #[error(transparent)]
    Unavailable(#[from] LookupError),
}

impl DomainError {
    /// The stable snake_case code clients see. Never changes once shipped.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::RoomNotFound => "room_not_found",
            Self::MessageNotFound => "message_not_found",
            Self::MemberNotFound => "member_not_found",
            Self::FileNotFound => "file_not_found",
            Self::ReportNotFound => "report_not_found",
            Self::KeysNotPublished => "keys_not_published",
            Self::DeviceNotFound => "device_not_found",
            Self::DeviceLimitReached => "device_limit_reached",
            Self::NotAllowed => "not_allowed",
            Self::NotAMember => "not_a_member",
            Self::Forbidden(_) => "forbidden",
            Self::EditWindowClosed => "edit_window_closed",
            Self::AlreadyMember => "already_member",
            Self::RoomFull => "room_full",
            Self::Blocked => "blocked",
            Self::Invalid(_) => "invalid_value",
            Self::TooLarge(_) => "too_large",
            Self::AlreadyExists => "already_exists",
            Self::Gone => "gone",
            Self::Conflict(_) => "conflict",
            Self::Suspended => "suspended",
            Self::Unavailable(_) => "unavailable",
        }
    }

    /// The coarse kind the gateway maps to a status code.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound
            | Self::RoomNotFound
            | Self::MessageNotFound
            | Self::MemberNotFound
            | Self::FileNotFound
            | Self::ReportNotFound
            | Self::KeysNotPublished
            | Self::DeviceNotFound => ErrorKind::NotFound,
            Self::NotAMember | Self::Forbidden(_) | Self::Blocked | Self::NotAllowed | Self::Suspended => {
                ErrorKind::Forbidden
            }
            Self::EditWindowClosed
            | Self::DeviceLimitReached
            | Self::AlreadyMember
            | Self::RoomFull
            | Self::AlreadyExists
            | Self::Conflict(_) => ErrorKind::Conflict,
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::TooLarge(_) => ErrorKind::TooLarge,
            Self::Gone => ErrorKind::Gone,
            Self::Unavailable(_) => ErrorKind::Unavailable,
        }
    }

    /// Shorthand for an [`DomainError::Invalid`] on `field`.
    pub fn invalid(field: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid(ValidationError::new(field, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_kinds_match_the_api() {
        let cases = [
            (DomainError::NotFound, "not_found", ErrorKind::NotFound),
            (DomainError::RoomNotFound, "room_not_found", ErrorKind::NotFound),
            (DomainError::NotAMember, "not_a_member", ErrorKind::Forbidden),
            (DomainError::EditWindowClosed, "edit_window_closed", ErrorKind::Conflict),
            (DomainError::RoomFull, "room_full", ErrorKind::Conflict),
            (DomainError::DeviceNotFound, "device_not_found", ErrorKind::NotFound),
            (DomainError::DeviceLimitReached, "device_limit_reached", ErrorKind::Conflict),
            (DomainError::NotAllowed, "not_allowed", ErrorKind::Forbidden),
            (DomainError::invalid("email", "bad"), "invalid_value", ErrorKind::Invalid),
            (DomainError::Gone, "gone", ErrorKind::Gone),
            (DomainError::Suspended, "suspended", ErrorKind::Forbidden),
            (DomainError::Unavailable(LookupError("db".into())), "unavailable", ErrorKind::Unavailable),
        ];
        for (error, code, kind) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.kind(), kind);
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn validation_error_names_the_field() {
        let error = DomainError::invalid("username", "must be 3 to 32 characters");
        assert_eq!(error.to_string(), "username: must be 3 to 32 characters");
    }
}
