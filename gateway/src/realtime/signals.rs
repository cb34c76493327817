//! Ephemeral frames between users (typing, presence, call signalling) over
//! core NATS `chat.sig.<user_id>`: every connection of a user, on whichever
//! gateway, subscribes to it. Nothing is stored; a user who is not connected
//! simply misses them.

use bytes::Bytes;
use ciphertalk_domain::UserId;
use ciphertalk_streams::subjects;

/// Publishes a server frame to each user's signal subject.
pub async fn send(nats: &async_nats::Client, users: &[UserId], frame: &str) {
    let payload = Bytes::from(frame.to_owned());
    for user in users {
        let Ok(subject) = subjects::signal(&user.to_string()) else { continue };
        if let Err(err) = nats.publish(subject, payload.clone()).await {
            tracing::debug!(error = %err, "a signal could not be published");
        }
    }
}

/// Subscribes to `user`'s signal subject.
pub async fn subscribe(
    nats: &async_nats::Client,
    user: UserId,
) -> Result<async_nats::Subscriber, async_nats::SubscribeError> {
    let subject = subjects::signal(&user.to_string()).map_err(|err| {
        async_nats::SubscribeError::with_source(async_nats::SubscribeErrorKind::InvalidSubject, err)
    })?;
    nats.subscribe(subject).await
}
