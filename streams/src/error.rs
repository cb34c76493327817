//! Errors that keep their cause: a kind the caller matches and the source
//! error for the log, in the shape of async-nats's own `Error<Kind>`.
//! [`JetStreamError`] is the one every component gets from a JetStream call.

use std::fmt::{self, Debug, Display};
use std::sync::Arc;

/// Any error, as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of kind `Kind`, and the error that caused it when there is one.
/// Cheap to clone (one failure may be answered to many waiters).
#[derive(Debug, Clone)]
pub struct Error<Kind> {
    kind: Kind,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl<Kind: Copy> Error<Kind> {
    /// An error of `kind` with no cause below it.
    pub fn new(kind: Kind) -> Self {
        Self { kind, source: None }
    }

    pub fn with_source(kind: Kind, source: impl Into<BoxError>) -> Self {
        Self { kind, source: Some(Arc::from(source.into())) }
    }

    #[must_use]
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// `<kind>: <source>`, or the kind alone.
impl<Kind: Display> Display for Error<Kind> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl<Kind: Debug + Display> std::error::Error for Error<Kind> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl<Kind: Copy> From<Kind> for Error<Kind> {
    fn from(kind: Kind) -> Self {
        Self::new(kind)
    }
}

/// `.map_err(|err| err.with_kind(kind))`: any error as the source of an [`Error`] of `kind`.
pub trait WithKind: Into<BoxError> {
    fn with_kind<Kind: Copy>(self, kind: Kind) -> Error<Kind> {
        Error::with_source(kind, self)
    }
}

impl<E: Into<BoxError>> WithKind for E {}

/// What a JetStream call that failed was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JetStreamErrorKind {
    /// Finding a stream or KV bucket, or reading its state.
    Stream,
    /// Creating a consumer, or pulling a message through one.
    Consume,
    /// A consumer stopped delivering (its connection or nats-server went away).
    Ended,
    /// Reading one stored message.
    Read,
    /// Publishing, or waiting for the acknowledgement.
    Publish,
    /// A subject that cannot be formed from its parts ([`crate::subjects`]).
    Subject,
}

impl Display for JetStreamErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stream => "reading the stream",
            Self::Consume => "consuming",
            Self::Ended => "the consumer stopped delivering",
            Self::Read => "reading a message",
            Self::Publish => "publishing",
            Self::Subject => "building a subject",
        })
    }
}

/// A JetStream call that failed, with async-nats's error.
pub type JetStreamError = Error<JetStreamErrorKind>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_its_kind_then_its_source_and_keeps_both() {
        let error = "no responders".with_kind(JetStreamErrorKind::Stream);
        assert_eq!(error.kind(), JetStreamErrorKind::Stream);
        assert_eq!(error.to_string(), "reading the stream: no responders");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("no responders"));

        let ended = JetStreamError::new(JetStreamErrorKind::Ended);
        assert_eq!(ended.to_string(), "the consumer stopped delivering");
        assert!(std::error::Error::source(&ended).is_none());
    }
}
