//! `ciphertalk serve`: gateway, relay and projectors in one process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt as _;
use axum::serve::ListenerExt;
use ciphertalk_commands::{Relay, RelayOptions, RelayWake, ServiceOptions, WriteModel, WriteOptions};
use ciphertalk_projections::{Backlog, Freshness, handoff, projector};
use ciphertalk_streams::connect::Reconnects;
use ciphertalk_streams::{Stalls, Topology};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::franking::{FrankingKey, FrankingKeys};
use crate::infra::Infra;
use crate::state::{AppState, Shared};
use crate::throttle::Throttle;
use crate::{db, http, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Embedded(#[from] crate::embedded::EmbeddedError),
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot connect to NATS: {0}")]
    Nats(#[from] async_nats::ConnectError),
    #[error("JetStream topology: {0}")]
    Topology(#[from] ciphertalk_streams::TopologyError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("realtime: {0}")]
    Realtime(#[from] crate::realtime::RealtimeError),
    #[error("push: {0}")]
    Push(#[from] crate::push::fcm::FcmSetupError),
    #[error(
        "events.max_event_bytes is {max_event_bytes} but the NATS server takes messages of at most \
         {max_payload} bytes (its max_payload): lower the one or raise the other"
    )]
    EventLimit { max_event_bytes: usize, max_payload: usize },
}

pub async fn connect_nats(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    Ok(connect_nats_watched(url).await?.0)
}

/// [`connect_nats`], and the client's reconnections (to recreate consumers at once).
pub async fn connect_nats_watched(
    url: &str,
) -> Result<(async_nats::Client, Reconnects), async_nats::ConnectError> {
    ciphertalk_streams::connect::connect_watched(
        url,
        "ciphertalk",
        ciphertalk_streams::connect::Retry::Forever,
    )
    .await
}

pub async fn run(config: Config) -> Result<(), ServeError> {
    telemetry::init_logging(&config);
    std::fs::create_dir_all(&config.data_dir)?;
    let mut infra = Infra::start(&config).await?;
    tracing::info!(
        embedded_nats = infra.nats.is_some(),
        embedded_postgres = infra.postgres.is_some(),
        data_dir = %config.data_dir.display(),
        "dependencies ready"
    );
    let server = match Server::start(&config, infra.database_url.expose(), infra.nats_url.expose()).await {
        Ok(server) => server,
        Err(err) => {
            infra.shutdown();
            return Err(err);
        }
    };
    let mut supervise = tokio::time::interval(Duration::from_secs(1));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            _ = supervise.tick() => infra.supervise().await,
        }
    }
    tracing::info!("shutting down");
    server.stop().await;
    infra.shutdown();
    Ok(())
}

/// A running gateway with its relay: what `serve` runs, and what tests start in-process.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Migrates, provisions the JetStream topology, starts the relay and listens.
    pub async fn start(config: &Config, database_url: &str, nats_url: &str) -> Result<Self, ServeError> {
        let acquire_timeout = Duration::from_millis(config.database_acquire_timeout_ms);
        let pool = db::connect_with(database_url, config.database_max_connections, acquire_timeout).await?;
        db::migrate(&pool).await?;
        let (nats, reconnects) =
            tokio::time::timeout(Duration::from_secs(30), connect_nats_watched(nats_url)).await.map_err(
                |_| std::io::Error::new(std::io::ErrorKind::TimedOut, "NATS did not answer within 30 s"),
            )??;
        // Every committed event must be publishable, or the relay stops at it.
        let max_payload = server_max_payload(&nats).await?;
        if config.events.max_event_bytes > max_payload {
            return Err(ServeError::EventLimit {
                max_event_bytes: config.events.max_event_bytes,
                max_payload,
            });
        }
        let jetstream = async_nats::jetstream::new(nats.clone());
        let topology = Topology::new(config.streams.topology())?;
        for status in topology.ensure(&jetstream).await? {
            tracing::info!(stream = %status.name, state = ?status.state, "jetstream topology");
        }

        let shutdown = CancellationToken::new();
        let stalls = Stalls::default();
        telemetry::register_fault_series(config.projections.run);
        let wake = RelayWake::with_nats(nats.clone());
        let franking = Arc::new(FrankingKey::load(config.messages.franking_key.as_ref(), &config.data_dir)?);
        let write = Arc::new(WriteModel::new(
            pool.clone(),
            wake.clone(),
            WriteOptions {
                snapshot_every: config.write.snapshot_every,
                service: ServiceOptions {
                    max_attempts: config.write.command_attempts,
                    cache_capacity: config.write.aggregate_cache,
                    max_batch: config.write.max_batch,
                },
                franker: Some(franking.clone()),
                max_event_bytes: config.events.max_event_bytes,
                room_max_members: config.rooms.max_members,
            },
        ));
        let relay = Relay::new(
            pool.clone(),
            nats.clone(),
            wake.clone(),
            RelayOptions {
                batch_size: config.relay.batch_size,
                idle_poll: Duration::from_millis(config.relay.idle_poll_ms),
                abort_after_publishing: None,
                stalls: stalls.clone(),
                stall_rounds: config.events.stall_rounds,
                held_back_alarm: Duration::from_secs(config.relay.held_back_alarm_secs),
                reconnects: reconnects.clone(),
            },
        );
        let mut tasks = vec![tokio::spawn(relay.run(shutdown.child_token()))];
        let freshness = Freshness::new(pool.clone());
        // Delivery messages this process's projector stores reach its live feed directly.
        let (handoff, handed_over) = handoff::channel();
        if config.projections.run {
            let options = ciphertalk_projections::ProjectorOptions {
                stalls: stalls.clone(),
                reconnects: reconnects.clone(),
                stall_rounds: config.events.stall_rounds,
                ..config.projections.projector()
            };
            tasks.extend(projector::spawn_all(&jetstream, &freshness, &options, Some(handoff), &shutdown));
        }

        let backlog = (config.projections.max_backlog_events > 0)
            .then(|| Backlog::follow(jetstream.clone(), shutdown.child_token()));

        let auth = crate::auth::Auth::new(config, pool.clone())?;
        tasks.push(tokio::spawn(crate::auth::sweep(pool.clone(), shutdown.child_token())));
        tasks.push(tokio::spawn(crate::auth::standing::follow_user_events(
            nats.clone(),
            write.clone(),
            reconnects.clone(),
            shutdown.child_token(),
        )));
        let throttle = Arc::new(
            Throttle::new(config.rate_limits.mode, &config.write_limits).map_err(std::io::Error::other)?,
        );
        tasks.push(throttle.spawn_cleanup(shutdown.child_token()));
        let realtime = crate::realtime::Realtime::new(
            config.into(),
            throttle.clone(),
            nats.clone(),
            pool.clone(),
            write.clone(),
            crate::realtime::feed::Signals { handed_over, reconnects: reconnects.clone() },
            shutdown.child_token(),
        )
        .await?;
        tasks.push(tokio::spawn(on_reconnect(reconnects, wake.clone(), shutdown.child_token())));
        let files = Arc::new(crate::storage::Storage::open(config)?);
        let sweeper = crate::storage::sweeper::Sweeper {
            pool: pool.clone(),
            write: write.clone(),
            storage: files.clone(),
        };
        tasks.push(tokio::spawn(sweeper.run(config.files.sweep_every(), shutdown.child_token())));
        let vapid = Arc::new(crate::push::VapidKey::load(&config.data_dir, &config.push.vapid_subject)?);
        if config.push.run {
            let pusher = crate::push::Pusher {
                js: jetstream.clone(),
                pool: pool.clone(),
                presence: realtime.presence.clone(),
                write: write.clone(),
                providers: crate::push::Providers::from_config(config, vapid.clone())?,
                settings: crate::push::PusherSettings::from_config(config),
            };
            tasks.push(tokio::spawn(pusher.run(shutdown.child_token())));
        }
        let state = AppState::new(Shared {
            config: Arc::new(config.clone()),
            db: pool,
            nats,
            jetstream,
            metrics: telemetry::metrics(),
            write,
            freshness,
            backlog,
            auth,
            realtime: Arc::new(realtime),
            stalls,
            throttle,
            files,
            franking: Arc::new(FrankingKeys::new(franking, &config.messages.previous_franking_keys())),
            vapid,
            turn: crate::turn::Turn::from_config(&config.webrtc),
        });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen { addr: config.listen, source })?;
        let addr = listener.local_addr()?;
        // No Nagle: a WebSocket frame written while an earlier one is unacknowledged
        // would otherwise wait for the client's delayed ACK (measured: up to 40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY on a connection");
            }
        });
        tracing::info!(%addr, "listening");
        http::web::WebClient::new(&config.web).log_where();
        let app = http::service(state.clone());
        tasks.push(tokio::spawn(http::health::watch(state.clone(), shutdown.child_token())));
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            // Connect info gives handlers the peer address (per-IP rate limits).
            let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "http server failed");
            }
        }));
        Ok(Self { addr, state, shutdown, tasks })
    }

    /// Stops accepting requests, lets in-flight ones finish, stops the relay and projectors.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let _ = self.state.nats.drain().await;
        self.state.db.close().await;
    }
}

/// Counts reconnections (`ciphertalk_nats_reconnects_total`) and wakes the
/// relay, which publishes what was committed meanwhile at once.
async fn on_reconnect(mut reconnects: Reconnects, wake: RelayWake, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = reconnects.next() => {
                metrics::counter!("ciphertalk_nats_reconnects_total").increment(1);
                wake.notify();
            }
        }
    }
}

/// The server's `max_payload`, from its `INFO` (which a client connecting in
/// the background may not have received yet).
async fn server_max_payload(nats: &async_nats::Client) -> Result<usize, ServeError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(info) = nats.try_server_info()
            && info.max_payload > 0
        {
            return Ok(info.max_payload);
        }
        if tokio::time::Instant::now() > deadline {
            let timeout = std::io::ErrorKind::TimedOut;
            return Err(std::io::Error::new(timeout, "NATS sent no server INFO within 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        // Without signal handlers we can still be stopped by the runtime ending.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
