//! The load generator: many users over the public API (HTTP sends, WebSocket
//! deliveries), against a running server or one started here, with every
//! expected delivery checked.
//!
//! Setup registers the users (and logs each into more devices with
//! `--devices`), creates the rooms and connects one WebSocket per device
//! (each waits for `ready`). Then the senders post messages at a fixed total
//! rate (or as fast as answers come), each ciphertext carrying its message
//! number and send time; receivers record what arrives. After a bounded
//! drain, every accepted message must have reached every device of every
//! member of its room exactly once, in room order.

pub(crate) mod api;
mod payload;
pub(crate) mod procfs;
mod report;
pub(crate) mod server;
pub(crate) mod socket;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use tokio_util::sync::CancellationToken;

use self::api::{Account, Api};
use self::payload::Clock;
use self::report::{Outcome, Report};
use self::server::Server;
use self::socket::{AckSchedule, Client, Live};
use crate::stats::BySecond;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Preset sizes; --users, --rooms, --room-size, --senders and --rate given explicitly override them.
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,
    /// Users [default: 10].
    #[arg(long)]
    users: Option<usize>,
    /// Devices per user, each its own session and WebSocket acknowledging its own cursor: the first
    /// made by registering, the others by logging in.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10))]
    devices: u16,
    /// Group rooms [default: 1].
    #[arg(long)]
    rooms: Option<usize>,
    /// Members per room, taken in turn from the users [default: users / rooms].
    #[arg(long)]
    room_size: Option<usize>,
    /// Users sending messages, spread over the rooms [default: all users].
    #[arg(long)]
    senders: Option<usize>,
    /// Messages per second over all senders; 0 = each sender sends as soon as its last send is answered
    /// [default: 100].
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of sending measured.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of sending before those measured: their messages are checked like all others but left
    /// out of rates and latencies (caches and connections filling after a start).
    #[arg(long, default_value_t = 0)]
    warmup_secs: u64,
    /// Longest wait for outstanding deliveries once sending stops.
    #[arg(long, default_value_t = 15)]
    drain_secs: u64,
    /// Size of each message's (fake) ciphertext before base64.
    #[arg(long, default_value_t = 256)]
    message_bytes: usize,
    /// How often each client acknowledges what it has received.
    #[arg(long, default_value_t = 1000)]
    ack_every_ms: u64,
    /// Registrations, room creations or WebSocket handshakes in flight at once during setup.
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// The server to load (http://host:port); without it, `ciphertalk serve` is started from the folder
    /// of this binary with embedded NATS and Postgres in a temporary folder, and stopped at the end.
    #[arg(long)]
    url: Option<String>,
    /// Keep the log of the server started here in this file.
    #[arg(long)]
    server_log: Option<std::path::PathBuf>,
    /// Process id of the server at --url, to report its CPU and memory (and its children's).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    /// 10 users in one room, all sending, 100 msg/s.
    Small,
    /// 1,000 users in 100 rooms of 10, 200 senders, 1,000 msg/s.
    Team,
    /// 5,000 connected users in 500 rooms of 10, 100 senders at 20 msg/s in all.
    Idle,
    /// One room of 200 members, 20 senders, 50 msg/s (about 10,000 deliveries/s).
    Hot,
}

impl Scenario {
    /// (users, rooms, room size, senders, msg/s)
    const fn preset(self) -> (usize, usize, usize, usize, f64) {
        match self {
            Self::Small => (10, 1, 10, 10, 100.0),
            Self::Team => (1000, 100, 10, 200, 1000.0),
            Self::Idle => (5000, 500, 10, 100, 20.0),
            Self::Hot => (200, 1, 200, 20, 50.0),
        }
    }
}

/// The sizes of one run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: String,
    pub users: usize,
    pub devices: usize,
    pub rooms: usize,
    pub room_size: usize,
    pub senders: usize,
    /// Messages per second over all senders; `None` = unbounded.
    pub rate: Option<f64>,
    pub seconds: u64,
    pub warmup: Duration,
    drain: Duration,
    message_bytes: usize,
    ack_every: Duration,
    setup_concurrency: usize,
}

impl Plan {
    fn new(args: &Args) -> Result<Self, BoxError> {
        let preset = args.scenario.map(Scenario::preset);
        let users = args.users.or(preset.map(|p| p.0)).unwrap_or(10);
        let rooms = args.rooms.or(preset.map(|p| p.1)).unwrap_or(1);
        let room_size = args.room_size.or(preset.map(|p| p.2)).unwrap_or(users / rooms.max(1));
        let senders = args.senders.or(preset.map(|p| p.3)).unwrap_or(users);
        let rate = args.rate.or(preset.map(|p| p.4)).unwrap_or(100.0);
        if rooms == 0 || senders == 0 || room_size < 2 || room_size > users {
            return Err(format!(
                "need at least one room and one sender, and 2 <= room size <= users \
                 (users {users}, rooms {rooms}, room size {room_size}, senders {senders})"
            )
            .into());
        }
        if !(rate >= 0.0 && rate.is_finite()) {
            return Err("--rate must be 0 (unbounded) or a positive number".into());
        }
        let scenario = match args.scenario {
            Some(scenario) => format!("{scenario:?}").to_lowercase(),
            None => "custom".to_owned(),
        };
        Ok(Self {
            scenario,
            users,
            devices: usize::from(args.devices),
            rooms,
            room_size,
            senders,
            rate: (rate > 0.0).then_some(rate),
            seconds: args.seconds,
            warmup: Duration::from_secs(args.warmup_secs),
            drain: Duration::from_secs(args.drain_secs),
            message_bytes: args.message_bytes,
            ack_every: Duration::from_millis(args.ack_every_ms.max(1)),
            setup_concurrency: args.setup_concurrency.max(1),
        })
    }

    /// The users (indexes) in `room`: `room_size` consecutive ones, wrapping around.
    pub fn members(&self, room: usize) -> impl Iterator<Item = usize> + use<> {
        let (start, users) = (room * self.room_size, self.users);
        (0..self.room_size).map(move |slot| (start + slot) % users)
    }

    /// Every device's WebSocket, user by user.
    pub fn clients(&self) -> impl Iterator<Item = Client> + use<> {
        let devices = self.devices;
        (0..self.users).flat_map(move |user| (0..devices).map(move |device| Client { user, device }))
    }

    /// Sender `k`'s (room, user): senders go round the rooms, so each room gets its share.
    pub fn sender(&self, k: usize) -> (usize, usize) {
        let room = k % self.rooms;
        let slot = (k / self.rooms) % self.room_size;
        (room, (room * self.room_size + slot) % self.users)
    }
}

pub async fn run(args: Args) -> Result<(), BoxError> {
    let plan = Plan::new(&args)?;
    // Each WebSocket is a descriptor on both sides; children inherit the limit.
    let files = rlimit::increase_nofile_limit(u64::MAX)?;
    let sockets = plan.users * plan.devices;
    if files < 2 * sockets as u64 + 256 {
        eprintln!("warning: only {files} open files allowed; {sockets} WebSockets may not all connect");
    }
    let server = match &args.url {
        Some(url) => Server::attach(url, args.server_pid).await?,
        None => Server::spawn().await?,
    };
    let outcome = load(&plan, &server).await;
    if let Err(err) = &outcome
        && let Some(tail) = server.log_tail()
    {
        eprintln!("load failed ({err}); the server's log ends with:\n{tail}");
    }
    let stopped = server.stop(args.server_log.as_deref()).await;
    let report = Report::new(&plan, outcome?);
    stopped?;
    report.print();
    match (report.lost, report.duplicated, report.out_of_order) {
        (0, 0, 0) => Ok(()),
        (lost, duplicated, out_of_order) => {
            Err(format!("{lost} lost, {duplicated} duplicated and {out_of_order} out-of-order deliveries")
                .into())
        }
    }
}

/// What one sender did.
#[derive(Debug)]
pub struct Sent {
    pub room: usize,
    /// Numbers of the messages the server accepted.
    pub accepted: Vec<u64>,
    /// How many of them were sent after the warm-up.
    pub measured: u64,
    /// From send start to answer, by the second the send started in.
    pub latency: BySecond,
    pub errors: u64,
    pub first_error: Option<String>,
}

async fn load(plan: &Plan, server: &Server) -> Result<Outcome, BoxError> {
    let api = Api::new(&server.base)?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let concurrency = plan.setup_concurrency;

    let started = Instant::now();
    let sessions: Vec<Vec<Account>> = stream::iter(0..plan.users)
        .map(|i| {
            let api = api.clone();
            let email = format!("load-{}-{i}@example.com", &run_id[..12]);
            async move { api.sessions(&email, plan.devices).await }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    let register_secs = started.elapsed().as_secs_f64();
    eprintln!("registered {} users with {} devices each in {register_secs:.1} s", plan.users, plan.devices);
    // Rooms are made and messages sent from the first device.
    let accounts: Vec<Account> = sessions.iter().map(|devices| devices[0].clone()).collect();
    let server_registered = procfs::snapshot_aside(server.pid).await;

    let started = Instant::now();
    let rooms: Vec<String> =
        stream::iter(0..plan.rooms)
            .map(|room| {
                let members: Vec<usize> = plan.members(room).collect();
                let owner = accounts[members[0]].clone();
                let others: Vec<String> = members[1..].iter().map(|&m| accounts[m].id.clone()).collect();
                let api = api.clone();
                async move {
                    api.create_room(&owner, &others.iter().map(String::as_str).collect::<Vec<_>>()).await
                }
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
    eprintln!(
        "created {} rooms of {} in {:.1} s",
        plan.rooms,
        plan.room_size,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let url = socket::ws_url(&server.base)?;
    let attempts: Vec<(socket::Connected, Vec<String>)> = stream::iter(plan.clients())
        .map(|client| socket::connect_retrying(&url, client, &sessions[client.user][client.device]))
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let connect_secs = started.elapsed().as_secs_f64();
    let connect_failures: Vec<String> = attempts.iter().flat_map(|(_, failures)| failures.clone()).collect();
    let connected: Vec<socket::Connected> = attempts.into_iter().map(|(connected, _)| connected).collect();
    eprintln!(
        "connected {} WebSockets (all ready) in {connect_secs:.1} s, {} failed attempts retried",
        connected.len(),
        connect_failures.len()
    );

    // Sending starts once the connections have settled (1 s).
    let start = Instant::now() + Duration::from_millis(1100);
    let measured_from = start + plan.warmup;
    let deadline = measured_from + Duration::from_secs(plan.seconds);
    let clock = Clock::starting_at(start);
    let live = Arc::new(Live::default());
    let stop = CancellationToken::new();
    let sockets = connected.len();
    let clients: Vec<_> = connected
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let acks = AckSchedule::spread(plan.ack_every, i, sockets);
            socket::spawn(c, clock, plan.warmup, live.clone(), stop.clone(), acks)
        })
        .collect();
    tokio::time::sleep_until((start - Duration::from_millis(100)).into()).await;
    let server_connected = procfs::snapshot_aside(server.pid).await;

    eprintln!("sending for {} s after {} s of warm-up", plan.seconds, plan.warmup.as_secs());
    let senders: Vec<_> = (0..plan.senders)
        .map(|k| {
            let (room, user) = plan.sender(k);
            let sender = Sender {
                api: api.clone(),
                account: accounts[user].clone(),
                room_id: rooms[room].clone(),
                index: k,
                plan: plan.clone(),
                clock,
            };
            tokio::spawn(sender.run(room, start, deadline))
        })
        .collect();
    tokio::time::sleep_until(measured_from.into()).await;
    let server_measured = procfs::snapshot_aside(server.pid).await;
    let self_before = procfs::snapshot_aside(Some(std::process::id())).await;
    let load_before = procfs::load_average();
    let mut sent = Vec::with_capacity(senders.len());
    for sender in senders {
        sent.push(sender.await?);
    }
    let send_secs = measured_from.elapsed().as_secs_f64();
    let server_sent = procfs::snapshot_aside(server.pid).await;
    let self_sent = procfs::snapshot_aside(Some(std::process::id())).await;
    let load_after = procfs::load_average();

    // Wait for the deliveries still on their way: each message to every device in its room.
    let copies = (plan.room_size * plan.devices) as u64;
    let expected: u64 = sent.iter().map(|s| s.accepted.len() as u64 * copies).sum();
    let drain_deadline = Instant::now() + plan.drain;
    while live.deliveries.load(Ordering::Relaxed) < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delivery_secs = measured_from.elapsed().as_secs_f64();
    stop.cancel();
    let mut inboxes = Vec::with_capacity(clients.len());
    for client in clients {
        inboxes.push(client.await?);
    }
    Ok(Outcome {
        sent,
        inboxes,
        register_secs,
        connect_secs,
        connect_retries: connect_failures.len(),
        first_connect_failure: connect_failures.into_iter().next(),
        send_secs,
        delivery_secs,
        server_registered,
        server_connected,
        server_measured,
        server_sent,
        self_usage: self_before.zip(self_sent),
        load_average: load_before.zip(load_after),
    })
}

/// One sending user.
struct Sender {
    api: Api,
    account: Account,
    room_id: String,
    /// Which sender this is; the high half of its message numbers.
    index: usize,
    plan: Plan,
    clock: Clock,
}

impl Sender {
    async fn run(self, room: usize, start: Instant, deadline: Instant) -> Sent {
        let mut sent = Sent {
            room,
            accepted: Vec::new(),
            measured: 0,
            latency: BySecond::default(),
            errors: 0,
            first_error: None,
        };
        // Fixed rate: each sender has its share, started at its own phase so
        // that the total is smooth; a sender that falls behind skips ticks
        // (the accepted rate then shows it) rather than bursting.
        let mut ticker = self.plan.rate.map(|rate| {
            let period = Duration::from_secs_f64(self.plan.senders as f64 / rate);
            let phase = period.mul_f64(self.index as f64 / self.plan.senders as f64);
            let mut ticker = tokio::time::interval_at((start + phase).into(), period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            ticker
        });
        tokio::time::sleep_until(start.into()).await;
        for n in 0u64.. {
            // A slow sender's next tick may fall after the deadline: do not wait for it.
            if let Some(ticker) = ticker.as_mut()
                && tokio::time::timeout_at(deadline.into(), ticker.tick()).await.is_err()
            {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            let message = (self.index as u64) << 32 | n;
            let sent_us = self.clock.micros();
            let ciphertext = payload::encode(message, sent_us, self.plan.message_bytes);
            let began = Instant::now();
            let sent_at = began.saturating_duration_since(start);
            match self.api.send(&self.account, &self.room_id, &format!("load-{message}"), &ciphertext).await {
                Ok(()) => {
                    sent.latency.record(sent_at, began.elapsed());
                    sent.accepted.push(message);
                    sent.measured += u64::from(sent_at >= self.plan.warmup);
                }
                Err(err) => {
                    sent.errors += 1;
                    sent.first_error.get_or_insert_with(|| err.to_string());
                    // Do not spin on a server that refuses everything.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashSet;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn plan(args: &[&str]) -> Plan {
        Plan::new(&Cli::parse_from(std::iter::once("load").chain(args.iter().copied())).args).unwrap()
    }

    #[test]
    fn team_rooms_partition_the_users_and_share_the_senders() {
        let plan = plan(&["--scenario", "team"]);
        assert_eq!((plan.users, plan.rooms, plan.room_size, plan.senders), (1000, 100, 10, 200));
        let mut seen = HashSet::new();
        for room in 0..plan.rooms {
            for user in plan.members(room) {
                assert!(seen.insert(user), "user {user} in two rooms");
            }
        }
        assert_eq!(seen.len(), 1000);
        let mut senders = HashSet::new();
        for k in 0..plan.senders {
            let (room, user) = plan.sender(k);
            assert!(plan.members(room).any(|m| m == user));
            assert!(senders.insert(user), "user {user} sends twice");
        }
        assert_eq!((0..plan.senders).filter(|&k| plan.sender(k).0 == 7).count(), 2);
    }

    #[test]
    fn explicit_sizes_override_the_preset() {
        let plan = plan(&["--scenario", "hot", "--rate", "0", "--senders", "5"]);
        assert_eq!((plan.users, plan.rooms, plan.room_size, plan.senders, plan.rate), (200, 1, 200, 5, None));
        let custom = plan_default();
        assert_eq!((custom.users, custom.room_size, custom.senders, custom.rate), (10, 10, 10, Some(100.0)));
    }

    fn plan_default() -> Plan {
        plan(&[])
    }

    #[test]
    fn every_device_of_every_user_gets_a_socket() {
        assert_eq!(plan_default().clients().count(), 10);
        let plan = plan(&["--users", "3", "--devices", "2"]);
        let clients: Vec<(usize, usize)> = plan.clients().map(|c| (c.user, c.device)).collect();
        assert_eq!(clients, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
    }

    #[test]
    fn impossible_sizes_are_refused() {
        for devices in ["0", "11"] {
            assert!(
                Cli::try_parse_from(["load", "--devices", devices]).is_err(),
                "--devices {devices} accepted"
            );
        }
        for args in [&["--room-size", "1"][..], &["--users", "5", "--room-size", "6"], &["--rate=-1"]] {
            let cli = Cli::parse_from(std::iter::once("load").chain(args.iter().copied()));
            assert!(Plan::new(&cli.args).is_err(), "{args:?} accepted");
        }
    }
}
