//! The result of a run: every expected delivery checked, latencies, rates,
//! server usage; printed as a table and as one JSON line.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::procfs::{self, Snapshot};
use super::socket::{Inbox, Received};
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
    pub out_of_order: u64,
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
        let mut e2e_by_device: Vec<BySecond> = (0..plan.devices).map(|_| BySecond::default()).collect();
        let (mut frames, mut acked, mut disconnected) = (0u64, 0u64, 0usize);
        let mut first_disconnect = None;
        for sent in outcome.sent {
            http.extend(sent.latency);
        }
        for inbox in outcome.inboxes {
            e2e.extend(inbox.latency.clone());
            e2e_by_device[inbox.client.device].extend(inbox.latency);
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
        let by_device: Vec<Value> = check
            .by_device
            .iter()
            .zip(&e2e_by_device)
            .enumerate()
            .map(|(device, (tally, e2e))| {
                json!({
                    "device": device + 1, "expected_deliveries": tally.expected, "lost": tally.lost,
                    "duplicated": tally.duplicated, "out_of_order": tally.out_of_order, "e2e_ms": ms(e2e),
                })
            })
            .collect();
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
            "users": plan.users, "devices_per_user": plan.devices, "rooms": plan.rooms, "room_size": plan.room_size, "senders": plan.senders,
            "target_msgs_per_sec": plan.rate, "seconds": plan.seconds, "warmup_secs": plan.warmup.as_secs(),
            "message_bytes": plan.message_bytes,
            "accepted": accepted, "accepted_msgs_per_sec": round1(accepted_per_sec), "send_errors": send_errors,
            "delivered_frames": frames, "delivered_frames_per_sec": round1(frames_per_sec),
            "expected_deliveries": check.total.expected, "lost": check.total.lost,
            "duplicated": check.total.duplicated, "out_of_order": check.total.out_of_order,
            "unexpected": check.unexpected,
            "http_send_ms": ms(&http), "e2e_ms": ms(&e2e), "by_device": by_device,
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
        let Tally { lost, duplicated, out_of_order, .. } = check.total;
        Self { lost, duplicated, out_of_order, json, table }
    }

    pub fn print(&self) {
        print!("{}", self.table);
        println!("{}", self.json);
    }
}

/// Deliveries to a set of devices, judged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    expected: u64,
    lost: u64,
    /// Copies beyond the first.
    duplicated: u64,
    /// Messages that arrived after one later in their room.
    out_of_order: u64,
}

impl Tally {
    fn add(&mut self, other: Self) {
        self.expected += other.expected;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
    }
}

struct Check {
    total: Tally,
    /// By device: the first of every user, the second, ...
    by_device: Vec<Tally>,
    /// Deliveries of messages that were not accepted (a send that failed
    /// after the server committed it) or to users outside the room.
    unexpected: u64,
}

/// Each accepted message must reach every device of every member of its
/// room (the sender's included) exactly once, in the room's order.
fn check(plan: &Plan, sent: &[Sent], inboxes: &[Inbox]) -> Check {
    let mut by_device = vec![Tally::default(); plan.devices];
    let mut received: HashMap<(usize, usize, u64), u64> = HashMap::new();
    for inbox in inboxes {
        let (user, device) = (inbox.client.user, inbox.client.device);
        for delivery in &inbox.messages {
            *received.entry((user, device, delivery.message)).or_default() += 1;
        }
        by_device[device].out_of_order += out_of_order(plan, &inbox.messages);
    }
    for sender in sent {
        for &message in &sender.accepted {
            for member in plan.members(sender.room) {
                for (device, tally) in by_device.iter_mut().enumerate() {
                    tally.expected += 1;
                    match received.remove(&(member, device, message)) {
                        None => tally.lost += 1,
                        Some(count) => tally.duplicated += count - 1,
                    }
                }
            }
        }
    }
    let mut total = Tally::default();
    for tally in &by_device {
        total.add(*tally);
    }
    Check { total, by_device, unexpected: received.values().sum() }
}

/// Deliveries to one device whose room seq is below one it received before
/// from the same room (a repeat of the same seq is a duplicate, counted as such).
fn out_of_order(plan: &Plan, messages: &[Received]) -> u64 {
    let mut highest: HashMap<usize, u64> = HashMap::new();
    let mut late = 0;
    for delivery in messages {
        // The high half of a message number is its sender.
        let sender = usize::try_from(delivery.message >> 32).unwrap_or(usize::MAX);
        let (Some(seq), true) = (delivery.seq, sender < plan.senders) else { continue };
        let highest = highest.entry(plan.sender(sender).0).or_default();
        if seq < *highest {
            late += 1;
        } else {
            *highest = seq;
        }
    }
    late
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
        "load {}: {} users x {} devices, {} rooms of {}, {} senders, target {} msg/s, {} s after {} s of \
         warm-up\n",
        r["scenario"].as_str().unwrap_or_default(),
        r["users"],
        r["devices_per_user"],
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
        "lost / dup / order",
        format!(
            "{} / {} / {} of {} expected ({} unexpected, {} disconnected)",
            r["lost"],
            r["duplicated"],
            r["out_of_order"],
            r["expected_deliveries"],
            r["unexpected"],
            r["disconnected"]
        ),
    );
    if r["devices_per_user"].as_u64() > Some(1) {
        for device in r["by_device"].as_array().into_iter().flatten() {
            let q = &device["e2e_ms"];
            line(
                &mut out,
                &format!("  device {}", device["device"]),
                format!(
                    "e2e p50 {}  p95 {}  p99 {}  max {}; lost / dup / order {} / {} / {}",
                    q["p50"],
                    q["p95"],
                    q["p99"],
                    q["max"],
                    device["lost"],
                    device["duplicated"],
                    device["out_of_order"]
                ),
            );
        }
    }
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
    use crate::load::socket::Client;

    fn sent(room: usize, accepted: Vec<u64>) -> Sent {
        Sent { room, accepted, measured: 0, latency: BySecond::default(), errors: 0, first_error: None }
    }

    /// What `device` of `user` received: (message, room seq) in arrival order.
    fn inbox(user: usize, device: usize, messages: &[(u64, u64)]) -> Inbox {
        let messages = messages.iter().map(|&(message, seq)| Received { message, seq: Some(seq) }).collect();
        Inbox { client: Client { user, device }, messages, ..Inbox::default() }
    }

    fn three_in_a_room(devices: usize) -> Plan {
        Plan {
            scenario: "test".into(),
            users: 3,
            devices,
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

    fn tally(expected: u64, lost: u64, duplicated: u64, out_of_order: u64) -> Tally {
        Tally { expected, lost, duplicated, out_of_order }
    }

    #[test]
    fn every_member_must_get_each_accepted_message_once() {
        let plan = three_in_a_room(1);
        let sent = [sent(0, vec![1, 2])];
        let all = [(1, 1), (2, 2)];
        let perfect = check(&plan, &sent, &[inbox(0, 0, &all), inbox(1, 0, &all), inbox(2, 0, &all)]);
        assert_eq!((perfect.total, perfect.unexpected), (tally(6, 0, 0, 0), 0));

        let flawed = check(
            &plan,
            &sent,
            &[inbox(0, 0, &all), inbox(1, 0, &[(1, 1), (2, 2), (2, 2), (9, 9)]), inbox(2, 0, &[(1, 1)])],
        );
        assert_eq!((flawed.total, flawed.unexpected), (tally(6, 1, 1, 0), 1));
    }

    #[test]
    fn each_device_of_a_user_is_checked_on_its_own() {
        let plan = three_in_a_room(2);
        let sent = [sent(0, vec![1, 2, 3])];
        let all = [(1, 1), (2, 2), (3, 3)];
        let mut inboxes: Vec<Inbox> = (0..3).map(|user| inbox(user, 0, &all)).collect();
        inboxes.extend((0..3).map(|user| inbox(user, 1, &all)));
        let perfect = check(&plan, &sent, &inboxes);
        assert_eq!(perfect.by_device, vec![tally(9, 0, 0, 0); 2]);
        assert_eq!(perfect.total, tally(18, 0, 0, 0));

        // User 1's second device missed one that its first got; user 2's
        // second got one twice and one after a later one.
        inboxes[4] = inbox(1, 1, &[(1, 1), (3, 3)]);
        inboxes[5] = inbox(2, 1, &[(1, 1), (3, 3), (2, 2), (3, 3)]);
        let flawed = check(&plan, &sent, &inboxes);
        assert_eq!(flawed.by_device, vec![tally(9, 0, 0, 0), tally(9, 1, 1, 1)]);
        assert_eq!((flawed.total, flawed.unexpected), (tally(18, 1, 1, 1), 0));
    }

    #[test]
    fn order_is_judged_per_room_by_seq() {
        // Two rooms of two: each room's seqs rise on their own.
        let plan = Plan { users: 4, rooms: 2, room_size: 2, senders: 2, ..three_in_a_room(1) };
        let (room0, room1) = (0u64, 1u64 << 32);
        let interleaved = [
            Received { message: room0, seq: Some(5) },
            Received { message: room1, seq: Some(1) },
            Received { message: room0 | 1, seq: Some(6) },
            Received { message: room1 | 1, seq: Some(2) },
            Received { message: room0 | 2, seq: None },
        ];
        assert_eq!(out_of_order(&plan, &interleaved), 0);
        let swapped = [interleaved[2], interleaved[0], interleaved[1]];
        assert_eq!(out_of_order(&plan, &swapped), 1);
    }
}
