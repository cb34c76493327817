//! `GET /health`: NATS and Postgres, checked for real on every call, the
//! file store (a HEAD under its fail-fast timeouts, its verdict reused for two
//! seconds), and the relay and projectors of this process that cannot make
//! progress, by name.
//! `/health/live` says only that the process answers (a container or systemd
//! restarts it when it does not); `/health/ready` is `/health`'s verdict, for a
//! load balancer deciding whether to send traffic here. Every check also sets
//! `ciphertalk_dependency_up{dependency}` (1 up, 0 down), which [`watch`]
//! keeps current between calls for Prometheus.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How often [`watch`] checks NATS, Postgres and the file store.
const WATCH_EVERY: Duration = Duration::from_secs(5);

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let [nats, postgres, storage] = check_dependencies(&state).await;
    let stuck = state.stalls.stuck();
    let down: Vec<&str> = [("nats", &nats), ("postgres", &postgres), ("storage", &storage)]
        .into_iter()
        .filter(|(_, result)| result.is_err())
        .map(|(name, _)| name)
        .chain(stuck.keys().map(String::as_str))
        .collect();
    let show = |result: &Result<(), String>| match result {
        Ok(()) => "ok".to_owned(),
        Err(reason) => format!("down: {reason}"),
    };
    let mut body = json!({
        "status": "ok",
        "nats": show(&nats),
        "postgres": show(&postgres),
        "storage": show(&storage),
        "storage_backend": state.config.files.backend,
    });
    if !stuck.is_empty() {
        body["stalled"] = json!(stuck);
    }
    if down.is_empty() {
        return (StatusCode::OK, Json(body));
    }
    body["status"] = json!("unavailable");
    body["error"] = json!({
        "code": "dependency_down",
        "message": format!("down: {}", down.join(", ")),
        "details": {"down": down},
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}

/// Liveness: no dependency is consulted, so a NATS or Postgres outage never
/// gets a healthy process restarted (it would come back no better).
pub async fn live() -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(json!({"status": "live"})))
}

/// Readiness: whatever `/health` checks, with its status and reasons.
pub async fn ready(state: State<AppState>) -> (StatusCode, Json<Value>) {
    let (status, Json(mut body)) = health(state).await;
    body["status"] = json!(if status.is_success() { "ready" } else { "not_ready" });
    (status, Json(body))
}

/// What [`check_dependencies`] checks, in the order of its answers.
pub(crate) const DEPENDENCIES: [&str; 3] = ["nats", "postgres", "storage"];

/// NATS, Postgres and the file store, checked at once; the gauge follows the result.
pub(crate) async fn check_dependencies(state: &AppState) -> [Result<(), String>; 3] {
    let (nats, postgres, storage) =
        tokio::join!(check_nats(state), check_postgres(state), state.files.check());
    let results = [nats, postgres, storage];
    for (dependency, result) in DEPENDENCIES.into_iter().zip(&results) {
        metrics::gauge!("ciphertalk_dependency_up", "dependency" => dependency)
            .set(f64::from(u8::from(result.is_ok())));
    }
    results
}

/// Checks the dependencies every few seconds until `shutdown`, so
/// `ciphertalk_dependency_up` is current whether or not anyone asks `/health`.
pub async fn watch(state: AppState, shutdown: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            // The gauges are what this is for; the results themselves are for /health.
            _ = every.tick() => {
                sample_connections(&state);
                drop(check_dependencies(&state).await);
            }
        }
    }
}

/// The Postgres pool's size and the NATS client's connection state, read
/// from the clients themselves (no round trip).
fn sample_connections(state: &AppState) {
    let (size, idle) = (state.db.size(), state.db.num_idle() as u32);
    let in_use = size.saturating_sub(idle);
    metrics::gauge!("ciphertalk_postgres_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("ciphertalk_postgres_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("ciphertalk_postgres_pool_max_connections")
        .set(f64::from(state.db.options().get_max_connections()));
    let connected = state.nats.connection_state() == async_nats::connection::State::Connected;
    metrics::gauge!("ciphertalk_nats_connected").set(f64::from(u8::from(connected)));
}

/// A JetStream round trip, not just "the socket is open".
async fn check_nats(state: &AppState) -> Result<(), String> {
    if state.nats.connection_state() != async_nats::connection::State::Connected {
        return Err("not connected".into());
    }
    match tokio::time::timeout(CHECK_TIMEOUT, state.jetstream.query_account()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(format!("jetstream: {err}")),
        Err(_) => Err("timed out".into()),
    }
}

async fn check_postgres(state: &AppState) -> Result<(), String> {
    let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db);
    match tokio::time::timeout(CHECK_TIMEOUT, query).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".into()),
    }
}
