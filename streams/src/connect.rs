//! Connecting to NATS from a URL that may carry credentials
//! (`nats://user:password@host:port`), which async-nats does not read itself,
//! and telling long-lived readers when the client has reconnected, so that
//! they recreate their consumers at once instead of waiting for a pull to
//! fail (an ephemeral consumer does not survive a nats-server restart).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::{ConnectOptions, Event, ServerAddr};
use tokio::sync::watch;

/// Longest wait between two reconnection attempts: a server that is back is
/// found within this (async-nats would wait up to 4 s).
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// The reconnections of one client, for whoever must react to them.
#[derive(Debug, Clone)]
pub struct Reconnects(Option<watch::Receiver<u64>>);

impl Default for Reconnects {
    /// Never fires (a client nobody watches).
    fn default() -> Self {
        Self(None)
    }
}

impl Reconnects {
    /// Resolves when the client has connected again after a disconnection
    /// (not for reconnections that happened before this handle was cloned).
    pub async fn next(&mut self) {
        let changed = match self.0.as_mut() {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        };
        if !changed {
            std::future::pending::<()>().await;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Fail at once when the server does not answer (readiness probes, CLI).
    Never,
    /// Keep trying in the background (long-running servers).
    Forever,
}

pub async fn connect(
    url: &str,
    name: &str,
    retry: Retry,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    Ok(connect_watched(url, name, retry).await?.0)
}

/// [`connect`], and the client's reconnections.
pub async fn connect_watched(
    url: &str,
    name: &str,
    retry: Retry,
) -> Result<(async_nats::Client, Reconnects), async_nats::ConnectError> {
    let (tx, rx) = watch::channel(0_u64);
    // Only a connection that follows a lost one is a reconnection: with
    // `retry_on_initial_connect` the first one is reported as `Connected` too,
    // possibly after `connect` returned.
    let lost = Arc::new(AtomicBool::new(false));
    let mut options = ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(50_u64.saturating_mul(attempts as u64)).min(MAX_RECONNECT_DELAY)
        })
        .event_callback(move |event| {
            let (tx, lost) = (tx.clone(), lost.clone());
            async move {
                match event {
                    Event::Connected if lost.swap(false, Ordering::AcqRel) => {
                        tracing::info!("NATS connection is back");
                        tx.send_modify(|generation| *generation += 1);
                    }
                    Event::Connected => tracing::debug!("NATS connected"),
                    Event::Disconnected => {
                        lost.store(true, Ordering::Release);
                        tracing::warn!("NATS connection lost; reconnecting");
                    }
                    other => tracing::debug!(event = %other, "NATS client event"),
                }
            }
        });
    if let Ok(addr) = ServerAddr::from_str(url)
        && let (Some(user), Some(password)) = (addr.username(), addr.password())
    {
        options = options.user_and_password(user.to_owned(), password.to_owned());
    }
    if retry == Retry::Forever {
        options = options.retry_on_initial_connect();
    }
    let client = options.connect(url).await?;
    Ok((client, Reconnects(Some(rx))))
}

/// Since when a reader of a stream (the live feed, a projector) has not been
/// reading it, for `ciphertalk_nats_resume_seconds{component}`: begun on a
/// failure or a reconnection, ended once it reads again.
#[derive(Debug, Default)]
pub struct Outage(std::sync::Mutex<Option<std::time::Instant>>);

impl Outage {
    /// Reading stopped (the first of several calls counts).
    pub fn begin(&self) {
        self.since().get_or_insert_with(std::time::Instant::now);
    }

    /// Not reading for a reason that is no outage (a standby).
    pub fn forget(&self) {
        self.since().take();
    }

    /// Reading again: records how long it took.
    pub fn end(&self, component: &'static str) {
        let since = self.since().take();
        if let Some(since) = since {
            let took = since.elapsed();
            metrics::histogram!("ciphertalk_nats_resume_seconds", "component" => component)
                .record(took.as_secs_f64());
            tracing::info!(component, took_ms = took.as_millis() as u64, "reading the stream again");
        }
    }

    fn since(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
