//! `[cors]`: browser clients served from other origins. None are allowed by
//! default: a browser then refuses to let another site's page read the API's answers.

use axum::http::HeaderValue;
use serde::{Deserialize, Serialize};

use super::load::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Comma-separated origins (`https://chat.example.com`), exactly as browsers send them.
    pub allowed_origins: String,
    /// How long a browser may reuse a preflight's answer.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self { allowed_origins: String::new(), max_age_secs: 600 }
    }
}

impl CorsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.origins().map(drop).map_err(|message| ConfigError::invalid("cors.allowed_origins", &message))
    }

    /// The allowed origins, normalized (lowercase, no trailing `/`); an entry
    /// that is not `http(s)://host[:port]` is an error naming it.
    pub fn origins(&self) -> Result<Vec<HeaderValue>, String> {
        self.allowed_origins
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_lowercase())
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
                let valid = host
                    .is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', '*', '@', ' ']));
                match HeaderValue::from_str(&origin) {
                    Ok(value) if valid => Ok(value),
                    _ => Err(format!("{origin:?} is not an origin like https://chat.example.com")),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::config::Config;
    use crate::config::load::tests::env;

    #[test]
    fn cors_origins_are_normalized_and_anything_else_is_refused() {
        let config = Config::load_from(
            None,
            env(&[("CIPHERTALK_CORS_ALLOWED_ORIGINS", " https://Chat.example.com/, http://localhost:5173")]),
        )
        .unwrap();
        assert_eq!(config.cors.origins().unwrap(), ["https://chat.example.com", "http://localhost:5173"]);
        assert!(Config::load_from(None, env(&[])).unwrap().cors.origins().unwrap().is_empty());
        for bad in ["*", "chat.example.com", "https://chat.example.com/app", "https://"] {
            assert!(
                Config::load_from(None, env(&[("CIPHERTALK_CORS_ALLOWED_ORIGINS", bad)])).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
