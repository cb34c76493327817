//! The result of a run: every expected delivery checked, latencies, rates,
//! server usage; printed as a table and as one JSON line.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::procfs::{self, Snapshot};
use super::socket::Inbox;
use super::{Plan, Sent};
use crate::stats::{BySecond, Samples};

/// What a run produced, before it is judged.
#[derive(Debug)]
pub struct Outcome {
    pub sent: Vec<Sent>,
    pub inboxes: Vec<Inbox>,
    pub register_secs: f64,
    pub connect_secs: f64,
    /// WebSocket connection attempts that failed and were retried.
    pub connect_retries: usize,
    pub first_connect_failure: Option<String>,
    /// From the end of the warm-up to the last answer.
    pub send_secs: f64,
    /// From the end of the warm-up to the end of the drain.
    pub delivery_secs: f64,
    /// The server once the users were registered, once all clients were
    /// connected, after the warm-up, and when sending ended.
    pub server_registered: Option<Snapshot>,
    pub server_connected: Option<Snapshot>,
    pub server_measured: Option<Snapshot>,
    pub server_sent: Option<Snapshot>,
    /// This process over the measured sending.
    pub self_usage: Option<(Snapshot, Snapshot)>,
    pub load_average: Option<([f64; 3], [f64; 3])>,
}

#[derive(Debug)]
pub struct Report {
    pub lost: u64,
    pub duplicated: u64,
    json: Value,
    table: String,
}

impl Report {
    pub fn new(plan: &Plan, outcome: Outcome) -> Self {
        let check = check(plan, &outcome.sent, &outcome.inboxes);
        let usage = server_usage(&outcome);
        let accepted: usize = outcome.sent.iter().map(|s| s.accepted.len()).sum();
        let measured: u64 = outcome.sent.iter().map(|s| s.measured).sum();
        let send_errors: u64 = outcome.sent.iter().map(|s| s.errors).sum();
        let first_send_error = outcome.sent.iter().find_map(|s| s.first_error.clone());
        let mut http = BySecond::default();
        let mut e2e = BySecond::default();
        let (mut frames, mut acked, mut disconnected) = (0u64, 0u64, 0usize);
        let mut first_disconnect = None;
        for sent in outcome.sent {
            http.extend(sent.latency);
        }
        for inbox in outcome.inboxes {
            e2e.extend(inbox.latency);
            frames += inbox.frames;
            acked += inbox.acked;
            if let Some(error) = inbox.error {
                disconnected += 1;
                first_disconnect.get_or_insert(error);
            }
        }
        let accepted_per_sec = measured as f64 / outcome.send_secs;
        let frames_per_sec = frames as f64 / outcome.delivery_secs;
        let warmup = usize::try_from(plan.warmup.as_secs()).unwrap_or(usize::MAX);
        let ms = |by_second: &BySecond| {
            let mut samples: Samples = by_second.since(warmup);
            json!({
                "p50": round2(samples.quantile_ms(0.50)), "p95": round2(samples.quantile_ms(0.95)),
                "p99": round2(samples.quantile_ms(0.99)), "max": round2(samples.max_ms()),
            })
        };
        let load_cpu = outcome.self_usage.as_ref().map(|(before, after)| {
            round1(procfs::cpu_percent(
                &before.root,
                &after.root,
                after.at.duration_since(before.at).as_secs_f64(),
            ))
        });
        let json = json!({
            "bench": "load",
            "scenario": plan.scenario,
            "users": plan.users, "rooms": plan.rooms, "room_size": plan.room_size, "senders": plan.senders,
            "target_msgs_per_sec": plan.rate, "seconds": plan.seconds, "warmup_secs": plan.warmup.as_secs(),
            "message_bytes": plan.message_bytes,
            "accepted": accepted, "accepted_msgs_per_sec": round1(accepted_per_sec), "send_errors": send_errors,
            "delivered_frames": frames, "delivered_frames_per_sec": round1(frames_per_sec),
            "expected_deliveries": check.expected, "lost": check.lost, "duplicated": check.duplicated,
            "unexpected": check.unexpected,
            "http_send_ms": ms(&http), "e2e_ms": ms(&e2e),
            "http_send_p99_ms_by_second": http.quantile_ms_by_second(0.99).into_iter().map(round1).collect::<Vec<_>>(),
            "e2e_p99_ms_by_second": e2e.quantile_ms_by_second(0.99).into_iter().map(round1).collect::<Vec<_>>(),
            "acked_frames": acked, "disconnected": disconnected, "connect_retries": outcome.connect_retries,
            "register_secs": round1(outcome.register_secs), "connect_secs": round1(outcome.connect_secs),
            "server": usage, "load_generator_cpu_percent": load_cpu,
            "load_average": outcome.load_average.map(|(before, after)| json!({"before": before, "after": after})),
            "first_send_error": first_send_error, "first_disconnect": first_disconnect,
            "first_connect_failure": outcome.first_connect_failure,
        });
        let table = table(&json);
        Self { lost: check.lost, duplicated: check.duplicated, json, table }
    }

    pub fn print(&self) {
        print!("{}", self.table);
        println!("{}", self.json);
    }
}

struct Check {
    expected: u64,
    lost: u64,
    duplicated: u64,
    /// Deliveries of messages that were not accepted (a send that failed
    /// after the server committed it) or to users outside the room.
    unexpected: u64,
}

/// Each accepted message must reach every other member of its room exactly once.
fn check(plan: &Plan, sent: &[Sent], inboxes: &[Inbox]) -> Check {
    let mut received: HashMap<(usize, u64), u64> = HashMap::new();
    for inbox in inboxes {
        for &message in &inbox.messages {
            *received.entry((inbox.user, message)).or_default() += 1;
        }
    }
    let mut check = Check { expected: 0, lost: 0, duplicated: 0, unexpected: 0 };
    for sender in sent {
        for &message in &sender.accepted {
            for member in plan.members(sender.room).filter(|&m| m != sender.user) {
                check.expected += 1;
                match received.remove(&(member, message)) {
                    None => check.lost += 1,
                    Some(count) => check.duplicated += count - 1,
                }
            }
        }
    }
    check.unexpected = received.values().sum();
    check
}

/// CPU over the sending and memory of the server and each kind of process it started.
fn server_usage(outcome: &Outcome) -> Value {
    let (Some(connected), Some(before), Some(after)) =
        (&outcome.server_connected, &outcome.server_measured, &outcome.server_sent)
    else {
        return Value::Null;
    };
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let mb = |kb: u64| round1(kb as f64 / 1024.0);
    let mut usage = json!({
        "cpu_percent": round1(procfs::cpu_percent(&before.root, &after.root, seconds)),
        "rss_mb": mb(after.root.rss_kb),
        "rss_registered_mb": outcome.server_registered.as_ref().map(|s| mb(s.root.rss_kb)),
        "rss_connected_mb": mb(connected.root.rss_kb),
        "peak_rss_mb": mb(after.root.peak_rss_kb),
    });
    let children: serde_json::Map<String, Value> = after
        .descendants
        .iter()
        .map(|(name, now)| {
            let then = before.descendants.get(name).copied().unwrap_or_default();
            let value = json!({
                "processes": now.processes,
                "cpu_percent": round1(procfs::cpu_percent(&then, now, seconds)),
                "pss_mb": mb(now.rss_kb),
            });
            (name.clone(), value)
        })
        .collect();
    usage["children"] = Value::Object(children);
    usage
}

fn table(report: &Value) -> String {
    let r = report;
    let mut out = format!(
        "load {}: {} users, {} rooms of {}, {} senders, target {} msg/s, {} s after {} s of warm-up\n",
        r["scenario"].as_str().unwrap_or_default(),
        r["users"],
        r["rooms"],
        r["room_size"],
        r["senders"],
        r["target_msgs_per_sec"].as_f64().map_or("unbounded".to_owned(), |rate| rate.to_string()),
        r["seconds"],
        r["warmup_secs"],
    );
    let line = |out: &mut String, name: &str, value: String| out.push_str(&format!("  {name:<22} {value}\n"));
    line(
        &mut out,
        "accepted",
        format!(
            "{} msgs, {} msg/s ({} send errors)",
            r["accepted"], r["accepted_msgs_per_sec"], r["send_errors"]
        ),
    );
    line(
        &mut out,
        "delivered",
        format!("{} frames, {} frames/s", r["delivered_frames"], r["delivered_frames_per_sec"]),
    );
    for (name, key) in [("http send ms", "http_send_ms"), ("end-to-end ms", "e2e_ms")] {
        let q = &r[key];
        line(
            &mut out,
            name,
            format!("p50 {}  p95 {}  p99 {}  max {}", q["p50"], q["p95"], q["p99"], q["max"]),
        );
    }
    line(&mut out, "e2e p99 by second", r["e2e_p99_ms_by_second"].to_string());
    line(
        &mut out,
        "lost / duplicated",
        format!(
            "{} / {} of {} expected ({} unexpected, {} disconnected)",
            r["lost"], r["duplicated"], r["expected_deliveries"], r["unexpected"], r["disconnected"]
        ),
    );
    let server = &r["server"];
    if server.is_object() {
        line(
            &mut out,
            "server",
            format!(
                "cpu {}%  rss {} MB (registered {} MB, connected {} MB, peak {} MB)",
                server["cpu_percent"],
                server["rss_mb"],
                server["rss_registered_mb"],
                server["rss_connected_mb"],
                server["peak_rss_mb"]
            ),
        );
        if let Some(children) = server["children"].as_object() {
            for (name, child) in children {
                line(
                    &mut out,
                    &format!("  {name} ({})", child["processes"]),
                    format!("cpu {}%  pss {} MB", child["cpu_percent"], child["pss_mb"]),
                );
            }
        }
    }
    line(&mut out, "load generator", format!("cpu {}%", r["load_generator_cpu_percent"]));
    line(&mut out, "setup", format!("register {} s, connect {} s", r["register_secs"], r["connect_secs"]));
    if let Some(load) = r["load_average"].as_object() {
        line(&mut out, "load average", format!("{} -> {}", load["before"], load["after"]));
    }
    out
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sent(room: usize, user: usize, accepted: Vec<u64>) -> Sent {
        Sent { room, user, accepted, measured: 0, latency: BySecond::default(), errors: 0, first_error: None }
    }

    fn inbox(user: usize, messages: Vec<u64>) -> Inbox {
        Inbox { user, messages, ..Inbox::default() }
    }

    fn three_in_a_room() -> Plan {
        Plan {
            scenario: "test".into(),
            users: 3,
            rooms: 1,
            room_size: 3,
            senders: 1,
            rate: None,
            seconds: 1,
            warmup: std::time::Duration::ZERO,
            drain: std::time::Duration::ZERO,
            message_bytes: 16,
            ack_every: std::time::Duration::from_secs(1),
            setup_concurrency: 1,
        }
    }

    #[test]
    fn every_other_member_must_get_each_accepted_message_once() {
        let plan = three_in_a_room();
        let sent = [sent(0, 0, vec![1, 2])];
        let perfect = check(&plan, &sent, &[inbox(1, vec![1, 2]), inbox(2, vec![2, 1])]);
        assert_eq!((perfect.expected, perfect.lost, perfect.duplicated, perfect.unexpected), (4, 0, 0, 0));

        let flawed = check(&plan, &sent, &[inbox(1, vec![1, 2, 2, 9]), inbox(2, vec![1])]);
        assert_eq!((flawed.lost, flawed.duplicated, flawed.unexpected), (1, 1, 1));
    }
}
