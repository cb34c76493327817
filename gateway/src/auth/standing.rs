//! Keeps the users cached for the standing check every request makes (is the
//! session's device still the user's, are they suspended) honest across
//! gateways: each gateway follows the user events stored in CHAT_EVENTS on
//! core NATS, and one written by another process ends the trust in the cached
//! user at once, so the next request reads the aggregate. The standing cache
//! time (`auth.standing_cache_ms`) is then only the bound for writes that were
//! not announced: while NATS was disconnected everything cached is read
//! again, and an event the relay has not yet published is seen within it.

use std::sync::Arc;

use ciphertalk_commands::WriteModel;
use ciphertalk_domain::user::User;
use ciphertalk_streams::connect::Reconnects;
use ciphertalk_streams::{WireEvent, subjects};
use cqrs_es::Aggregate;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// Subscribes to every user event and runs until `shutdown`.
pub async fn follow_user_events(
    nats: async_nats::Client,
    write: Arc<WriteModel>,
    mut reconnects: Reconnects,
    shutdown: CancellationToken,
) {
    let subject = subjects::aggregate_type_events(User::TYPE);
    let mut events = match nats.subscribe(subject).await {
        Ok(events) => events,
        Err(err) => {
            // Without it, another gateway's writes are seen within the cache time.
            tracing::warn!(error = %err, "cannot follow user events; cached users are trusted for the standing cache time");
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = reconnects.next() => write.users.forget_confirmations(),
            message = events.next() => {
                let Some(message) = message else { return };
                match WireEvent::from_body(&message.payload) {
                    Ok(event) => {
                        let sequence = usize::try_from(event.sequence).unwrap_or(usize::MAX);
                        write.users.written_elsewhere(&event.aggregate_id, sequence);
                    }
                    Err(err) => tracing::debug!(error = %err, "an undecodable user event on NATS"),
                }
            }
        }
    }
}
