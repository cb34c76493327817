//! Ephemeral frames between users (typing, presence, call signalling) over
//! core NATS `chat.sig.<user_id>`: every connection of a user, on whichever
//! gateway, subscribes to it, and to `chat.sig.<user_id>.<device_id>` for
//! what is meant for its device alone. Nothing is stored; a user who is not connected
//! simply misses them.

use bytes::Bytes;
use ciphertalk_domain::{DeviceId, UserId};
use ciphertalk_streams::subjects;
use futures::Stream;

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

/// The signals of one connection: its user's subject and its device's, in
/// one stream (each subject's messages in order).
pub async fn subscribe(
    nats: &async_nats::Client,
    user: UserId,
    device: DeviceId,
) -> Result<impl Stream<Item = async_nats::Message> + Unpin, async_nats::SubscribeError> {
    let invalid = |err: subjects::InvalidToken| {
        async_nats::SubscribeError::with_source(async_nats::SubscribeErrorKind::InvalidSubject, err)
    };
    let user_subject = subjects::signal(&user.to_string()).map_err(invalid)?;
    let device_subject = subjects::device_signal(&user.to_string(), &device.to_string()).map_err(invalid)?;
    let of_user = nats.subscribe(user_subject).await?;
    let of_device = nats.subscribe(device_subject).await?;
    Ok(futures::stream::select(of_user, of_device))
}
