//! The server under load: one already running at `--url`, or a `ciphertalk
//! serve` started here from the binary beside this one, with embedded NATS
//! and Postgres in a throwaway data dir, stopped at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ciphertalk_gateway::embedded::process::{ChildProcess, SIGTERM};
use tempfile::TempDir;

use super::BoxError;

/// How long a spawned server may take to answer `/health` (initdb included).
const START_WAIT: Duration = Duration::from_secs(120);

pub struct Server {
    /// `http://host:port`.
    pub base: String,
    /// The server process, for its CPU and memory; unknown for a remote one.
    pub pid: Option<u32>,
    spawned: Option<Spawned>,
}

struct Spawned {
    process: ChildProcess,
    log: PathBuf,
    _dir: TempDir,
}

impl Server {
    /// A server that is already running.
    pub async fn attach(url: &str, pid: Option<u32>) -> Result<Self, BoxError> {
        let base = url.trim_end_matches('/').to_owned();
        let health = reqwest::get(format!("{base}/health")).await?;
        if !health.status().is_success() {
            return Err(format!("{base}/health answered {}", health.status()).into());
        }
        Ok(Self { base, pid, spawned: None })
    }

    /// Starts `ciphertalk serve` (built in the same target folder as this
    /// binary) with rate limits off; other `CIPHERTALK_*` settings come from
    /// our environment.
    pub async fn spawn() -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let binary = exe.with_file_name("ciphertalk");
        if !binary.is_file() {
            return Err(format!(
                "{} not found: build it beside this binary (cargo build --release -p ciphertalk-gateway \
                 -p ciphertalk-bench) or pass --url",
                binary.display()
            )
            .into());
        }
        let dir = tempfile::Builder::new().prefix("ciphertalk-load-").tempdir()?;
        {
            // Embedded Postgres may run as another user when we are root.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))?;
        }
        let port = ciphertalk_gateway::embedded::free_port()?;
        let mut command = Command::new(&binary);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env_remove("DATABASE_URL")
            .env_remove("NATS_URL")
            .env("CIPHERTALK_RATE_LIMITS", "off");
        // Tokens must outlive a long setup (thousands of registrations) and the run.
        if std::env::var_os("CIPHERTALK_ACCESS_TOKEN_TTL_SECS").is_none() {
            command.env("CIPHERTALK_ACCESS_TOKEN_TTL_SECS", "86400");
        }
        let log = dir.path().join("serve.log");
        let mut process = ChildProcess::spawn("ciphertalk", command, &log, SIGTERM)?;
        let pid = process.id();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(response) = http.get(format!("{base}/health")).send().await
                && response.status().is_success()
            {
                break;
            }
            if process.exited()?.is_some() || started.elapsed() > START_WAIT {
                return Err(format!("ciphertalk serve did not start; its log:\n{}", tail(&log)).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "started ciphertalk serve (pid {pid}) at {base} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(Self { base, pid: Some(pid), spawned: Some(Spawned { process, log, _dir: dir }) })
    }

    /// The end of the log of a server started here.
    pub fn log_tail(&self) -> Option<String> {
        self.spawned.as_ref().map(|spawned| tail(&spawned.log))
    }

    /// Stops a server started here (SIGTERM, then a clean exit); the data dir
    /// goes with it, its log is copied to `keep_log` first if given.
    pub async fn stop(self, keep_log: Option<&Path>) -> Result<(), BoxError> {
        let Some(Spawned { mut process, log, _dir }) = self.spawned else {
            return Ok(());
        };
        let status = tokio::task::spawn_blocking(move || process.stop(Duration::from_secs(60))).await??;
        if let Some(keep) = keep_log {
            std::fs::copy(&log, keep)?;
        }
        if !status.success() {
            return Err(format!("ciphertalk serve exited with {status}; its log:\n{}", tail(&log)).into());
        }
        Ok(())
    }
}

/// The last lines of a log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
