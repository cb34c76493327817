//! The expiry sweeper: files past their expiry are expired (`ExpireFile`)
//! and the blobs of every gone file (expired, deleted, taken down) removed.
//! Its work is found in Postgres each round (the `files` read model and the
//! record of files swept), so a restart loses nothing; each round runs under
//! a Postgres advisory lock, so with several processes one sweeps at a time.

use std::sync::Arc;
use std::time::Duration;

use ciphertalk_commands::{CommandError, CommandMetadata, WriteModel};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::file::FileCommand;
use ciphertalk_domain::{DomainError, FileId};
use ciphertalk_projections::files::{due_for_sweep, mark_swept};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::Storage;

/// Files handled per round.
const ROUND_FILES: i64 = 100;

pub struct Sweeper {
    pub pool: PgPool,
    pub write: Arc<WriteModel>,
    pub storage: Arc<Storage>,
}

#[derive(Debug, thiserror::Error)]
enum SweepError {
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the event store: {0}")]
    Store(#[from] ciphertalk_commands::StoreError),
    #[error("expiring a file: {0}")]
    Command(#[from] CommandError<DomainError>),
    #[error("the file store: {0}")]
    Blobs(#[from] object_store::Error),
}

impl Sweeper {
    /// Sweeps every `every` until `shutdown`.
    pub async fn run(self, every: Duration, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => match self.round().await {
                    Ok(swept) if swept > 0 => tracing::info!(swept, "file sweeper removed blobs"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "file sweep failed; next round retries"),
                },
            }
        }
    }

    /// One round, if no other process is sweeping; the files swept.
    async fn round(&self) -> Result<usize, SweepError> {
        let mut lock = self.pool.begin().await?;
        let leader: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('ciphertalk.files.sweeper', 0))",
        )
        .fetch_one(&mut *lock)
        .await?;
        if !leader {
            return Ok(0);
        }
        let mut swept = 0;
        for file in due_for_sweep(&self.pool, now(), ROUND_FILES).await? {
            if self.sweep(FileId::from_uuid(file)).await? {
                mark_swept(&self.pool, file).await?;
                swept += 1;
            }
        }
        lock.commit().await?;
        Ok(swept)
    }

    /// Expires `file` if it is not gone yet, then removes its blobs; false
    /// when it turns out not to be due (its expiry moved on the write side).
    async fn sweep(&self, file: FileId) -> Result<bool, SweepError> {
        let id = file.to_string();
        let gone = self.write.files.read(&id, |f| f.status().is_gone()).await?;
        if !gone {
            let metadata = CommandMetadata::system("file-sweeper");
            match self.write.files.execute(&id, FileCommand::ExpireFile { at: now() }, &metadata).await {
                Ok(_) => {}
                Err(CommandError::Rejected(DomainError::Conflict(_) | DomainError::FileNotFound)) => {
                    return Ok(false);
                }
                Err(err) => return Err(err.into()),
            }
        }
        self.storage.remove_file(file).await?;
        Ok(true)
    }
}
