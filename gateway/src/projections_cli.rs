//! `ciphertalk projections list|replay <name>`: where each projection stands,
//! and rebuilding one from CHAT_EVENTS sequence 1 with a progress bar while
//! running servers keep answering from the live read model.

use std::time::Duration;

use ciphertalk_projections::{Projection, rebuild};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::infra::{Infra, Needs};
use crate::{db, serve, telemetry};

/// Prints each projection's applied stream sequence and lag.
pub async fn list(config: Config) -> Result<(), String> {
    let (pool, js) = connect(&config).await?;
    let mut stream =
        js.get_stream(ciphertalk_streams::subjects::EVENTS_STREAM).await.map_err(|e| e.to_string())?;
    let last = stream.info().await.map_err(|e| e.to_string())?.state.last_sequence;
    let statuses = ciphertalk_projections::freshness::status(&pool).await.map_err(|e| e.to_string())?;
    println!("{:<10} {:>12} {:>10} {:>14}  UPDATED", "NAME", "STREAM_SEQ", "LAG", "APPLIED_EVENTS");
    for status in statuses {
        let updated = status.updated_at.map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
        println!(
            "{:<10} {:>12} {:>10} {:>14}  {updated}",
            status.projection.name(),
            status.stream_seq,
            last.saturating_sub(status.stream_seq),
            status.applied_events,
        );
    }
    pool.close().await;
    Ok(())
}

/// Rebuilds one projection beside the live one and swaps it in.
pub async fn replay(config: Config, name: &str) -> Result<(), String> {
    let Some(projection) = Projection::from_name(name) else {
        let known: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
        return Err(format!("unknown projection {name:?} (known: {})", known.join(", ")));
    };
    let (pool, js) = connect(&config).await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    bar.set_message(format!("replaying {name}"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let report = rebuild(&pool, &js, projection, |progress| {
        bar.set_length(progress.total);
        bar.set_position(progress.applied);
    })
    .await
    .map_err(|e| e.to_string());
    bar.finish_and_clear();
    pool.close().await;
    let report = report?;
    println!(
        "{name}: rebuilt from sequence 1 and swapped in at stream sequence {} ({} events applied)",
        report.stream_seq, report.applied_events
    );
    Ok(())
}

async fn connect(config: &Config) -> Result<(sqlx::PgPool, async_nats::jetstream::Context), String> {
    telemetry::init_logging(config);
    let infra = Infra::attach(config, Needs::BOTH).await.map_err(|e| e.to_string())?;
    let pool = db::connect(infra.database_url.expose(), 4).await.map_err(|e| e.to_string())?;
    db::migrate(&pool).await.map_err(|e| e.to_string())?;
    let client = tokio::time::timeout(Duration::from_secs(10), serve::connect_nats(infra.nats_url.expose()))
        .await
        .map_err(|_| "NATS did not answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok((pool, async_nats::jetstream::new(client)))
}
