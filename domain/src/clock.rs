//! The one source of "now" for times that enter an event or its metadata.
//! The domain stays clock-free inside `handle` (times arrive on commands);
//! whoever builds the command reads the clock here.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time in microseconds: what Postgres keeps, so an answer made
/// from the event equals a later read of the read model, and a franking tag
/// recomputed from either matches.
#[must_use]
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    #[test]
    fn now_has_no_more_than_microseconds() {
        assert_eq!(super::now().nanosecond() % 1_000, 0);
    }
}
