//! The Postgres pool and the embedded migrations (`migrations/` at the repo root).

use std::time::Duration;

use ciphertalk_domain::{DeviceId, UserId};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

/// Pooled connections idle longer than this are pinged before use.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(10);

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// How long a query waits for a pooled connection by default: with Postgres
/// down, a request answers 503 within this instead of hanging.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(800);

/// How a device is stored in a `device_id` column: the nil UUID (the columns'
/// default) for the user's first device, so rows written before devices, which
/// have the default, are its; one convention in every table.
pub fn device_column(user: UserId, device: DeviceId) -> Uuid {
    if device == DeviceId::first_of(user) { Uuid::nil() } else { device.as_uuid() }
}

/// The device a `device_id` column names (see [`device_column`]).
pub fn device_of_column(user: UserId, column: Uuid) -> DeviceId {
    if column.is_nil() { DeviceId::first_of(user) } else { DeviceId::from_uuid(column) }
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    connect_with(url, max_connections, ACQUIRE_TIMEOUT).await
}

pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    // Statements may carry ciphertext: never log them.
    let options = sqlx::ConnectOptions::disable_statement_logging(options);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // A ping on every acquire is a round trip per query; a connection in
        // steady use is known to be alive, one idle for a while is checked.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
