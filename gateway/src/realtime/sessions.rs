//! Ending sessions' WebSockets on every gateway at once (logout, a revoked
//! refresh family; later suspension and device removal): a message on the
//! user's signal subject over core NATS, which every connection of the user,
//! on whichever gateway, already subscribes to. A header marks it, naming the
//! session or `*` for all of the user's; clients cannot publish to NATS, so
//! the header is ours.

use async_nats::HeaderMap;
use ciphertalk_domain::UserId;
use ciphertalk_streams::subjects;
use uuid::Uuid;

const HEADER: &str = "Ciphertalk-End-Sessions";
const ALL: &str = "*";

/// Which of a user's sessions end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// One session (a refresh-token family, named in its access tokens as `sid`).
    Session(Uuid),
    /// Every session of the user.
    All,
}

/// Closes the WebSockets of `user`'s ending sessions on every gateway.
pub async fn end(nats: &async_nats::Client, user: UserId, ending: Ending) {
    let Ok(subject) = subjects::signal(&user.to_string()) else { return };
    let mut headers = HeaderMap::new();
    let which = match ending {
        Ending::Session(id) => id.to_string(),
        Ending::All => ALL.to_owned(),
    };
    headers.insert(HEADER, which.as_str());
    if let Err(err) = nats.publish_with_headers(subject, headers, bytes::Bytes::new()).await {
        tracing::warn!(error = %err, "could not tell the gateways to end a session's connections");
        return;
    }
    metrics::counter!("ciphertalk_ws_sessions_ended_total").increment(1);
}

/// `None` for an ordinary signal; `Some(true)` when the message ends the
/// connection of `session`, `Some(false)` when it ends other sessions.
pub fn ends(message: &async_nats::Message, session: Option<Uuid>) -> Option<bool> {
    let which = message.headers.as_ref()?.get(HEADER)?.as_str();
    Some(which == ALL || session.is_some_and(|id| id.to_string() == which))
}
