//! The test harness: `app::spawn_app()` for a test's servers, and the parts
//! it is made of.
//!
//! - One private Postgres cluster per test process (started on first use, on a
//!   free loopback port, fsync off), and a fresh database per test.
//! - One private nats-server (JetStream) per test: cheap to start, and tests
//!   that stop or kill NATS cannot disturb each other.
//! - A private Garage (S3) per test that asks for one (`garage::TestGarage`),
//!   and likewise a coturn (`turn::TestTurn`).
//! - Nothing outlives the run: servers die with the process (PDEATHSIG), the
//!   cluster is stopped and its folder removed at exit, per-test servers and
//!   folders on drop, also when the test panics.

pub mod app;
pub mod binary;
pub mod cluster;
pub mod commands;
pub mod garage;
pub mod sms;
pub mod turn;

use std::path::{Path, PathBuf};

use ciphertalk_gateway::embedded::{EmbeddedNats, NatsOptions};
use sqlx::PgPool;

pub use cluster::postgres_admin_url;

/// A folder under the system temp dir that the `postgres` user can traverse
/// (tempfile makes them 0700), removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix(&format!("ciphertalk-test-{prefix}-")).tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

/// Options of an embedded Postgres cluster under `dir` for a test (no fsync).
pub fn postgres_options(
    dir: PathBuf,
    database: &str,
    max_connections: u32,
) -> ciphertalk_gateway::embedded::PostgresOptions {
    ciphertalk_gateway::embedded::PostgresOptions {
        dir,
        port: 0,
        bin_dir: None,
        database: database.into(),
        durable: false,
        max_connections,
        idle_in_transaction_timeout_secs: 60,
    }
}

/// A database of its own for one test, migrated.
pub struct TestDb {
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> Self {
        let db = Self::empty().await;
        ciphertalk_gateway::db::migrate(&db.pool).await.unwrap();
        db
    }

    /// A database with nothing in it, not even the schema (to restore a dump into).
    pub async fn empty() -> Self {
        let admin_url = postgres_admin_url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = ciphertalk_gateway::db::connect(&admin_url, 1).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        admin.close().await;
        let url = admin_url.rsplit_once('/').map(|(base, _)| format!("{base}/{name}")).unwrap();
        let pool = ciphertalk_gateway::db::connect(&url, 16).await.unwrap();
        Self { url, pool }
    }
}

/// A nats-server with JetStream for one test.
pub struct TestNats {
    pub server: EmbeddedNats,
    _dir: tempfile::TempDir,
}

impl TestNats {
    pub async fn start() -> Self {
        let dir = temp_dir("nats");
        let server = EmbeddedNats::start(NatsOptions::in_dir(dir.path().to_path_buf())).await.unwrap();
        Self { server, _dir: dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub async fn client(&self) -> async_nats::Client {
        ciphertalk_gateway::serve::connect_nats(&self.url()).await.unwrap()
    }

    /// Stops the server (its store is kept for `restart`).
    pub fn stop(&mut self) {
        self.server.stop().unwrap();
    }

    /// Where it keeps its JetStream store (streams, consumers, KV).
    pub fn store_dir(&self) -> PathBuf {
        self._dir.path().join("jetstream")
    }

    /// Starts it again on the same port and store.
    pub async fn restart(&mut self) {
        self.server.restart().await.unwrap();
    }
}

/// Every process whose command line mentions `path` (to prove none is left).
pub fn processes_mentioning(path: &Path) -> Vec<(u32, String)> {
    let needle = path.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) && pid != std::process::id() {
            found.push((pid, cmdline));
        }
    }
    found
}

/// Polls `check` every 50 ms until it is true or `seconds` pass.
pub async fn eventually<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// Holds back the named projections' next commits, as a slow projector
/// would, until the returned transaction ends: it locks their offsets.
pub async fn hold_projections(pool: &PgPool, names: &[&str]) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM projection_offsets WHERE name = ANY($1) FOR UPDATE")
        .bind(names)
        .execute(&mut *hold)
        .await
        .unwrap();
    hold
}

/// Makes the delivery projection's consumer on CHAT_EVENTS as its projector
/// would, for a test in which no projector runs: it holds every event, a
/// backlog nobody works off.
pub async fn delivery_consumer_without_projector(js: &async_nats::jetstream::Context) {
    use async_nats::jetstream::consumer::{AckPolicy, pull};
    let stream = js.get_stream("CHAT_EVENTS").await.unwrap();
    let config = pull::Config {
        durable_name: Some(ciphertalk_projections::Projection::Delivery.durable_name()),
        ack_policy: AckPolicy::All,
        ..Default::default()
    };
    stream.create_consumer(config).await.unwrap();
}

/// Polls `future` for `how_long`, failing the test if it finishes by then;
/// returns it, still pending, to be awaited later.
pub async fn pending_for<F: std::future::Future>(
    future: F,
    how_long: std::time::Duration,
) -> std::pin::Pin<Box<F>> {
    let mut future = Box::pin(future);
    assert!(tokio::time::timeout(how_long, &mut future).await.is_err(), "finished within {how_long:?}");
    future
}

#[allow(dead_code)]
pub fn data_path(dir: &tempfile::TempDir, rest: &str) -> PathBuf {
    dir.path().join(rest)
}
