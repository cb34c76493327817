//! `[streams]`: the JetStream topology's replicas, retention and limits.

use std::time::Duration;

use ciphertalk_streams::TopologySettings;
use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamsConfig {
    pub replicas: usize,
    pub events_max_age_secs: u64,
    pub duplicate_window_secs: u64,
    pub delivery_max_age_secs: u64,
    pub notify_max_age_secs: u64,
    pub presence_max_age_secs: u64,
    pub max_consumers: i32,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        let d = TopologySettings::default();
        Self {
            replicas: d.replicas,
            events_max_age_secs: d.events_max_age.as_secs(),
            duplicate_window_secs: d.duplicate_window.as_secs(),
            delivery_max_age_secs: d.delivery_max_age.as_secs(),
            notify_max_age_secs: d.notify_max_age.as_secs(),
            presence_max_age_secs: d.presence_max_age.as_secs(),
            max_consumers: d.max_consumers,
        }
    }
}

impl StreamsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.duplicate_window_secs >= 120, "streams.duplicate_window_secs", "must be at least 120")?;
        ensure(self.max_consumers > 0, "streams.max_consumers", "must be positive")?;
        ensure((1..=5).contains(&self.replicas), "streams.replicas", "must be 1 to 5")
    }

    pub fn topology(&self) -> TopologySettings {
        TopologySettings {
            replicas: self.replicas,
            events_max_age: Duration::from_secs(self.events_max_age_secs),
            duplicate_window: Duration::from_secs(self.duplicate_window_secs),
            delivery_max_age: Duration::from_secs(self.delivery_max_age_secs),
            notify_max_age: Duration::from_secs(self.notify_max_age_secs),
            presence_max_age: Duration::from_secs(self.presence_max_age_secs),
            max_consumers: self.max_consumers,
        }
    }
}
