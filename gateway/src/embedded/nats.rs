//! An embedded nats-server with JetStream: its store, config and credentials
//! live under one folder and survive restarts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{ChildProcess, SIGTERM};
use super::{EmbeddedError, free_port, io_error, secret_file};
use crate::config::EmbeddedConfig;

#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// Folder for the JetStream store, config, credentials and log.
    pub dir: PathBuf,
    /// 0 picks a free loopback port.
    pub port: u16,
    pub binary: Option<PathBuf>,
    /// The Go collector's target (`GOGC`, percent heap growth between
    /// collections); 0 leaves nats-server's own (100).
    pub gogc: u32,
    /// Largest message the server accepts. Set, not left to the server's
    /// default, because every committed event must fit in it.
    pub max_payload: usize,
}

impl NatsOptions {
    /// The server the `[embedded]` section configures, in `dir`.
    pub fn configured(config: &EmbeddedConfig, dir: PathBuf) -> Self {
        Self {
            dir,
            port: config.nats_port,
            binary: config.nats_server.clone(),
            gogc: config.nats_gogc,
            max_payload: config.nats_max_payload,
        }
    }

    /// A server in `dir` on a free port, with the default binary and tuning.
    pub fn in_dir(dir: PathBuf) -> Self {
        Self::configured(&EmbeddedConfig::default(), dir)
    }
}

#[derive(Debug)]
pub struct EmbeddedNats {
    process: ChildProcess,
    binary: PathBuf,
    options: NatsOptions,
    port: u16,
    password: String,
}

const USER: &str = "ciphertalk";

impl EmbeddedNats {
    pub async fn start(options: NatsOptions) -> Result<Self, EmbeddedError> {
        let binary = super::binaries::nats_server(options.binary.as_deref())?;
        std::fs::create_dir_all(options.dir.join("jetstream"))
            .map_err(|e| io_error(format!("creating {}", options.dir.display()), e))?;
        let password = secret_file(&options.dir.join("password"))?;
        let port = if options.port == 0 { free_port()? } else { options.port };
        let process = spawn(&binary, &options, port, &password)?;
        let mut nats = Self { process, binary, options, port, password };
        nats.wait_ready().await?;
        Ok(nats)
    }

    /// The client URL, credentials included (treat it as a secret).
    pub fn url(&self) -> String {
        format!("nats://{USER}:{}@127.0.0.1:{}", self.password, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        self.process.stop(Duration::from_secs(10)).map_err(|e| io_error("stopping nats-server", e))?;
        Ok(())
    }

    /// Kills the server outright (SIGKILL), as a crash would.
    pub fn kill(&mut self) -> Result<(), EmbeddedError> {
        let _ = self.process.signal(super::process::SIGKILL);
        self.stop()
    }

    /// Starts the server again on the same port and store (after `stop` or a crash).
    pub async fn restart(&mut self) -> Result<(), EmbeddedError> {
        self.stop()?;
        self.process = spawn(&self.binary, &self.options, self.port, &self.password)?;
        self.wait_ready().await
    }

    /// Restarts the server if it died; true when it did.
    pub async fn revive(&mut self) -> Result<bool, EmbeddedError> {
        match self.process.exited() {
            Ok(Some(status)) => {
                tracing::error!(%status, "embedded nats-server exited; restarting it");
                self.restart().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn wait_ready(&mut self) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.process.exited() {
                return Err(EmbeddedError::Exited {
                    what: "nats-server",
                    status: status.to_string(),
                    log: self.options.dir.join("server.log"),
                });
            }
            if let Ok(client) = ciphertalk_streams::connect::connect(
                &self.url(),
                "ciphertalk-probe",
                ciphertalk_streams::connect::Retry::Never,
            )
            .await
            {
                drop(client);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::Timeout {
                    what: "nats-server",
                    log: self.options.dir.join("server.log"),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn spawn(
    binary: &Path,
    options: &NatsOptions,
    port: u16,
    password: &str,
) -> Result<ChildProcess, EmbeddedError> {
    let dir = options.dir.as_path();
    // Credentials go in a 0600 config file, not on the command line where `ps` shows them.
    let config = format!(
        "listen: \"127.0.0.1:{port}\"\nserver_name: ciphertalk_embedded\n\
         max_payload: {max_payload}\n\
         jetstream {{ store_dir: \"{store}\" }}\n\
         authorization {{ user: \"{USER}\", password: \"{password}\" }}\n",
        store = dir.join("jetstream").display(),
        max_payload = options.max_payload,
    );
    let config_path = dir.join("nats-server.conf");
    super::write_private(&config_path, config.as_bytes())?;
    let mut command = Command::new(binary);
    command.arg("-c").arg(&config_path);
    if options.gogc > 0 {
        command.env("GOGC", options.gogc.to_string());
    }
    ChildProcess::spawn("nats-server", command, &dir.join("server.log"), SIGTERM)
        .map_err(|e| io_error(format!("starting {}", binary.display()), e))
}
