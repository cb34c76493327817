//! `report.created`: a new report pushed at once to the moderators who are
//! connected (instance admins, and the owner and admins of the room it
//! concerns), on their signal subjects like typing frames. Nothing is
//! queued for those offline: the report waits for them in the report lists.

use ciphertalk_domain::UserId;
use serde::Serialize;

use super::signals;

#[derive(Serialize)]
struct ReportCreated<'a, R> {
    r#type: &'static str,
    report: &'a R,
}

/// Pushes `{"type": "report.created", "report": ...}` to each of `moderators`.
pub async fn report_created<R: Serialize>(nats: &async_nats::Client, moderators: &[UserId], report: &R) {
    let frame = ReportCreated { r#type: "report.created", report };
    let Ok(text) = serde_json::to_string(&frame) else { return };
    signals::send(nats, moderators, &text).await;
}
