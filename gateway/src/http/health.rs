//! `GET /health`: NATS and Postgres, checked for real on every call, and the
//! relay and projectors of this process that cannot make progress, by name.
//! `/health/live` says only that the process answers (a container or systemd
//! restarts it when it does not); `/health/ready` is `/health`'s verdict, for a
//! load balancer deciding whether to send traffic here.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (nats, postgres) = tokio::join!(check_nats(&state), check_postgres(&state));
    let stuck = state.stalls.stuck();
    let down: Vec<&str> = [("nats", &nats), ("postgres", &postgres)]
        .into_iter()
        .filter(|(_, result)| result.is_err())
        .map(|(name, _)| name)
        .chain(stuck.keys().map(String::as_str))
        .collect();
    let show = |result: &Result<(), String>| match result {
        Ok(()) => "ok".to_owned(),
        Err(reason) => format!("down: {reason}"),
    };
    let mut body = json!({"status": "ok", "nats": show(&nats), "postgres": show(&postgres)});
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
