//! Running the real `ciphertalk` binary.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ciphertalk_gateway::embedded::process::{ChildProcess, SIGTERM};

pub const BINARY: &str = env!("CARGO_BIN_EXE_ciphertalk");

/// A `ciphertalk serve` process on a free loopback port.
pub struct ServeProcess {
    pub process: ChildProcess,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl ServeProcess {
    /// Starts `ciphertalk serve` with `env` and waits until `/health` answers 200.
    pub async fn start(data_dir: &Path, log_dir: &Path, env: &[(&str, String)]) -> Self {
        let port = ciphertalk_gateway::embedded::free_port().unwrap();
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("NATS_URL");
        for (key, value) in env {
            command.env(key, value);
        }
        let log = log_dir.join(format!("serve-{port}.log"));
        let process = ChildProcess::spawn("ciphertalk", command, &log, SIGTERM).unwrap();
        let serve = Self { process, base: format!("http://127.0.0.1:{port}"), log };
        let client = reqwest::Client::new();
        let healthy = super::eventually(120, || async {
            matches!(client.get(format!("{}/health", serve.base)).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        assert!(healthy, "serve did not become healthy; log:\n{}", serve.log_tail());
        serve
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.process.stop(Duration::from_secs(60)).unwrap()
    }
}

/// Runs a `ciphertalk` subcommand to completion: (success, stdout + stderr).
pub fn run(args: &[&str], env: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(BINARY);
    command.args(args).env_remove("DATABASE_URL").env_remove("NATS_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}
