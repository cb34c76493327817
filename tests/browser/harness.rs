//! Runs one `web/e2e/<scenario>.mjs` against an instance of the harness:
//! `node` drives headless Chromium (playwright-core, the system binary), and
//! a non-zero exit fails the test with the scenario's output. Nothing is
//! skipped: without node, chromium or a built web/dist the test fails and
//! says to run scripts/setup.sh.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use ciphertalk_gateway::embedded::process::{ChildProcess, SIGTERM};
use serde::Deserialize;

use crate::support::app::{AppOptions, TestApp, spawn_app};

/// The email every browser instance makes an instance admin (the scenario
/// registers it, then logs in); scenarios get it as `CIPHERTALK_ADMINS`.
pub const ADMIN_EMAIL: &str = "admin@browser.ciphertalk.test";

/// How long a scenario may run unless it says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

const SETUP: &str = "run scripts/setup.sh (it installs Node.js, npm and chromium, and builds web/dist)";

/// The repository's web/ folder.
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("web")
}

/// The Chromium the scenarios launch.
fn chromium() -> PathBuf {
    std::env::var_os("CIPHERTALK_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// `spawn_app()` whose gateways serve the built web/dist and make
/// [`ADMIN_EMAIL`] an instance admin; chain `.config(..)`, `.files_on(..)`.
pub fn browser_app() -> AppOptions {
    let dist = built_client().to_owned();
    spawn_app().config(move |config| {
        config.web.dir = dist.clone();
        config.auth.admins = ADMIN_EMAIL.to_owned();
    })
}

/// web/dist, once the tools are there and it is not older than its sources;
/// else the test fails saying what to run.
fn built_client() -> &'static Path {
    static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let web = web_dir();
        let node = std::process::Command::new("node").arg("--version").output();
        if !node.is_ok_and(|out| out.status.success()) {
            return Err(format!("node is not installed: {SETUP}"));
        }
        if !chromium().is_file() {
            return Err(format!("{} is missing: {SETUP}", chromium().display()));
        }
        if !web.join("node_modules/playwright-core").is_dir() {
            return Err(format!("web/node_modules has no playwright-core: {SETUP}"));
        }
        let index = web.join("dist/index.html");
        let Ok(built) = index.metadata().and_then(|m| m.modified()) else {
            return Err(format!("web/dist is not built: {SETUP}"));
        };
        let sources = [web.join("src"), web.join("public"), web.join("index.html"), web.join("admin.html")];
        if let Some(newer) = sources.iter().find_map(|source| newer_than(source, built)) {
            return Err(format!(
                "web/dist is older than {}: run `npm run build` in web/ (scripts/setup.sh does)",
                newer.display()
            ));
        }
        Ok(web.join("dist"))
    });
    match checked {
        Ok(dist) => dist,
        Err(why) => panic!("browser tests cannot run: {why}"),
    }
}

/// A file at or under `path` modified after `time`.
fn newer_than(path: &Path, time: SystemTime) -> Option<PathBuf> {
    let meta = path.metadata().ok()?;
    if meta.is_dir() {
        std::fs::read_dir(path).ok()?.flatten().find_map(|entry| newer_than(&entry.path(), time))
    } else {
        meta.modified().ok().filter(|modified| *modified > time).map(|_| path.to_owned())
    }
}

/// A scenario to run: its script under web/e2e/, extra environment, time limit.
#[must_use]
pub struct Scenario {
    script: String,
    env: Vec<(String, String)>,
    timeout: Duration,
}

/// `script` (`app/chat.mjs`, relative to web/e2e/) with the defaults.
pub fn scenario(script: &str) -> Scenario {
    Scenario { script: script.to_owned(), env: Vec::new(), timeout: DEFAULT_TIMEOUT }
}

/// Runs `script` against `app`'s first gateway; fails the test if it fails.
pub async fn run_scenario(script: &str, app: &TestApp) -> Artifacts {
    scenario(script).run(app).await
}

impl Scenario {
    /// One more variable for the script (a push receiver's URL, say).
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the script to its end; its output and what it saved stay in the
    /// artifacts folder (`<target>/browser-artifacts/<test>/`).
    pub async fn run(self, app: &TestApp) -> Artifacts {
        built_client();
        let script = web_dir().join("e2e").join(&self.script);
        assert!(script.is_file(), "no scenario {}", script.display());
        let dir = artifacts_dir(&self.script);
        let log = dir.join("scenario.log");

        let mut command = std::process::Command::new("node");
        command
            .arg(&script)
            .current_dir(web_dir())
            .env("CIPHERTALK_URL", app.base(0))
            .env("CIPHERTALK_ARTIFACTS", &dir)
            .env("CIPHERTALK_ADMINS", ADMIN_EMAIL)
            .env("CIPHERTALK_CHROMIUM", chromium());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        // SIGTERM (also if this test dies) ends node, and with it the browser
        // it drives over a pipe.
        let mut node = ChildProcess::spawn("node", command, &log, SIGTERM).unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = node.exited().unwrap() {
                break Some(status);
            }
            if started.elapsed() > self.timeout {
                node.stop(Duration::from_secs(5)).unwrap();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let artifacts = Artifacts { dir, output };
        match status {
            Some(status) if status.success() => {
                println!("{}", artifacts.output);
                artifacts
            }
            Some(status) => panic!(
                "scenario {} failed ({status}); artifacts in {}:\n{}",
                self.script,
                artifacts.dir.display(),
                artifacts.output
            ),
            None => panic!(
                "scenario {} did not end within {:?}; artifacts in {}:\n{}",
                self.script,
                self.timeout,
                artifacts.dir.display(),
                artifacts.output
            ),
        }
    }
}

/// `<target>/browser-artifacts/<test name>/<scenario>` (`-2`, `-3` for a
/// scenario a test runs again); emptied first, kept after the run.
fn artifacts_dir(script: &str) -> PathBuf {
    static USED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let scenario = script.trim_end_matches(".mjs").replace('/', "-");
    let thread = std::thread::current();
    let test = match thread.name() {
        Some(name) if name != "main" => name.replace("::", "-"),
        _ => scenario.clone(),
    };
    let base = target.join("browser-artifacts").join(test).join(&scenario);
    let mut used = USED.lock().unwrap();
    let dir =
        (1..).map(|n| if n == 1 { base.clone() } else { base.with_file_name(format!("{scenario}-{n}")) });
    let dir = dir.into_iter().find(|dir| !used.contains(dir)).unwrap();
    used.insert(dir.clone());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a finished scenario left: its folder (screenshots, console logs,
/// sent.json) and its output.
pub struct Artifacts {
    pub dir: PathBuf,
    pub output: String,
}

/// sent.json: the plaintexts and files a scenario sent (`run.sent.text(..)`,
/// `run.sent.file(..)`), for the plaintext check.
#[derive(Debug, Default, Deserialize)]
pub struct Sent {
    pub texts: Vec<String>,
    /// Absolute, or relative to the artifacts folder.
    pub files: Vec<PathBuf>,
}

impl Artifacts {
    pub fn sent(&self) -> Sent {
        let path = self.dir.join("sent.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut sent: Sent =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for file in &mut sent.files {
            *file = self.dir.join(&*file);
        }
        sent
    }
}
