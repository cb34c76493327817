//! Every metric CipherTalk records, with its kind, unit and `# HELP` text:
//! the one list `describe` hands to the recorder and the tests hold the
//! exported page against.
//!
//! Naming rule: `ciphertalk_<area>_<what>_<unit>`.
//! - `area` is the part of the system that records it: `http`, `ws`, `feed`,
//!   `auth`, `rate_limit`, `command`, `event_store`, `message`, `relay`,
//!   `projection`, `delivery`, `push`, `component`, `dependency`, `nats`, `postgres_pool`,
//!   `signal`, `turn`.
//! - `what` is a plural noun (`requests`, `refusals`, `connections`) or a
//!   state (`up`, `stalled`, `connected`).
//! - `unit` is `total` for counters and the plural base unit otherwise
//!   (`seconds`, `events`, `connections`, `rounds`, `appends`); 0/1 state
//!   gauges have none, and the build's info gauge ends in `_info`.
//!
//! `process_*` (from metrics-process) keep the standard names every
//! Prometheus client library exports, so stock dashboards work.

use metrics::Unit;

/// How a metric is recorded, which decides the `# TYPE` Prometheus shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// Shown as a `histogram` when its name ends in `_seconds` (those get
    /// buckets), as a `summary` otherwise.
    Histogram,
}

/// One metric as `describe` announces it.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    pub help: &'static str,
}

const fn metric(name: &'static str, kind: Kind, unit: Unit, help: &'static str) -> Metric {
    Metric { name, kind, unit, help }
}

use Kind::{Counter, Gauge, Histogram};

pub const METRICS: &[Metric] = &[
    metric(
        "ciphertalk_build_info",
        Gauge,
        Unit::Count,
        "Always 1; labels: version (and commit when the build was given one).",
    ),
    metric(
        "ciphertalk_http_requests_total",
        Counter,
        Unit::Count,
        "HTTP requests answered, by method, route template and status.",
    ),
    metric(
        "ciphertalk_http_request_duration_seconds",
        Histogram,
        Unit::Seconds,
        "Time to answer an HTTP request, by method, route template and status.",
    ),
    metric(
        "ciphertalk_http_unread_bodies_total",
        Counter,
        Unit::Count,
        "Request bodies a handler left unread, by outcome: drained (connection kept) or closed.",
    ),
    metric(
        "ciphertalk_command_executions_total",
        Counter,
        Unit::Count,
        "Commands executed, by aggregate and outcome (ok, rejected, conflict, duplicate, error).",
    ),
    metric(
        "ciphertalk_command_duration_seconds",
        Histogram,
        Unit::Seconds,
        "Time to execute a command, by aggregate.",
    ),
    metric(
        "ciphertalk_command_conflicts_total",
        Counter,
        Unit::Count,
        "Optimistic concurrency conflicts retried, by aggregate.",
    ),
    metric(
        "ciphertalk_event_store_commit_appends",
        Histogram,
        Unit::Count,
        "Appends (one aggregate's events each) committed in one transaction, when more than one.",
    ),
    metric(
        "ciphertalk_event_store_refused_too_large_total",
        Counter,
        Unit::Count,
        "Commands refused because an event would exceed events.max_event_bytes, by aggregate.",
    ),
    metric(
        "ciphertalk_event_store_refused_unpublishable_total",
        Counter,
        Unit::Count,
        "Commands refused because an event would have no valid CHAT_EVENTS subject, by aggregate.",
    ),
    metric("ciphertalk_message_sends_total", Counter, Unit::Count, "Messages accepted over HTTP."),
    metric(
        "ciphertalk_message_sends_held_back_total",
        Counter,
        Unit::Count,
        "Sends that waited for the projection backlog to fall below projections.max_backlog_events.",
    ),
    metric(
        "ciphertalk_relay_events_published_total",
        Counter,
        Unit::Count,
        "Events the relay published and JetStream acknowledged.",
    ),
    metric(
        "ciphertalk_relay_lag_events",
        Gauge,
        Unit::Count,
        "Events committed to Postgres but not yet acknowledged by JetStream.",
    ),
    metric(
        "ciphertalk_relay_batch_duration_seconds",
        Histogram,
        Unit::Seconds,
        "Time to publish one relay batch.",
    ),
    metric(
        "ciphertalk_relay_errors_total",
        Counter,
        Unit::Count,
        "Relay rounds that failed and were retried.",
    ),
    metric(
        "ciphertalk_relay_held_back_seconds",
        Gauge,
        Unit::Seconds,
        "How long an older open transaction has held the relay back (0 when not, or for under 100 ms).",
    ),
    metric(
        "ciphertalk_component_stalled",
        Gauge,
        Unit::Count,
        "1 while a component (relay, relay_held_back, projection_<name>) cannot make progress and /health names it.",
    ),
    metric(
        "ciphertalk_component_failed_rounds",
        Gauge,
        Unit::Count,
        "Rounds a component failed in a row at the same position.",
    ),
    metric(
        "ciphertalk_projection_lag_events",
        Gauge,
        Unit::Count,
        "CHAT_EVENTS' last sequence minus the last one a projection applied, by projection.",
    ),
    metric(
        "ciphertalk_projection_events_total",
        Counter,
        Unit::Count,
        "Events a projection applied, by projection.",
    ),
    metric(
        "ciphertalk_projection_duplicates_total",
        Counter,
        Unit::Count,
        "Redelivered events a projection had already applied, by projection.",
    ),
    metric(
        "ciphertalk_projection_undecodable_total",
        Counter,
        Unit::Count,
        "Events a projection skipped because they could not be decoded, by projection.",
    ),
    metric(
        "ciphertalk_projection_errors_total",
        Counter,
        Unit::Count,
        "Events a projection failed to apply (retried), by projection.",
    ),
    metric(
        "ciphertalk_projection_wait_timeouts_total",
        Counter,
        Unit::Count,
        "Read-your-writes waits that timed out.",
    ),
    metric(
        "ciphertalk_projection_backlog_events",
        Gauge,
        Unit::Count,
        "Events the busiest projection's consumer still holds (read every 250 ms).",
    ),
    metric(
        "ciphertalk_delivery_messages_total",
        Counter,
        Unit::Count,
        "Messages fanned out to user delivery queues.",
    ),
    metric(
        "ciphertalk_delivery_memory_evictions_total",
        Counter,
        Unit::Count,
        "Times the delivery projection's memory of members and blockers made room.",
    ),
    metric(
        "ciphertalk_delivery_latency_seconds",
        Histogram,
        Unit::Seconds,
        "From an event's commit to its WebSocket frame being written.",
    ),
    metric(
        "ciphertalk_feed_source_switches_total",
        Counter,
        Unit::Count,
        "Live feed switches, by target: handoff (runs from the local delivery leader) or stream (CHAT_DELIVERY).",
    ),
    metric("ciphertalk_ws_connections", Gauge, Unit::Count, "Open WebSocket connections."),
    metric(
        "ciphertalk_ws_frames_sent_total",
        Counter,
        Unit::Count,
        "WebSocket frames written (pings excluded).",
    ),
    metric(
        "ciphertalk_ws_queue_drops_total",
        Counter,
        Unit::Count,
        "WebSocket connections cut off for not draining their queue.",
    ),
    metric("ciphertalk_ws_refused_total", Counter, Unit::Count, "WebSocket upgrades refused, by reason."),
    metric(
        "ciphertalk_ws_sessions_ended_total",
        Counter,
        Unit::Count,
        "End-session messages published (logout, revoked refresh family, removed device).",
    ),
    metric(
        "ciphertalk_signal_frames_relayed_total",
        Counter,
        Unit::Count,
        "Call-signal and playback frames relayed to a member (or a room, for playback), by kind.",
    ),
    metric(
        "ciphertalk_signal_refusals_total",
        Counter,
        Unit::Count,
        "Call-signal and playback frames refused, by reason (not_found, not_allowed, peer_offline, too_large, invalid_value).",
    ),
    metric(
        "ciphertalk_turn_credentials_issued_total",
        Counter,
        Unit::Count,
        "TURN credentials handed out (GET /v1/webrtc/turn).",
    ),
    metric(
        "ciphertalk_auth_login_failures_total",
        Counter,
        Unit::Count,
        "Logins refused for wrong credentials.",
    ),
    metric(
        "ciphertalk_auth_refresh_reuse_total",
        Counter,
        Unit::Count,
        "Spent refresh tokens presented again (their family is revoked).",
    ),
    metric(
        "ciphertalk_auth_sessions_issued_total",
        Counter,
        Unit::Count,
        "Token pairs issued (register, login, refresh).",
    ),
    metric(
        "ciphertalk_auth_rate_limit_refusals_total",
        Counter,
        Unit::Count,
        "Auth attempts refused by rate_limits, by action and scope.",
    ),
    metric(
        "ciphertalk_rate_limit_refusals_total",
        Counter,
        Unit::Count,
        "Writes and frames refused by write_limits, by action and scope (user, ip, target).",
    ),
    metric(
        "ciphertalk_rate_limit_buckets",
        Gauge,
        Unit::Count,
        "Write-limit token buckets held in memory (after each cleanup).",
    ),
    metric(
        "ciphertalk_nats_connected",
        Gauge,
        Unit::Count,
        "1 while the NATS client is connected, 0 while it is not (sampled every 5 s).",
    ),
    metric("ciphertalk_nats_reconnects_total", Counter, Unit::Count, "NATS client reconnections."),
    metric(
        "ciphertalk_nats_resume_seconds",
        Histogram,
        Unit::Seconds,
        "From losing a stream (reconnect or failure) to reading it again, by component.",
    ),
    metric(
        "ciphertalk_dependency_up",
        Gauge,
        Unit::Count,
        "1 when /health's check of a dependency (nats, postgres, storage) passes, 0 when not (every 5 s).",
    ),
    metric(
        "ciphertalk_postgres_pool_connections",
        Gauge,
        Unit::Count,
        "Postgres pool connections, by state (idle, in_use); sampled every 5 s.",
    ),
    metric(
        "ciphertalk_push_jobs_total",
        Counter,
        Unit::Count,
        "Push-notification jobs the notifications projection put on CHAT_NOTIFY (one per message and member to wake).",
    ),
    metric(
        "ciphertalk_push_sent_total",
        Counter,
        Unit::Count,
        "Pushes a provider accepted, by provider (webpush, fcm, webhook).",
    ),
    metric(
        "ciphertalk_push_failed_total",
        Counter,
        Unit::Count,
        "Push attempts that failed, by provider and reason (timeout, unreachable, server_error, rate_limited, refused, ...).",
    ),
    metric(
        "ciphertalk_push_dropped_total",
        Counter,
        Unit::Count,
        "Pushes not sent, by provider and reason (connected, gone, stale, no_registration, provider_disabled, dead_lettered, undecodable).",
    ),
    metric(
        "ciphertalk_postgres_pool_max_connections",
        Gauge,
        Unit::Count,
        "The Postgres pool's configured maximum size.",
    ),
];

/// Hands every description to the installed recorder.
pub fn describe() {
    for metric in METRICS {
        let (name, unit, help) = (metric.name, metric.unit, metric.help);
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(name, unit, help),
            Kind::Gauge => metrics::describe_gauge!(name, unit, help),
            Kind::Histogram => metrics::describe_histogram!(name, unit, help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule_and_appear_once() {
        let mut seen = std::collections::HashSet::new();
        for metric in METRICS {
            assert!(seen.insert(metric.name), "{} is listed twice", metric.name);
            assert!(metric.name.starts_with("ciphertalk_"), "{}", metric.name);
            let counter = metric.name.ends_with("_total");
            assert_eq!(
                counter,
                metric.kind == Kind::Counter,
                "{}: counters, and only they, end in _total",
                metric.name
            );
            if metric.unit == Unit::Seconds {
                assert!(metric.name.ends_with("_seconds"), "{}", metric.name);
            }
            assert!(!metric.help.is_empty());
        }
    }
}
