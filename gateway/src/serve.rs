//! `ciphertalk serve`: gateway, relay and (later) projectors in one process.

use std::sync::Arc;
use std::time::Duration;

use ciphertalk_commands::{Relay, RelayOptions, RelayWake};
use ciphertalk_streams::Topology;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::infra::Infra;
use crate::state::AppState;
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
}

pub async fn connect_nats(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    ciphertalk_streams::connect::connect(url, "ciphertalk", ciphertalk_streams::connect::Retry::Forever).await
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
    let result = serve_with(&config, &mut infra).await;
    infra.shutdown();
    result
}

async fn serve_with(config: &Config, infra: &mut Infra) -> Result<(), ServeError> {
    let pool = db::connect(infra.database_url.expose(), config.database_max_connections).await?;
    db::migrate(&pool).await?;
    let nats =
        tokio::time::timeout(Duration::from_secs(30), connect_nats(infra.nats_url.expose())).await.map_err(
            |_| std::io::Error::new(std::io::ErrorKind::TimedOut, "NATS did not answer within 30 s"),
        )??;
    let jetstream = async_nats::jetstream::new(nats.clone());
    let topology = Topology::new(config.streams.topology())?;
    for status in topology.ensure(&jetstream).await? {
        tracing::info!(stream = %status.name, state = ?status.state, "jetstream topology");
    }

    let shutdown = CancellationToken::new();
    let wake = RelayWake::with_nats(nats.clone());
    let relay = Relay::new(
        pool.clone(),
        nats.clone(),
        wake.clone(),
        RelayOptions {
            batch_size: config.relay.batch_size,
            idle_poll: Duration::from_millis(config.relay.idle_poll_ms),
            abort_after_publishing: None,
        },
    );
    let relay_task = tokio::spawn(relay.run(shutdown.child_token()));

    let state = AppState {
        config: Arc::new(config.clone()),
        db: pool.clone(),
        nats: nats.clone(),
        jetstream,
        metrics: telemetry::metrics(),
    };
    let app = http::router(state);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: config.listen, source })?;
    tracing::info!(addr = %listener.local_addr()?, "listening");

    let server_shutdown = shutdown.clone();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(async move { server_shutdown.cancelled().await });
    let server = tokio::spawn(server.into_future());

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
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), relay_task).await;
    let _ = nats.drain().await;
    pool.close().await;
    Ok(())
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
