//! Components that cannot make progress: the relay and the projectors report
//! here when they keep failing on the same position (or are held back), and
//! `/health` names whatever is listed. Without it a component retrying one
//! event forever looks healthy while nothing behind that event moves.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::{Arc, Mutex, PoisonError};

/// The components that are stuck right now, by name, with why.
#[derive(Debug, Clone, Default)]
pub struct Stalls {
    stuck: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Stalls {
    /// Lists `component` as stuck, for `reason` (replacing an earlier reason).
    pub fn report(&self, component: &str, reason: String) {
        metrics::gauge!("ciphertalk_component_stalled", "component" => component.to_owned()).set(1.0);
        self.stuck.lock().unwrap_or_else(PoisonError::into_inner).insert(component.to_owned(), reason);
    }

    /// `component` makes progress again.
    pub fn clear(&self, component: &str) {
        let removed = self.stuck.lock().unwrap_or_else(PoisonError::into_inner).remove(component);
        if removed.is_some() {
            metrics::gauge!("ciphertalk_component_stalled", "component" => component.to_owned()).set(0.0);
        }
    }

    /// What is stuck, by name.
    #[must_use]
    pub fn stuck(&self) -> BTreeMap<String, String> {
        self.stuck.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Counts one component's failed rounds at one position.
    #[must_use]
    pub fn tracker(&self, component: impl Into<String>, rounds: u32) -> StallTracker {
        StallTracker {
            component: component.into(),
            stalls: self.clone(),
            rounds: rounds.max(1),
            failing: None,
        }
    }
}

/// Counts the rounds a component fails in a row at the same position; beyond
/// `rounds` of them it is listed in [`Stalls`] and logged once.
#[derive(Debug)]
pub struct StallTracker {
    component: String,
    stalls: Stalls,
    rounds: u32,
    /// The position the last failures happened at, and how many in a row.
    failing: Option<(String, u32)>,
}

impl StallTracker {
    /// A round failed at `position`.
    pub fn failed(&mut self, position: &dyn Display, error: &dyn Display) {
        let position = position.to_string();
        let count = match &self.failing {
            Some((at, count)) if *at == position => count + 1,
            _ => 1,
        };
        metrics::gauge!("ciphertalk_component_failed_rounds", "component" => self.component.clone())
            .set(f64::from(count));
        if count > self.rounds {
            if count == self.rounds + 1 {
                tracing::error!(component = %self.component, %position, rounds = count, %error,
                    "stalled: keeps failing on the same position");
            }
            let reason = format!("failed {count} times in a row at {position}: {error}");
            self.stalls.report(&self.component, reason);
        }
        self.failing = Some((position, count));
    }

    /// A round succeeded: whatever failed before is behind.
    pub fn progressed(&mut self) {
        if self.failing.take().is_some() {
            metrics::gauge!("ciphertalk_component_failed_rounds", "component" => self.component.clone())
                .set(0.0);
            self.stalls.clear(&self.component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_stuck_only_after_more_than_its_rounds_at_one_position() {
        let stalls = Stalls::default();
        let mut relay = stalls.tracker("relay", 2);
        relay.failed(&"1:1", &"too big");
        relay.failed(&"1:1", &"too big");
        assert!(stalls.stuck().is_empty());
        relay.failed(&"1:2", &"too big");
        relay.failed(&"1:2", &"too big");
        assert!(stalls.stuck().is_empty(), "a new position starts the count again");
        relay.failed(&"1:2", &"too big");
        assert!(stalls.stuck()["relay"].contains("1:2"), "{:?}", stalls.stuck());
        relay.progressed();
        assert!(stalls.stuck().is_empty());
    }
}
