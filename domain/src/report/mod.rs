//! The `Report` aggregate: one moderation case, from a user's report to a
//! moderator's decision. Taking the target down is a separate command on the
//! target's own aggregate, issued by the caller after `ResolveReport`.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Report, ReportInfo, ReportStatus, Resolution};
pub use commands::ReportCommand;
pub use events::{ReportAction, ReportEvent, ReportTarget, TargetKind};
