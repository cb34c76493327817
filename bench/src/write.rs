//! The write-path benchmark: many rooms, one hot room, and optionally a room
//! with a long history against a new one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use ciphertalk_commands::{
    CommandError, CommandMetadata, Relay, RelayOptions, RelayWake, ServiceOptions, WriteModel, WriteOptions,
};
use ciphertalk_domain::clock::now;
use ciphertalk_domain::ids::{MessageId, RoomId, UserId};
use ciphertalk_domain::room::{JoinRule, RoomCommand, RoomKind};
use ciphertalk_domain::testing::SendMessageBuilder;
use ciphertalk_domain::values::{Ciphertext, ClientMsgId};
use ciphertalk_gateway::embedded::{EmbeddedNats, EmbeddedPostgres, NatsOptions, PostgresOptions};
use ciphertalk_streams::{Topology, TopologySettings};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::stats::Samples;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rooms (one writer each) in the many-rooms scenario.
    #[arg(long, default_value_t = 64)]
    rooms: usize,
    /// Concurrent writers in the hot-room scenario.
    #[arg(long, default_value_t = 16)]
    hot_writers: usize,
    /// Events between snapshots.
    #[arg(long, default_value_t = 100)]
    snapshot_every: usize,
    /// Also compare one writer on a room with this many past messages against
    /// one on a new room (0 = skip). Seeding a million takes a few minutes.
    #[arg(long, default_value_t = 0)]
    history: usize,
    /// Use this Postgres instead of starting one (durable, fsync on).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Use this NATS instead of starting one.
    #[arg(long, env = "NATS_URL")]
    nats_url: Option<String>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(args: Args) -> Result<(), BoxError> {
    let dir = tempfile::Builder::new().prefix("ciphertalk-bench-").tempdir()?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))?;
    }
    let mut _postgres = None;
    let database_url = match args.database_url.clone() {
        Some(url) => url,
        None => {
            let pg = EmbeddedPostgres::start(PostgresOptions {
                dir: dir.path().join("postgres"),
                port: 0,
                bin_dir: None,
                database: "ciphertalk".into(),
                durable: true,
                max_connections: 200,
                idle_in_transaction_timeout_secs: 60,
            })
            .await?;
            let url = pg.url();
            _postgres = Some(pg);
            url
        }
    };
    let mut _nats = None;
    let nats_url = match args.nats_url.clone() {
        Some(url) => url,
        None => {
            let nats = EmbeddedNats::start(NatsOptions::in_dir(dir.path().join("nats"))).await?;
            let url = nats.url();
            _nats = Some(nats);
            url
        }
    };

    let pool = ciphertalk_gateway::db::connect(&database_url, 32).await?;
    ciphertalk_gateway::db::migrate(&pool).await?;
    let client = ciphertalk_gateway::serve::connect_nats(&nats_url).await?;
    let js = jetstream::new(client.clone());
    Topology::new(TopologySettings::default())?.ensure(&js).await?;
    let wake = RelayWake::with_nats(client.clone());
    let write = Arc::new(WriteModel::new(
        pool.clone(),
        wake.clone(),
        WriteOptions { snapshot_every: args.snapshot_every, ..Default::default() },
    ));
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(
        Relay::new(pool.clone(), client.clone(), wake, RelayOptions::default()).run(shutdown.clone()),
    );

    println!(
        "{:<12} {:>8} {:>10} {:>9} {:>9} {:>9} {:>10} {:>12}",
        "scenario", "writers", "commands/s", "p50 ms", "p95 ms", "p99 ms", "conflicts", "relay drain"
    );
    let seconds = Duration::from_secs(args.seconds);
    let many = scenario(&write, &pool, &js, "many-rooms", args.rooms, 1, seconds).await?;
    let hot = scenario(&write, &pool, &js, "hot-room", 1, args.hot_writers, seconds).await?;
    let mut results = vec![many, hot];
    if args.history > 0 {
        let new_model = |service| {
            WriteModel::new(
                pool.clone(),
                RelayWake::with_nats(client.clone()),
                WriteOptions { snapshot_every: args.snapshot_every, service, ..Default::default() },
            )
        };
        results.extend(history(new_model, &pool, &js, args.history, seconds).await?);
    }
    println!("{}", json!({"bench": "write", "seconds": args.seconds, "results": results}));

    shutdown.cancel();
    let _ = relay.await;
    pool.close().await;
    Ok(())
}

/// One writer on a room with `past` messages, then one on a new room, each
/// for `duration`, both on a write model that has not loaded either yet.
async fn history(
    new_model: impl Fn(ServiceOptions) -> WriteModel,
    pool: &sqlx::PgPool,
    js: &jetstream::Context,
    past: usize,
    duration: Duration,
) -> Result<Vec<serde_json::Value>, BoxError> {
    let seeding = Instant::now();
    let big_batches = ServiceOptions { max_batch: 1000, ..ServiceOptions::default() };
    let old = seed(Arc::new(new_model(big_batches)), past).await?;
    drain(pool, js).await?;
    eprintln!("seeded {past} messages (relayed to JetStream) in {:.0} s", seeding.elapsed().as_secs_f64());
    let new = create_room(&new_model(ServiceOptions::default()), &[UserId::new_v7()]).await?;

    let mut results = Vec::new();
    for (name, (room, sender)) in [(format!("{past}-past"), old), ("new-room".to_owned(), new)] {
        let model = Arc::new(new_model(ServiceOptions::default()));
        let started = Instant::now();
        let (mut samples, _) = writer(model, room, sender, Budget::Until(Instant::now() + duration)).await?;
        let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
        let (p50, p95, p99) =
            (samples.quantile_ms(0.5), samples.quantile_ms(0.95), samples.quantile_ms(0.99));
        println!("{name:<12} {:>8} {rate:>10.0} {p50:>9.2} {p95:>9.2} {p99:>9.2}", 1);
        results.push(json!({
            "scenario": name, "writers": 1, "commands_per_sec": rate.round(),
            "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
        }));
    }
    Ok(results)
}

/// Sends `count` messages to a new room through the command path, from 256
/// members at once, so that group commit writes them in large batches.
/// Returns the room and one of its members.
async fn seed(write: Arc<WriteModel>, count: usize) -> Result<(RoomId, UserId), BoxError> {
    let members: Vec<UserId> = (0..256).map(|_| UserId::new_v7()).collect();
    let (room, owner) = create_room(&write, &members).await?;
    let budget = Budget::Count(Arc::new(AtomicUsize::new(count)));
    let tasks: Vec<_> = members
        .into_iter()
        .map(|member| tokio::spawn(writer(write.clone(), room, member, budget.clone())))
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok((room, owner))
}

/// A group room whose first member is its owner.
async fn create_room(write: &WriteModel, members: &[UserId]) -> Result<(RoomId, UserId), BoxError> {
    let room = RoomId::new_v7();
    let (&owner, others) = members.split_first().ok_or("a room needs an owner")?;
    let create = RoomCommand::CreateRoom {
        room_id: room,
        kind: RoomKind::Group,
        name: None,
        description: None,
        join_rule: JoinRule::Invite,
        creator: owner,
        members: others.to_vec(),
        at: now(),
    };
    write.rooms.execute(&room.to_string(), create, &CommandMetadata::new(owner.to_string(), None)).await?;
    Ok((room, owner))
}

/// Waits until JetStream holds every committed event; returns how long that took.
async fn drain(pool: &sqlx::PgPool, js: &jetstream::Context) -> Result<Duration, BoxError> {
    let committed: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await?;
    let started = Instant::now();
    loop {
        let messages = js.get_stream("CHAT_EVENTS").await?.info().await?.state.messages;
        if messages as i64 >= committed {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `rooms` rooms, `writers_per_room` writers each, for `duration`.
async fn scenario(
    write: &Arc<WriteModel>,
    pool: &sqlx::PgPool,
    js: &jetstream::Context,
    name: &str,
    rooms: usize,
    writers_per_room: usize,
    duration: Duration,
) -> Result<serde_json::Value, BoxError> {
    let mut tasks = Vec::new();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    for _ in 0..rooms {
        let members: Vec<UserId> = (0..writers_per_room).map(|_| UserId::new_v7()).collect();
        let (room, _) = create_room(write, &members).await?;
        for member in members {
            tasks.push(tokio::spawn(writer(write.clone(), room, member, Budget::Until(deadline))));
        }
    }
    let mut samples = Samples::default();
    let mut conflicts = 0;
    for task in tasks {
        let (s, c) = task.await??;
        samples.extend(s);
        conflicts += c;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = samples.len();

    // How long the relay needs to have everything committed in JetStream.
    let drain = drain(pool, js).await?.as_secs_f64() * 1000.0;
    let rate = accepted as f64 / elapsed;
    let (p50, p95, p99) = (samples.quantile_ms(0.5), samples.quantile_ms(0.95), samples.quantile_ms(0.99));
    println!(
        "{name:<12} {:>8} {rate:>10.0} {p50:>9.2} {p95:>9.2} {p99:>9.2} {conflicts:>10} {:>10.0}ms",
        rooms * writers_per_room,
        drain
    );
    Ok(json!({
        "scenario": name, "writers": rooms * writers_per_room, "commands_per_sec": rate.round(),
        "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "conflicts": conflicts, "relay_drain_ms": drain.round(),
    }))
}

/// How long a writer goes on.
#[derive(Clone)]
enum Budget {
    Until(Instant),
    /// Messages left to send, shared by all writers.
    Count(Arc<AtomicUsize>),
}

impl Budget {
    /// Whether one more message may be sent (and it is counted).
    fn take(&self) -> bool {
        match self {
            Self::Until(deadline) => Instant::now() < *deadline,
            Self::Count(left) => {
                left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
            }
        }
    }
}

async fn writer(
    write: Arc<WriteModel>,
    room: RoomId,
    sender: UserId,
    budget: Budget,
) -> Result<(Samples, u64), CommandError<ciphertalk_domain::DomainError>> {
    let mut samples = Samples::default();
    let mut conflicts = 0;
    let meta = CommandMetadata::new(sender.to_string(), None);
    let ciphertext = Ciphertext::parse(&"QUJD".repeat(64)).map_err(|e| CommandError::Rejected(e.into()))?;
    let mut n = 0u64;
    while budget.take() {
        n += 1;
        let client_msg_id =
            ClientMsgId::parse(&format!("b{n}")).map_err(|e| CommandError::Rejected(e.into()))?;
        let command =
            SendMessageBuilder::new(MessageId::new_v7(), sender, client_msg_id, ciphertext.clone(), now())
                .build();
        let started = Instant::now();
        match write.rooms.execute(&room.to_string(), command, &meta).await {
            Ok(_) => samples.record(started.elapsed()),
            Err(CommandError::Conflict { .. }) => conflicts += 1,
            Err(err) => return Err(err),
        }
    }
    Ok((samples, conflicts))
}
