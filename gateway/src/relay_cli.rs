//! `ciphertalk relay rebuild`: CHAT_EVENTS filled again from the Postgres
//! event store (the record) after its NATS store was lost or restored from an
//! older copy. The relay refuses to publish onto such a stream on its own
//! (`RelayError::StreamBehind`, on `/health`); this makes it resume after the
//! last event the stream still holds and waits, with progress, until the whole
//! log is published again at the sequences it had; then, when CHAT_DELIVERY
//! was lost too, publishes every delivery again at the sequences it had.

use std::time::Duration;

use ciphertalk_commands::{Relay, RelayOptions, RelayWake};
use ciphertalk_projections::{Projection, freshness, republish_deliveries};
use ciphertalk_streams::subjects;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::infra::{Infra, Needs};
use crate::{db, serve, telemetry};

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub async fn rebuild(config: Config) -> Result<(), String> {
    telemetry::init_logging(&config);
    let infra = Infra::attach(&config, Needs::BOTH).await.map_err(|e| e.to_string())?;
    let pool = db::connect(infra.database_url.expose(), 4).await.map_err(|e| e.to_string())?;
    let client = tokio::time::timeout(Duration::from_secs(10), serve::connect_nats(infra.nats_url.expose()))
        .await
        .map_err(|_| "NATS did not answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let js = async_nats::jetstream::new(client.clone());
    // A lost store lost the streams too: provision them as `serve` would.
    let topology = ciphertalk_streams::Topology::new(config.streams.topology()).map_err(|e| e.to_string())?;
    topology.ensure(&js).await.map_err(|e| e.to_string())?;

    let options = RelayOptions { batch_size: config.relay.batch_size, ..RelayOptions::default() };
    let relay = Relay::new(pool.clone(), client.clone(), RelayWake::default(), options.clone());
    let rebuild = relay.rebuild_from_stream().await.map_err(|e| e.to_string())?;
    println!(
        "CHAT_EVENTS holds {} events (up to log position {}); {} to publish again",
        rebuild.stream_last_seq, rebuild.resume, rebuild.pending
    );
    // This process's relay publishes them, or a running gateway's if it leads.
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(
        Relay::new(pool.clone(), client.clone(), RelayWake::default(), options).run(shutdown.clone()),
    );
    let left = loop {
        let left = relay.pending().await.map_err(|e| e.to_string())?;
        println!("{left} events left to publish");
        if left == 0 || running.is_finished() {
            break left;
        }
        tokio::time::sleep(PROGRESS_EVERY).await;
    };
    shutdown.cancel();
    let _ = running.await;
    if left != 0 {
        return Err(format!("the relay stopped with {left} events left"));
    }
    println!("CHAT_EVENTS holds the whole log again");
    let refilled = refill_deliveries(&pool, &js).await;
    pool.close().await;
    refilled
}

/// CHAT_DELIVERY lost with the same store: the delivery projection is
/// replayed, publishing, so every device's queue is back at the sequences its
/// cursor counts in (see `ciphertalk_projections::republish_deliveries`).
async fn refill_deliveries(pool: &sqlx::PgPool, js: &async_nats::jetstream::Context) -> Result<(), String> {
    let published = freshness::output_seq(pool, Projection::Delivery).await.map_err(|e| e.to_string())?;
    let mut stream = js.get_stream(subjects::DELIVERY_STREAM).await.map_err(|e| e.to_string())?;
    let held = stream.info().await.map_err(|e| e.to_string())?.state.last_sequence;
    if held >= published {
        println!("CHAT_DELIVERY holds every delivery ({held})");
        return Ok(());
    }
    println!("CHAT_DELIVERY ends at {held} of {published}: publishing the deliveries again");
    let report = republish_deliveries(pool, js, |progress| {
        println!("deliveries: {} of {} events applied", progress.applied, progress.total);
    })
    .await
    .map_err(|e| e.to_string())?;
    let held = stream.info().await.map_err(|e| e.to_string())?.state.last_sequence;
    println!("CHAT_DELIVERY holds every delivery again ({held}, up to event {})", report.stream_seq);
    Ok(())
}
