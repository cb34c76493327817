//! Creating accounts: the credential row (email or phone -> user id) and the
//! `RegisterUser` command, made to succeed or fail together; and the device
//! each login's session belongs to.
//!
//! The credential insert runs in a transaction that stays open while the
//! command commits: a concurrent registration of the same email waits on the
//! unique index and then sees the conflict, and a failed (or crashed)
//! command rolls the credential back. The one window left, a crash after the
//! command but before the credential commits, leaves a user nobody can log
//! into, never two accounts behind one email.

use ciphertalk_commands::{CommandError, CommandMetadata, WriteModel};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::user::{Account, DeviceName, User, UserCommand};
use ciphertalk_domain::values::{DisplayName, Email, PhoneNumber};
use ciphertalk_domain::{DeviceId, DomainError, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::directory;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("this email is already registered")]
    EmailTaken,
    #[error(transparent)]
    Command(#[from] CommandError<DomainError>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What login needs to know about an email's account.
#[derive(Debug)]
pub struct EmailCredential {
    pub user_id: UserId,
    pub password_hash: Option<String>,
}

pub async fn find_by_email(pool: &PgPool, email: &Email) -> Result<Option<EmailCredential>, sqlx::Error> {
    let row: Option<(Uuid, Option<String>)> =
        sqlx::query_as("SELECT user_id, password_hash FROM credentials WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(id, password_hash)| EmailCredential { user_id: UserId::from_uuid(id), password_hash }))
}

async fn register(
    write: &WriteModel,
    meta: &CommandMetadata,
    user_id: UserId,
    email: Option<Email>,
    phone: Option<PhoneNumber>,
    display_name: DisplayName,
    device_name: Option<DeviceName>,
) -> Result<Account, CommandError<DomainError>> {
    // A registration makes the user's first device, whose id is derived from theirs.
    let device_id = DeviceId::first_of(user_id);
    let command =
        UserCommand::RegisterUser { user_id, email, phone, display_name, device_id, device_name, at: now() };
    let executed = write
        .users
        .execute_and_read(&user_id.to_string(), command, meta, |user: &User| user.account().cloned())
        .await?;
    executed.read.ok_or(CommandError::Rejected(DomainError::NotFound))
}

/// Registers an email account with an already computed password hash.
pub async fn register_email(
    pool: &PgPool,
    write: &WriteModel,
    request_id: Option<String>,
    email: Email,
    password_hash: String,
    display_name: DisplayName,
    device_name: Option<DeviceName>,
) -> Result<Account, AccountError> {
    let user_id = UserId::new_v7();
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO credentials (user_id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(user_id.as_uuid())
    .bind(email.as_str())
    .bind(password_hash)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AccountError::EmailTaken);
    }
    let meta = CommandMetadata::new(user_id.to_string(), request_id);
    let account = register(write, &meta, user_id, Some(email), None, display_name, device_name).await?;
    tx.commit().await?;
    directory::upsert(pool, &account).await?;
    Ok(account)
}

/// Who a verified phone number logged in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneAccount {
    /// An account the number already had.
    Existing(UserId),
    /// Registered by this login, its device the first device.
    Registered(UserId),
}

/// The account of a verified phone number, created (its first device named
/// `device_name`) on its first login.
pub async fn find_or_register_phone(
    pool: &PgPool,
    write: &WriteModel,
    request_id: Option<String>,
    phone: PhoneNumber,
    device_name: Option<DeviceName>,
) -> Result<PhoneAccount, AccountError> {
    let find = || async {
        sqlx::query_scalar::<_, Uuid>("SELECT user_id FROM credentials WHERE phone = $1")
            .bind(phone.as_str())
            .fetch_optional(pool)
            .await
    };
    if let Some(id) = find().await? {
        return Ok(PhoneAccount::Existing(UserId::from_uuid(id)));
    }
    let user_id = UserId::new_v7();
    let mut tx = pool.begin().await?;
    let inserted =
        sqlx::query("INSERT INTO credentials (user_id, phone) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user_id.as_uuid())
            .bind(phone.as_str())
            .execute(&mut *tx)
            .await?;
    if inserted.rows_affected() == 0 {
        // A concurrent first login of the same number won: use its account.
        drop(tx);
        return find()
            .await?
            .map(|id| PhoneAccount::Existing(UserId::from_uuid(id)))
            .ok_or(AccountError::Command(CommandError::Conflict { attempts: 1 }));
    }
    // Phone sign-ups carry no name yet; the last digits tell a user's own
    // devices apart until they set one.
    let digits = &phone.as_str()[phone.as_str().len().saturating_sub(4)..];
    let display_name = DisplayName::parse(&format!("User {digits}"))
        .map_err(|e| CommandError::Rejected(DomainError::Invalid(e)))?;
    let meta = CommandMetadata::new(user_id.to_string(), request_id);
    let account =
        register(write, &meta, user_id, None, Some(phone.clone()), display_name, device_name).await?;
    tx.commit().await?;
    directory::upsert(pool, &account).await?;
    Ok(PhoneAccount::Registered(user_id))
}

/// The device a login's session belongs to: `requested` if the user has it,
/// else a new device (named `name`), refused with `device_limit_reached`
/// when the user already has `device_limit`. A client never picks the id of
/// a new device: an id the user does not have is not taken over.
pub async fn device_for_login(
    write: &WriteModel,
    request_id: Option<String>,
    user_id: UserId,
    requested: Option<DeviceId>,
    name: Option<DeviceName>,
    device_limit: usize,
) -> Result<LoginDevice, CommandError<DomainError>> {
    let id = user_id.to_string();
    if let Some(device_id) = requested {
        let owned = write.users.read(&id, |user| user.devices().contains(device_id)).await;
        if owned.map_err(CommandError::Store)? {
            return Ok(LoginDevice { id: device_id, added: false });
        }
    }
    let device_id = DeviceId::new_v7();
    let meta = CommandMetadata::new(id.clone(), request_id);
    let command = UserCommand::AddDevice { device_id, name, device_limit, at: now() };
    write.users.execute(&id, command, &meta).await?;
    Ok(LoginDevice { id: device_id, added: true })
}

/// The device of a login's session, and whether the login added it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginDevice {
    pub id: DeviceId,
    pub added: bool,
}

/// Loads a user and squares their role with `CIPHERTALK_ADMINS` (at every
/// login and refresh): a listed email makes them an instance admin, and an
/// admin the list had named is demoted once it no longer does. Returns the
/// account and whether they are an admin; `None` when the user is not
/// registered; 403 `suspended` while an admin's suspension is in force.
pub async fn load_for_login(
    write: &WriteModel,
    admins: &[String],
    request_id: Option<String>,
    user_id: UserId,
) -> Result<Option<(Account, bool)>, CommandError<DomainError>> {
    let loaded = write.users.load(&user_id.to_string()).await.map_err(CommandError::Store)?;
    let Some(account) = loaded.aggregate.account().cloned() else { return Ok(None) };
    if loaded.aggregate.suspension_at(now()).is_some() {
        return Err(CommandError::Rejected(DomainError::Suspended));
    }
    let mut is_admin = loaded.aggregate.is_admin();
    let named = account.email.as_ref().is_some_and(|email| admins.iter().any(|a| a == email.as_str()));
    let command = if named && !is_admin {
        Some(UserCommand::GrantAdmin { by: None, at: now() })
    } else if !named && loaded.aggregate.is_admin_by_configuration() {
        Some(UserCommand::RevokeAdmin { by: None, at: now() })
    } else {
        None
    };
    if let Some(command) = command {
        let meta = CommandMetadata::new("system:config-admins", request_id);
        is_admin =
            write.users.execute_and_read(&user_id.to_string(), command, &meta, User::is_admin).await?.read;
    }
    Ok(Some((account, is_admin)))
}
