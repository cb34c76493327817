//! What happened to a report, in the past tense, plus the value types the events carry.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{ReportId, RoomId, UserId};
use crate::values::{ModeratorNote, ReportEvidence, ReportReason};

/// What sort of thing is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Message,
    File,
    User,
}

/// The reported thing. Messages need their room (they are addressed within it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportTarget {
    pub kind: TargetKind,
    pub id: Uuid,
    pub room_id: Option<RoomId>,
}

/// A moderator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportAction {
    /// Nothing to do.
    Dismiss,
    /// Remove the target.
    Takedown,
}

/// Events of the [`crate::report::Report`] aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReportEvent {
    /// A user reported something. `verified` is the franking check's verdict:
    /// `Some(true)` proves the reported plaintext was sent; `None` when no
    /// franking proof was offered.
    ReportFiled {
        report_id: ReportId,
        reporter: UserId,
        target: ReportTarget,
        reason: ReportReason,
        evidence: Option<ReportEvidence>,
        verified: Option<bool>,
        at: DateTime<Utc>,
    },
    /// A moderator decided the case.
    ReportResolved { moderator: UserId, action: ReportAction, note: Option<ModeratorNote>, at: DateTime<Utc> },
}

impl DomainEvent for ReportEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::ReportFiled { .. } => "ReportFiled",
            Self::ReportResolved { .. } => "ReportResolved",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        crate::EVENT_VERSION.to_owned()
    }
}
