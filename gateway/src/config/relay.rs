//! `[relay]`: how the relay reads committed events and when it raises the alarm.

use serde::{Deserialize, Serialize};

use super::load::{ConfigError, ensure};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    pub batch_size: i64,
    pub idle_poll_ms: u64,
    /// Held back by an older transaction this long, the relay logs the
    /// backend holding it and reports itself on `/health`.
    pub held_back_alarm_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self { batch_size: 1000, idle_poll_ms: 200, held_back_alarm_secs: 10 }
    }
}

impl RelayConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        ensure(self.batch_size > 0, "relay.batch_size", "must be positive")?;
        ensure(self.held_back_alarm_secs > 0, "relay.held_back_alarm_secs", "must be positive")
    }
}
