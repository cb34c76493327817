//! Embedded mode: with no `NATS_URL` / `DATABASE_URL`, CipherTalk runs its own
//! nats-server and Postgres as child processes, with all data under one folder.
//! The test harness starts its private servers with the same code.

pub mod binaries;
pub mod nats;
pub mod postgres;
pub mod process;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use nats::{EmbeddedNats, NatsOptions};
pub use postgres::{EmbeddedPostgres, PostgresOptions};

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("{what} not found: {hint}")]
    Missing { what: &'static str, hint: &'static str },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what} exited during start-up ({status}); see {}", log.display())]
    Exited { what: &'static str, status: String, log: PathBuf },
    #[error("{what} did not become ready in time; see {}", log.display())]
    Timeout { what: &'static str, log: PathBuf },
    #[error("initdb failed: {0}")]
    Initdb(String),
    #[error(
        "the postgres user cannot reach {} because {} is not searchable by others; \
         choose a data dir outside it (e.g. --data-dir /var/lib/ciphertalk)",
        dir.display(), blocker.display()
    )]
    Unreachable { dir: PathBuf, blocker: PathBuf },
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
}

fn io_error(what: impl Into<String>, source: std::io::Error) -> EmbeddedError {
    EmbeddedError::Io { what: what.into(), source }
}

/// A free TCP port on loopback (the OS picks it; we release it for the child).
pub fn free_port() -> Result<u16, EmbeddedError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| io_error("finding a free port", e))?;
    Ok(listener.local_addr().map_err(|e| io_error("finding a free port", e))?.port())
}

/// Writes a file only its owner can read (also when it existed, looser).
fn write_private(path: &Path, contents: &[u8]) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::secrets::keep_private(path).map_err(|e| io_error(format!("chmod {}", path.display()), e))?;
    let mut file = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_error(format!("writing {}", path.display()), e))?;
    file.write_all(contents).map_err(|e| io_error(format!("writing {}", path.display()), e))
}

/// Reads a generated secret, creating it on first use (128 random bits, hex);
/// one found readable by others is made 0600 first.
fn secret_file(path: &Path) -> Result<String, EmbeddedError> {
    crate::secrets::keep_private(path).map_err(|e| io_error(format!("chmod {}", path.display()), e))?;
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.to_owned());
        }
    }
    let secret = uuid::Uuid::new_v4().simple().to_string();
    write_private(path, secret.as_bytes())?;
    Ok(secret)
}
