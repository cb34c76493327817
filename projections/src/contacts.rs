//! Projection `contacts`: every user's contact list and block list, plus the
//! display names contact lists are sorted by. Removing a contact touches
//! nothing else (rooms and history stay).

use chrono::{DateTime, Utc};
use ciphertalk_domain::ids::{FileId, UserId};
use ciphertalk_domain::user::UserEvent;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// One entry of a contact list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub user_id: UserId,
    /// Empty until the contact's registration has been projected.
    pub display_name: String,
    pub username: Option<String>,
    pub avatar_file_id: Option<FileId>,
    pub added_at: DateTime<Utc>,
}

pub(crate) async fn apply(conn: &mut PgConnection, user: Uuid, event: UserEvent) -> Result<(), sqlx::Error> {
    match event {
        UserEvent::UserRegistered { display_name, .. } => {
            sqlx::query(
                "INSERT INTO contact_profiles (user_id, display_name) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name",
            )
            .bind(user)
            .bind(display_name.as_str())
            .execute(conn)
            .await?;
        }
        UserEvent::ProfileUpdated { display_name, username, avatar_file_id, .. } => {
            sqlx::query(
                "INSERT INTO contact_profiles (user_id, display_name, username, avatar_file_id)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name,
                     username = excluded.username, avatar_file_id = excluded.avatar_file_id",
            )
            .bind(user)
            .bind(display_name.as_str())
            .bind(username.map(String::from))
            .bind(avatar_file_id.map(|id| id.as_uuid()))
            .execute(conn)
            .await?;
        }
        UserEvent::ContactAdded { contact, at } => {
            sqlx::query(
                "INSERT INTO contacts (user_id, contact_id, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, contact_id) DO NOTHING",
            )
            .bind(user)
            .bind(contact.as_uuid())
            .bind(at)
            .execute(conn)
            .await?;
        }
        UserEvent::ContactRemoved { contact, .. } => {
            sqlx::query("DELETE FROM contacts WHERE user_id = $1 AND contact_id = $2")
                .bind(user)
                .bind(contact.as_uuid())
                .execute(conn)
                .await?;
        }
        UserEvent::UserBlocked { blocked, at } => {
            sqlx::query(
                "INSERT INTO blocks (user_id, blocked_id, blocked_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, blocked_id) DO NOTHING",
            )
            .bind(user)
            .bind(blocked.as_uuid())
            .bind(at)
            .execute(conn)
            .await?;
        }
        UserEvent::UserUnblocked { blocked, .. } => {
            sqlx::query("DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2")
                .bind(user)
                .bind(blocked.as_uuid())
                .execute(conn)
                .await?;
        }
        UserEvent::SettingsUpdated { .. }
        | UserEvent::DeviceAdded { .. }
        | UserEvent::DeviceRenamed { .. }
        | UserEvent::DeviceRemoved { .. }
        | UserEvent::KeysPublished { .. }
        | UserEvent::OneTimePrekeysAdded { .. }
        | UserEvent::OneTimePrekeyClaimed { .. }
        | UserEvent::AdminGranted { .. }
        | UserEvent::AdminRevoked { .. }
        | UserEvent::UserSuspended { .. }
        | UserEvent::SuspensionLifted { .. }
        | UserEvent::PushRegistered { .. }
        | UserEvent::PushUnregistered { .. }
        | UserEvent::RoomMuted { .. }
        | UserEvent::RoomUnmuted { .. } => {}
    }
    Ok(())
}

/// The user's contacts sorted by display name (case-insensitively), then id.
pub async fn list(pool: &PgPool, user: UserId) -> Result<Vec<Contact>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.contact_id, COALESCE(p.display_name, '') AS display_name, p.username, p.avatar_file_id,
                c.added_at
           FROM contacts c LEFT JOIN contact_profiles p ON p.user_id = c.contact_id
          WHERE c.user_id = $1
          ORDER BY lower(COALESCE(p.display_name, '')), p.display_name, c.contact_id",
    )
    .bind(user.as_uuid())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Contact {
                user_id: UserId::from_uuid(row.try_get("contact_id")?),
                display_name: row.try_get("display_name")?,
                username: row.try_get("username")?,
                avatar_file_id: row.try_get::<Option<Uuid>, _>("avatar_file_id")?.map(FileId::from_uuid),
                added_at: row.try_get("added_at")?,
            })
        })
        .collect()
}

/// Whether `user` has `contact` in their list.
pub async fn is_contact(pool: &PgPool, user: UserId, contact: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contacts WHERE user_id = $1 AND contact_id = $2)")
        .bind(user.as_uuid())
        .bind(contact.as_uuid())
        .fetch_one(pool)
        .await
}
