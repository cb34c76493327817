//! Where NATS and Postgres come from: the configured URLs, or embedded servers
//! under the data dir (started by `serve`, found again by the other subcommands).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, Secret};
use crate::embedded::{
    EmbeddedError, EmbeddedNats, EmbeddedPostgres, NatsOptions, PostgresOptions, postgres,
};

/// Written by a running `serve` in embedded mode so that `ciphertalk migrate`
/// and `ciphertalk streams` can reach its servers.
#[derive(Debug, Serialize, Deserialize)]
struct Runtime {
    pid: u32,
    nats_port: Option<u16>,
    postgres_port: Option<u16>,
}

const DATABASE: &str = "ciphertalk";

/// Which servers a subcommand needs.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub nats: bool,
    pub postgres: bool,
}

impl Needs {
    pub const BOTH: Self = Self { nats: true, postgres: true };
    pub const NATS: Self = Self { nats: true, postgres: false };
    pub const POSTGRES: Self = Self { nats: false, postgres: true };
}

#[derive(Debug)]
pub struct Infra {
    pub database_url: Secret,
    pub nats_url: Secret,
    pub nats: Option<EmbeddedNats>,
    pub postgres: Option<EmbeddedPostgres>,
    runtime_file: Option<PathBuf>,
}

impl Infra {
    /// For `serve`: uses the configured servers and starts embedded ones for
    /// whatever is not configured.
    pub async fn start(config: &Config) -> Result<Self, EmbeddedError> {
        Self::launch(config, true, Needs::BOTH).await
    }

    async fn launch(config: &Config, advertise: bool, needs: Needs) -> Result<Self, EmbeddedError> {
        let nats = match &config.nats_url {
            None if needs.nats => {
                let options = NatsOptions::configured(&config.embedded, config.data_dir.join("nats"));
                Some(EmbeddedNats::start(options).await?)
            }
            _ => None,
        };
        let postgres = match &config.database_url {
            None if needs.postgres => {
                let dir = config.data_dir.join("postgres");
                let options = PostgresOptions::configured(&config.embedded, dir, DATABASE);
                Some(EmbeddedPostgres::start(options).await?)
            }
            _ => None,
        };
        let mut infra = Self::assemble(config, nats, postgres);
        if advertise && (infra.nats.is_some() || infra.postgres.is_some()) {
            let runtime = Runtime {
                pid: std::process::id(),
                nats_port: infra.nats.as_ref().map(EmbeddedNats::port),
                postgres_port: infra.postgres.as_ref().map(EmbeddedPostgres::port),
            };
            let path = config.data_dir.join("runtime.json");
            if let Ok(json) = serde_json::to_vec(&runtime)
                && std::fs::write(&path, json).is_ok()
            {
                infra.runtime_file = Some(path);
            }
        }
        Ok(infra)
    }

    /// For the other subcommands: the configured servers, else those of a
    /// running `serve` on the same data dir, else embedded ones started just
    /// for this command (stopped again when it ends).
    pub async fn attach(config: &Config, needs: Needs) -> Result<Self, EmbeddedError> {
        if let Some(runtime) = running(&config.data_dir) {
            let mut config = config.clone();
            if let (None, Some(port)) = (&config.nats_url, runtime.nats_port) {
                let password = read_secret(&config.data_dir.join("nats/password"))?;
                config.nats_url = Some(Secret::new(format!("nats://ciphertalk:{password}@127.0.0.1:{port}")));
            }
            if let (None, Some(port)) = (&config.database_url, runtime.postgres_port) {
                let password =
                    read_secret(&config.data_dir.join("postgres").join(postgres::APP_PASSWORD_FILE))?;
                let role = postgres::APP_ROLE;
                config.database_url =
                    Some(Secret::new(format!("postgres://{role}:{password}@127.0.0.1:{port}/{DATABASE}")));
            }
            return Self::launch(&config, false, needs).await;
        }
        Self::launch(config, false, needs).await
    }

    fn assemble(config: &Config, nats: Option<EmbeddedNats>, postgres: Option<EmbeddedPostgres>) -> Self {
        let nats_url = config
            .nats_url
            .clone()
            .unwrap_or_else(|| Secret::new(nats.as_ref().map(EmbeddedNats::url).unwrap_or_default()));
        let database_url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Secret::new(postgres.as_ref().map(EmbeddedPostgres::url).unwrap_or_default()));
        Self { database_url, nats_url, nats, postgres, runtime_file: None }
    }

    /// Restarts embedded servers that died (called periodically by `serve`).
    pub async fn supervise(&mut self) {
        if let Some(nats) = &mut self.nats
            && let Err(err) = nats.revive().await
        {
            tracing::error!(error = %err, "embedded nats-server could not be restarted");
        }
        if let Some(postgres) = &mut self.postgres
            && let Err(err) = postgres.revive().await
        {
            tracing::error!(error = %err, "embedded postgres could not be restarted");
        }
    }

    /// Stops the embedded servers, keeping their data.
    pub fn shutdown(&mut self) {
        if let Some(path) = self.runtime_file.take() {
            let _ = std::fs::remove_file(path);
        }
        for (name, result) in [
            ("nats-server", self.nats.as_mut().map(EmbeddedNats::stop)),
            ("postgres", self.postgres.as_mut().map(EmbeddedPostgres::stop)),
        ] {
            if let Some(Err(err)) = result {
                tracing::warn!(process = name, error = %err, "embedded server did not stop cleanly");
            }
        }
    }
}

impl Drop for Infra {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The runtime file of a `serve` that is still alive.
fn running(data_dir: &Path) -> Option<Runtime> {
    let runtime: Runtime =
        serde_json::from_slice(&std::fs::read(data_dir.join("runtime.json")).ok()?).ok()?;
    Path::new(&format!("/proc/{}", runtime.pid)).exists().then_some(runtime)
}

fn read_secret(path: &Path) -> Result<String, EmbeddedError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|source| EmbeddedError::Io { what: format!("reading {}", path.display()), source })
}
