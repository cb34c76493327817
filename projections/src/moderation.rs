//! Projection `moderation`: every report as filed and how it was decided,
//! one row per report aggregate (`<reporter>_<kind>_<target>`). The write
//! path reads reports from the aggregates' own events; this table is what
//! operators query and replay checks against them.

use ciphertalk_domain::report::{ReportAction, ReportEvent, TargetKind};
use sqlx::PgConnection;

/// The stored name of a target kind.
pub(crate) const fn kind_name(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Message => "message",
        TargetKind::File => "file",
        TargetKind::User => "user",
    }
}

/// The status a decision leaves a report in.
pub(crate) const fn status_after(action: ReportAction) -> &'static str {
    match action {
        ReportAction::Dismiss => "dismissed",
        ReportAction::Takedown => "actioned",
    }
}

pub(crate) const fn action_name(action: ReportAction) -> &'static str {
    match action {
        ReportAction::Dismiss => "dismiss",
        ReportAction::Takedown => "takedown",
    }
}

pub(crate) async fn apply(
    conn: &mut PgConnection,
    aggregate: &str,
    event: ReportEvent,
) -> Result<(), sqlx::Error> {
    match event {
        ReportEvent::ReportFiled { report_id, reporter, target, reason, evidence, verified, at } => {
            sqlx::query(
                "INSERT INTO moderation_reports (report_id, aggregate_id, reporter_id, target_kind, target_id,
                                                 room_id, reason, evidence, verified, status, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10)
                 ON CONFLICT (report_id) DO NOTHING",
            )
            .bind(report_id.as_uuid())
            .bind(aggregate)
            .bind(reporter.as_uuid())
            .bind(kind_name(target.kind))
            .bind(target.id)
            .bind(target.room_id.map(|room| room.as_uuid()))
            .bind(reason.as_str())
            .bind(evidence.as_ref().map(|evidence| evidence.as_str()))
            .bind(verified)
            .bind(at)
            .execute(conn)
            .await?;
        }
        ReportEvent::ReportResolved { moderator, action, note, at } => {
            sqlx::query(
                "UPDATE moderation_reports SET status = $2, resolved_by = $3, resolved_at = $4, note = $5
                  WHERE aggregate_id = $1",
            )
            .bind(aggregate)
            .bind(status_after(action))
            .bind(moderator.as_uuid())
            .bind(at)
            .bind(note.as_ref().map(|note| note.as_str()))
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}
