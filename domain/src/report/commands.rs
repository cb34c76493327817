//! What can be asked of a report. The caller checks the moderator is an
//! instance admin and computes `verified` from the franking proof.

use chrono::{DateTime, Utc};

use super::events::{ReportAction, ReportTarget};
use crate::ids::{ReportId, UserId};
use crate::values::{ModeratorNote, ReportEvidence, ReportReason};

/// Commands of the [`crate::report::Report`] aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportCommand {
    /// Open the case.
    FileReport {
        report_id: ReportId,
        reporter: UserId,
        target: ReportTarget,
        reason: ReportReason,
        evidence: Option<ReportEvidence>,
        verified: Option<bool>,
        at: DateTime<Utc>,
    },
    /// Decide the case, once.
    ResolveReport { moderator: UserId, action: ReportAction, note: Option<ModeratorNote>, at: DateTime<Utc> },
}
