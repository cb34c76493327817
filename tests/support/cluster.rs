//! The test process's Postgres cluster.
#![allow(unsafe_code)]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ciphertalk_gateway::embedded::EmbeddedPostgres;

struct Cluster {
    admin_url: String,
}

/// Held for the `atexit` hook, which stops the server and removes its folder
/// and the process's working folder.
static RUNNING: Mutex<Option<(EmbeddedPostgres, tempfile::TempDir, tempfile::TempDir)>> = Mutex::new(None);
static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// URL of the cluster's `postgres` database, starting the cluster on first use.
pub fn postgres_admin_url() -> String {
    CLUSTER.get_or_init(start).admin_url.clone()
}

fn start() -> Cluster {
    // In-process servers keep generated secrets under the default `./data`:
    // run the test process in a folder of its own so nothing lands in the
    // source tree, and the folder goes with the cluster at exit.
    let workdir = super::temp_dir("cwd");
    std::env::set_current_dir(workdir.path()).unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    // The kernel signals a child when the *thread* that spawned it exits, so the
    // cluster is spawned by a thread that lives as long as the process.
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let dir = super::temp_dir("pg");
            let options = super::postgres_options(dir.path().join("cluster"), "postgres", 1000);
            let postgres = runtime.block_on(EmbeddedPostgres::start(options));
            match postgres {
                Ok(postgres) => {
                    let url = postgres.admin_url();
                    *RUNNING.lock().unwrap() = Some((postgres, dir, workdir));
                    // SAFETY: registers a plain extern "C" function without captures.
                    unsafe { libc::atexit(stop_at_exit) };
                    sender.send(Ok(url)).unwrap();
                }
                Err(err) => sender.send(Err(err.to_string())).unwrap(),
            }
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    match receiver.recv_timeout(Duration::from_secs(120)).unwrap() {
        Ok(admin_url) => Cluster { admin_url },
        Err(err) => panic!("test Postgres did not start: {err}"),
    }
}

extern "C" fn stop_at_exit() {
    if let Ok(mut running) = RUNNING.lock()
        && let Some((mut postgres, dir, workdir)) = running.take()
    {
        let _ = postgres.stop();
        drop(dir);
        drop(workdir);
    }
}
