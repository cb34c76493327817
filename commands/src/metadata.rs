//! Metadata stored with every event: who asked, under which request, and when.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ciphertalk_domain::clock;

pub const ACTOR: &str = "actor_id";
pub const REQUEST_ID: &str = "request_id";
pub const COMMITTED_AT: &str = "at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    /// The user (or `system` process) on whose behalf the command runs.
    pub actor: String,
    /// The HTTP request id, so an event can be traced back to its request log line.
    pub request_id: Option<String>,
    pub at: DateTime<Utc>,
}

impl CommandMetadata {
    pub fn new(actor: impl Into<String>, request_id: Option<String>) -> Self {
        Self { actor: actor.into(), request_id, at: clock::now() }
    }

    /// For work the server does by itself (expiry sweeps, relays, migrations).
    pub fn system(process: &str) -> Self {
        Self::new(format!("system:{process}"), None)
    }

    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(3);
        map.insert(ACTOR.to_owned(), self.actor.clone());
        if let Some(id) = &self.request_id {
            map.insert(REQUEST_ID.to_owned(), id.clone());
        }
        map.insert(COMMITTED_AT.to_owned(), self.at.to_rfc3339());
        map
    }
}
