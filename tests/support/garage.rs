//! A real Garage (the S3-compatible store of compose.yaml) for one test: one
//! node on free loopback ports in a temp dir, run from deploy/garage/garage.toml
//! with the test's paths and ports, its bucket and read/write key made at start
//! (`--single-node --default-bucket`), stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ciphertalk_gateway::config::{S3Settings, S3Timeouts, Secret};
use ciphertalk_gateway::embedded::free_port;
use ciphertalk_gateway::embedded::process::{ChildProcess, SIGKILL, SIGTERM};
use ciphertalk_gateway::storage::s3::s3_store;
use object_store::aws::AmazonS3;

use super::temp_dir;

/// The Garage release scripts/setup.sh installs (and compose.yaml runs).
pub const GARAGE_VERSION: &str = "2.5.0";
/// Garage's `s3_region` in deploy/garage/garage.toml: what requests are signed for.
pub const REGION: &str = "garage";

/// How a test reaches the bucket: what CipherTalk's S3 settings need.
#[derive(Debug, Clone)]
pub struct S3Endpoint {
    /// Path-style: `{endpoint_url}/{bucket}/{key}`.
    pub endpoint_url: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl S3Endpoint {
    /// The settings CipherTalk reads the store with.
    pub fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint_url.clone()),
            public_endpoint: None,
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: Secret::new(&self.secret_access_key),
            path_style: true,
            timeouts: S3Timeouts::default(),
        }
    }

    /// An object_store client on the bucket, as the gateway builds it.
    pub fn store(&self) -> AmazonS3 {
        s3_store(&self.settings()).unwrap()
    }
}

pub struct TestGarage {
    pub s3: S3Endpoint,
    process: ChildProcess,
    binary: PathBuf,
    config: PathBuf,
    admin_port: u16,
    secrets: Vec<(&'static str, String)>,
    frozen: bool,
    dir: tempfile::TempDir,
}

impl TestGarage {
    /// Starts Garage and waits until its bucket takes requests.
    pub async fn start() -> Self {
        let binary = garage_binary();
        let dir = temp_dir("garage");
        let (s3_port, rpc_port, admin_port) =
            (free_port().unwrap(), free_port().unwrap(), free_port().unwrap());
        let config = dir.path().join("garage.toml");
        std::fs::write(&config, test_config(dir.path(), s3_port, rpc_port, admin_port)).unwrap();
        let s3 = S3Endpoint {
            endpoint_url: format!("http://127.0.0.1:{s3_port}"),
            region: REGION.into(),
            bucket: "ciphertalk-files".into(),
            access_key_id: format!("GK{}", &random_hex()[..24]),
            secret_access_key: format!("{}{}", random_hex(), random_hex()),
        };
        let secrets = vec![
            ("GARAGE_RPC_SECRET", format!("{}{}", random_hex(), random_hex())),
            ("GARAGE_ADMIN_TOKEN", random_hex()),
            ("GARAGE_DEFAULT_ACCESS_KEY", s3.access_key_id.clone()),
            ("GARAGE_DEFAULT_SECRET_KEY", s3.secret_access_key.clone()),
            ("GARAGE_DEFAULT_BUCKET", s3.bucket.clone()),
        ];
        let process = spawn(&binary, &config, dir.path(), &secrets);
        let mut garage = Self { s3, process, binary, config, admin_port, secrets, frozen: false, dir };
        garage.wait_ready().await;
        garage
    }

    /// An object_store client on the test's bucket, as the gateway builds it.
    pub fn store(&self) -> AmazonS3 {
        self.s3.store()
    }

    /// The folder holding its config, data and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (SIGTERM); its data stays for `restart`.
    pub fn stop(&mut self) {
        self.thaw();
        self.process.stop(Duration::from_secs(10)).unwrap();
    }

    /// Kills it outright, as a crash would.
    pub fn kill(&mut self) {
        self.thaw();
        let _ = self.process.signal(SIGKILL);
        self.process.stop(Duration::from_secs(10)).unwrap();
    }

    /// Starts it again on the same ports and data.
    pub async fn restart(&mut self) {
        self.stop();
        self.process = spawn(&self.binary, &self.config, self.dir.path(), &self.secrets);
        self.wait_ready().await;
    }

    /// Freezes the process (SIGSTOP): its ports still accept connections but
    /// nothing answers, as with a hung store.
    /// Returns once every thread is stopped: kill(2) only makes the stop
    /// pending, and a thread still running could answer one more request.
    pub fn freeze(&mut self) {
        self.process.signal(libc::SIGSTOP).unwrap();
        self.frozen = true;
        let tasks = PathBuf::from(format!("/proc/{}/task", self.process.id()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !all_threads_stopped(&tasks) {
            assert!(Instant::now() < deadline, "garage did not stop within 5 s of SIGSTOP");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lets a frozen process run again.
    pub fn thaw(&mut self) {
        if std::mem::take(&mut self.frozen) {
            self.process.signal(libc::SIGCONT).unwrap();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default();
        text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Until the admin API's `/health` answers 200: the layout, bucket and key
    /// are made before Garage starts its API servers.
    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/health", self.admin_port);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.exited().unwrap() {
                panic!("garage exited during start-up ({status}):\n{}", self.log_tail());
            }
            if matches!(client.get(&url).send().await, Ok(r) if r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "garage did not become ready:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestGarage {
    fn drop(&mut self) {
        // A stopped process would not see the SIGTERM that ChildProcess's drop sends.
        self.thaw();
    }
}

/// deploy/garage/garage.toml with this test's folders and loopback ports, and
/// no fsync (a test's data need not survive a power cut).
fn test_config(dir: &Path, s3_port: u16, rpc_port: u16, admin_port: u16) -> String {
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/garage/garage.toml");
    let mut config: toml::Table = std::fs::read_to_string(deploy).unwrap().parse().unwrap();
    let path = |name: &str| toml::Value::from(dir.join(name).to_string_lossy().into_owned());
    config.insert("metadata_dir".into(), path("meta"));
    config.insert("data_dir".into(), path("data"));
    config.insert("metadata_fsync".into(), false.into());
    config.insert("data_fsync".into(), false.into());
    config.insert("rpc_bind_addr".into(), format!("127.0.0.1:{rpc_port}").into());
    config.insert("rpc_public_addr".into(), format!("127.0.0.1:{rpc_port}").into());
    for (section, port) in [("s3_api", s3_port), ("admin", admin_port)] {
        let table = config.entry(section).or_insert_with(|| toml::Table::new().into());
        table.as_table_mut().unwrap().insert("api_bind_addr".into(), format!("127.0.0.1:{port}").into());
    }
    toml::to_string(&config).unwrap()
}

/// Secrets go in the environment, as compose passes them, never on the command line.
fn spawn(binary: &Path, config: &Path, dir: &Path, secrets: &[(&'static str, String)]) -> ChildProcess {
    let mut command = Command::new(binary);
    command
        .arg("-c")
        .arg(config)
        .args(["server", "--single-node", "--default-bucket"])
        .env("RUST_LOG", "garage=warn")
        .envs(secrets.iter().map(|(name, value)| (name, value)));
    ChildProcess::spawn("garage", command, &dir.join("garage.log"), SIGTERM).unwrap()
}

/// The binary scripts/setup.sh installs into the tools folder, else `garage` on PATH.
pub fn garage_binary() -> PathBuf {
    let installed = ciphertalk_gateway::embedded::binaries::tools_dir().join("garage/bin/garage");
    let found = Some(installed).filter(|path| path.is_file()).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("garage")).find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("garage not found: run scripts/setup.sh (it installs Garage {GARAGE_VERSION})")
    })
}

/// Whether every thread under `/proc/<pid>/task` is in state `T` (stopped).
fn all_threads_stopped(tasks: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(tasks) else { return false };
    entries.flatten().all(|task| {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // The state follows the parenthesised command name, which may hold spaces.
        stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T'))
    })
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
