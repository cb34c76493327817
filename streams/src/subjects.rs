//! Subject names. Every subject CipherTalk publishes to is built here, so the
//! topology table in ARCHITECTURE.md and the code cannot drift apart.

/// Stream holding every domain event: the replayable log.
pub const EVENTS_STREAM: &str = "CHAT_EVENTS";
/// Stream holding each user's FIFO delivery queue (the offline inbox).
pub const DELIVERY_STREAM: &str = "CHAT_DELIVERY";
/// Work-queue stream of push-notification jobs.
pub const NOTIFY_STREAM: &str = "CHAT_NOTIFY";
/// KV bucket of online markers and last-seen times.
pub const PRESENCE_BUCKET: &str = "presence";

pub const EVENTS_SUBJECTS: &str = "chat.evt.>";
pub const DELIVERY_SUBJECTS: &str = "chat.dlv.>";
pub const NOTIFY_SUBJECTS: &str = "chat.notify.>";

/// `chat.evt.<aggregate>.<id>.<EventType>`.
pub fn event(aggregate_type: &str, aggregate_id: &str, event_type: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.evt.{}.{}.{}", token(aggregate_type)?, token(aggregate_id)?, token(event_type)?))
}

/// The aggregate type an event subject names (`chat.evt.<aggregate>.…`).
pub fn event_aggregate_type(subject: &str) -> Option<&str> {
    subject.strip_prefix("chat.evt.")?.split('.').next()
}

/// The event type an event subject names (`chat.evt.<aggregate>.<id>.<event type>`).
pub fn event_type(subject: &str) -> Option<&str> {
    let mut tokens = subject.strip_prefix("chat.evt.")?.split('.');
    let (_aggregate, _id, event_type) = (tokens.next()?, tokens.next()?, tokens.next()?);
    tokens.next().is_none().then_some(event_type)
}

/// Every event of one aggregate: `chat.evt.<aggregate>.<id>.>`.
pub fn aggregate_events(aggregate_type: &str, aggregate_id: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.evt.{}.{}.>", token(aggregate_type)?, token(aggregate_id)?))
}

/// Every event of one aggregate type: `chat.evt.<aggregate>.>` (a consumer
/// filter; the type is one of the domain's constants).
pub fn aggregate_type_events(aggregate_type: &str) -> String {
    format!("chat.evt.{aggregate_type}.>")
}

/// Every event of one type of one aggregate type: `chat.evt.<aggregate>.*.<EventType>`.
pub fn events_of_type(aggregate_type: &str, event_type: &str) -> String {
    format!("chat.evt.{aggregate_type}.*.{event_type}")
}

/// `chat.dlv.<user_id>`: one user's delivery queue.
pub fn delivery(user_id: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.dlv.{}", token(user_id)?))
}

/// `chat.dlv.<user_id>.<device_id>`: the to-device messages of one device of
/// one user (every device reads its user's subject and its own).
pub fn device_delivery(user_id: &str, device_id: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.dlv.{}.{}", token(user_id)?, token(device_id)?))
}

/// `chat.notify.<user_id>`: push-notification jobs for one user.
pub fn notify(user_id: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.notify.{}", token(user_id)?))
}

/// `chat.sig.<user_id>`: core-NATS subject for ephemeral signals (typing, calls).
pub fn signal(user_id: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.sig.{}", token(user_id)?))
}

/// `chat.sig.<user_id>.<device_id>`: ephemeral signals for one device of a
/// user (a call answered on one device); its connections subscribe to it
/// beside their user's subject.
pub fn device_signal(user_id: &str, device_id: &str) -> Result<String, InvalidToken> {
    Ok(format!("chat.sig.{}.{}", token(user_id)?, token(device_id)?))
}

/// A value that cannot be one token of a subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} cannot be a subject token")]
pub struct InvalidToken(pub String);

/// A subject token must be non-empty and free of separators and wildcards,
/// or a crafted id could publish into, or subscribe to, somebody else's subject.
fn token(value: &str) -> Result<&str, InvalidToken> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid { Ok(value) } else { Err(InvalidToken(value.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_event_subjects() {
        assert_eq!(
            event("room", "0190-ab", "MessageSent").as_deref(),
            Ok("chat.evt.room.0190-ab.MessageSent")
        );
        assert_eq!(aggregate_events("room", "r1").as_deref(), Ok("chat.evt.room.r1.>"));
        assert_eq!(aggregate_type_events("user"), "chat.evt.user.>");
        assert_eq!(events_of_type("room", "MemberJoined"), "chat.evt.room.*.MemberJoined");
        assert_eq!(delivery("u1").as_deref(), Ok("chat.dlv.u1"));
        assert_eq!(device_delivery("u1", "d1").as_deref(), Ok("chat.dlv.u1.d1"));
        assert_eq!(device_signal("u1", "d1").as_deref(), Ok("chat.sig.u1.d1"));
    }

    #[test]
    fn reads_the_aggregate_and_event_type_back_from_an_event_subject() {
        let subject = event("room", "0190-ab", "MessageSent").expect("valid tokens");
        assert_eq!(event_aggregate_type(&subject), Some("room"));
        assert_eq!(event_type(&subject), Some("MessageSent"));
        assert_eq!(event_type("chat.evt.room.r1"), None);
        assert_eq!(event_type("chat.evt.room.r1.A.B"), None);
        assert_eq!(event_type("chat.dlv.u1.d1"), None);
    }

    #[test]
    fn refuses_tokens_that_would_escape_their_subject() {
        for bad in ["", "a.b", "*", ">", "a b", "ü"] {
            assert!(delivery(bad).is_err(), "{bad:?} accepted");
            assert!(device_delivery("u1", bad).is_err(), "{bad:?} accepted");
            assert!(device_delivery(bad, "d1").is_err(), "{bad:?} accepted");
            assert!(event("room", bad, "X").is_err(), "{bad:?} accepted");
        }
    }
}
