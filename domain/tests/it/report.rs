//! Given/when/then for the report commands.

use ciphertalk_domain::DomainError;
use ciphertalk_domain::report::{
    Report, ReportAction, ReportCommand, ReportEvent, ReportStatus, ReportTarget, TargetKind,
};
use ciphertalk_domain::values::{ModeratorNote, ReportEvidence, ReportReason};
use cqrs_es::Aggregate as _;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};

use crate::support::*;

fn given(events: Vec<ReportEvent>) -> AggregateTestExecutor<Report> {
    TestFramework::<Report>::with(()).given(events)
}

fn message_target() -> ReportTarget {
    ReportTarget { kind: TargetKind::Message, id: mid(1).as_uuid(), room_id: Some(ROOM) }
}

fn file_report(target: ReportTarget) -> ReportCommand {
    ReportCommand::FileReport {
        report_id: repid(1),
        reporter: BOB,
        target,
        reason: ReportReason::parse("spam").unwrap(),
        evidence: Some(ReportEvidence::parse("see attached").unwrap()),
        verified: Some(true),
        at: t0(),
    }
}

fn filed() -> ReportEvent {
    ReportEvent::ReportFiled {
        report_id: repid(1),
        reporter: BOB,
        target: message_target(),
        reason: ReportReason::parse("spam").unwrap(),
        evidence: Some(ReportEvidence::parse("see attached").unwrap()),
        verified: Some(true),
        at: t0(),
    }
}

fn resolve(action: ReportAction) -> ReportCommand {
    ReportCommand::ResolveReport {
        moderator: EVE,
        action,
        note: Some(ModeratorNote::parse("ok").unwrap()),
        at: at(5),
    }
}

#[test]
fn file_a_report() {
    given(vec![]).when(file_report(message_target())).then_expect_events(vec![filed()]);
}

#[test]
fn file_report_refusals() {
    let no_room = ReportTarget { room_id: None, ..message_target() };
    assert_eq!(
        given(vec![]).when(file_report(no_room)).inspect_result().unwrap_err().code(),
        "invalid_value"
    );
    let me = ReportTarget { kind: TargetKind::User, id: BOB.as_uuid(), room_id: None };
    assert_eq!(given(vec![]).when(file_report(me)).inspect_result().unwrap_err().code(), "invalid_value");
    given(vec![filed()]).when(file_report(message_target())).then_expect_error(DomainError::AlreadyExists);
}

#[test]
fn resolve_once() {
    given(vec![filed()]).when(resolve(ReportAction::Takedown)).then_expect_events(vec![
        ReportEvent::ReportResolved {
            moderator: EVE,
            action: ReportAction::Takedown,
            note: Some(ModeratorNote::parse("ok").unwrap()),
            at: at(5),
        },
    ]);
    let resolved =
        ReportEvent::ReportResolved { moderator: EVE, action: ReportAction::Dismiss, note: None, at: at(5) };
    assert_eq!(
        given(vec![filed(), resolved])
            .when(resolve(ReportAction::Takedown))
            .inspect_result()
            .unwrap_err()
            .code(),
        "conflict"
    );
    given(vec![]).when(resolve(ReportAction::Dismiss)).then_expect_error(DomainError::ReportNotFound);
}

#[test]
fn status_follows_the_decision() {
    let mut report = Report::default();
    report.apply(filed());
    assert_eq!(report.status(), ReportStatus::Open);
    let mut dismissed = report.clone();
    dismissed.apply(ReportEvent::ReportResolved {
        moderator: EVE,
        action: ReportAction::Dismiss,
        note: None,
        at: at(1),
    });
    assert_eq!(dismissed.status(), ReportStatus::Dismissed);
    report.apply(ReportEvent::ReportResolved {
        moderator: EVE,
        action: ReportAction::Takedown,
        note: None,
        at: at(1),
    });
    assert_eq!(report.status(), ReportStatus::Actioned);
}
