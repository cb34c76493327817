//! `[web]`: the built web client (web/dist) the gateway serves at `/`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// The folder `npm run build` writes (index.html, admin.html, assets/);
    /// a relative path is taken from the working directory. Missing: `/`
    /// answers 404 "the web client is not built" and the API runs as ever.
    pub dir: PathBuf,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("web/dist") }
    }
}
