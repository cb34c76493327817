//! Loading: the TOML file (if any) as a table, each known variable of the
//! environment written over its path, then the typed `Config` and its checks.
//! An unknown `CIPHERTALK_*` variable is an error, so a typo does not pass.

use std::path::{Path, PathBuf};

use super::Config;
use super::settings::{OTHER_VARIABLES, path_of};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{0}: unknown setting (see `ciphertalk --help` or docs/configuration.md for the list)")]
    Unknown(String),
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

impl ConfigError {
    pub(super) fn invalid(name: &str, message: &str) -> Self {
        Self::Invalid { name: name.into(), message: message.into() }
    }
}

/// `Ok` when `holds`, else the setting `name` is invalid with `message`.
pub(super) fn ensure(holds: bool, name: &str, message: &str) -> Result<(), ConfigError> {
    if holds { Ok(()) } else { Err(ConfigError::invalid(name, message)) }
}

impl Config {
    /// File (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => read_file(path)?,
        };
        for (name, value) in env {
            if !(name.starts_with("CIPHERTALK_") || name == "DATABASE_URL" || name == "NATS_URL") {
                continue;
            }
            match path_of(&name) {
                Some(path) => set_path(&mut table, path, &value),
                None if OTHER_VARIABLES.contains(&name.as_str()) => {}
                None => return Err(ConfigError::Unknown(name)),
            }
        }
        let config: Config = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
            ConfigError::Invalid { name: "configuration".into(), message: e.message().to_owned() }
        })?;
        config.validate()?;
        Ok(config)
    }
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Parse { path: path.to_owned(), source: Box::new(e) })
}

/// Sets `a.b.c` in the table; the value is read as a TOML scalar when it is
/// one (numbers, booleans) and as a string otherwise.
fn set_path(table: &mut toml::Table, path: &str, raw: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        let entry = current.entry(part.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else { return };
        current = next;
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    current.insert(last.to_owned(), value);
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(in crate::config) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_are_embedded_on_loopback() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.database_url.is_none() && config.nats_url.is_none());
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ciphertalk.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\n[streams]\nreplicas = 3\n").unwrap();
        let config = Config::load_from(
            Some(&path),
            env(&[("CIPHERTALK_STREAMS_REPLICAS", "1"), ("DATABASE_URL", "postgres://u:pw@db/x")]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.streams.replicas, 1);
        assert_eq!(config.database_url.unwrap().expose(), "postgres://u:pw@db/x");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::load_from(None, env(&[("DATABASE_URL", "postgres://u:hunter2@db/x")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        assert!(matches!(
            Config::load_from(None, env(&[("CIPHERTALK_LISTN", "x")])),
            Err(ConfigError::Unknown(_))
        ));
        assert!(Config::load_from(None, env(&[("CIPHERTALK_STREAMS_REPLICAS", "many")])).is_err());
        assert!(Config::load_from(None, env(&[("CIPHERTALK_STREAMS_DUPLICATE_WINDOW_SECS", "10")])).is_err());
    }
}
