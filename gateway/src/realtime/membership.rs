//! Who may exchange typing and playback frames in a room, decided on the room
//! aggregate (cached, brought up to date per check) rather than a read model:
//! a projection that lags a removal must not let the removed member send
//! these frames or receive them.

use ciphertalk_commands::{StoreError, WriteModel};
use ciphertalk_domain::{RoomId, UserId};
use ciphertalk_projections::delivery;
use sqlx::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the delivery read model: {0}")]
    Database(#[from] sqlx::Error),
}

/// The members of `room` other than `sender` who have not blocked them, or
/// `None` when `sender` is not a member (typing and playback frames go to these).
pub async fn audience(
    write: &WriteModel,
    db: &PgPool,
    room: RoomId,
    sender: UserId,
) -> Result<Option<Vec<UserId>>, MembershipError> {
    let members = write
        .rooms
        .read(&room.to_string(), |room| {
            room.is_member(sender).then(|| room.members().keys().copied().collect::<Vec<_>>())
        })
        .await?;
    let Some(members) = members else { return Ok(None) };
    let blockers = delivery::blockers_of(db, sender).await?;
    Ok(Some(members.into_iter().filter(|user| *user != sender && !blockers.contains(user)).collect()))
}
