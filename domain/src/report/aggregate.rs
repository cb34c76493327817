//! The report aggregate's state and rules.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use super::commands::ReportCommand;
use super::events::{ReportAction, ReportEvent, ReportTarget, TargetKind};
use crate::error::DomainError;
use crate::ids::{ReportId, UserId};
use crate::values::{ModeratorNote, ReportEvidence, ReportReason};

/// Where a case stands, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    #[default]
    Open,
    Dismissed,
    Actioned,
}

/// What the report said when filed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInfo {
    pub report_id: ReportId,
    pub reporter: UserId,
    pub target: ReportTarget,
    pub reason: ReportReason,
    pub evidence: Option<ReportEvidence>,
    pub verified: Option<bool>,
    pub created_at: DateTime<Utc>,
}

/// How a case was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub moderator: UserId,
    pub action: ReportAction,
    pub note: Option<ModeratorNote>,
    pub at: DateTime<Utc>,
}

/// A moderation case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    info: Option<ReportInfo>,
    resolution: Option<Resolution>,
}

impl Report {
    /// What was reported; `None` until filed.
    #[must_use]
    pub fn info(&self) -> Option<&ReportInfo> {
        self.info.as_ref()
    }

    /// The decision, once made.
    #[must_use]
    pub fn resolution(&self) -> Option<&Resolution> {
        self.resolution.as_ref()
    }

    /// Open, dismissed or actioned.
    #[must_use]
    pub fn status(&self) -> ReportStatus {
        match self.resolution.as_ref().map(|resolution| resolution.action) {
            None => ReportStatus::Open,
            Some(ReportAction::Dismiss) => ReportStatus::Dismissed,
            Some(ReportAction::Takedown) => ReportStatus::Actioned,
        }
    }

    fn decide(&self, command: ReportCommand) -> Result<Vec<ReportEvent>, DomainError> {
        match command {
            ReportCommand::FileReport { report_id, reporter, target, reason, evidence, verified, at } => {
                if self.info.is_some() {
                    return Err(DomainError::AlreadyExists);
                }
                if target.kind == TargetKind::Message && target.room_id.is_none() {
                    return Err(DomainError::invalid("target.room_id", "is required for a message"));
                }
                if target.kind == TargetKind::User && target.id == reporter.as_uuid() {
                    return Err(DomainError::invalid("target.id", "cannot report yourself"));
                }
                Ok(vec![ReportEvent::ReportFiled {
                    report_id,
                    reporter,
                    target,
                    reason,
                    evidence,
                    verified,
                    at,
                }])
            }
            ReportCommand::ResolveReport { moderator, action, note, at } => {
                if self.info.is_none() {
                    return Err(DomainError::ReportNotFound);
                }
                if self.resolution.is_some() {
                    return Err(DomainError::Conflict("the report is already resolved"));
                }
                Ok(vec![ReportEvent::ReportResolved { moderator, action, note, at }])
            }
        }
    }
}

impl Aggregate for Report {
    const TYPE: &'static str = "report";
    type Command = ReportCommand;
    type Event = ReportEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ReportEvent::ReportFiled { report_id, reporter, target, reason, evidence, verified, at } => {
                self.info = Some(ReportInfo {
                    report_id,
                    reporter,
                    target,
                    reason,
                    evidence,
                    verified,
                    created_at: at,
                });
            }
            ReportEvent::ReportResolved { moderator, action, note, at } => {
                self.resolution = Some(Resolution { moderator, action, note, at });
            }
        }
    }
}
