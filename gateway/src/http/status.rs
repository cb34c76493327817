//! `GET /v1/admin/status`: projection lag and stream health for instance
//! admins, as JSON (what `/metrics` and `ciphertalk projections list` tell
//! operators, for the admin page). Every figure is read when asked: the
//! dependencies as `/health` checks them, each projection's applied offset
//! against the end of CHAT_EVENTS and its durable consumer's pending events,
//! the relay's saved cursor and the events committed after it, and the state
//! of the JetStream streams. A part that cannot be read (NATS away) is named
//! with its error and the rest is answered.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use ciphertalk_projections::Projection;
use ciphertalk_streams::subjects;
use futures::future::join_all;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::AdminUser;
use super::health;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/status", get(status))
}

/// How long one JetStream request may take before its part is reported unreadable.
const JETSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The relay's pending events are counted up to this many (the count reads the log index).
const MAX_COUNTED_PENDING: u64 = 1_000_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceStatus {
    /// When these figures were read.
    pub at: DateTime<Utc>,
    /// `ok`, or `degraded` when a dependency is down or a component is stalled.
    pub status: &'static str,
    /// `nats`, `postgres` and `storage`, as `/health` checks them.
    pub dependencies: Vec<DependencyStatus>,
    /// Components of this gateway process that cannot make progress, with why.
    pub stalled: BTreeMap<String, String>,
    pub relay: RelayStatus,
    /// One per projection.
    pub projections: Vec<ProjectionLag>,
    /// CHAT_EVENTS, CHAT_DELIVERY and CHAT_NOTIFY.
    pub streams: Vec<StreamHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyStatus {
    pub name: &'static str,
    pub up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelayStatus {
    /// The last event log position published, `<tx>:<pos>`; absent before the relay first ran.
    pub cursor: Option<String>,
    /// When the cursor was last saved (about once a second while it moves).
    pub saved_at: Option<DateTime<Utc>>,
    /// Events committed to Postgres after the cursor: not in CHAT_EVENTS yet
    /// (counted up to 1,000,000).
    pub pending_events: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionLag {
    pub name: &'static str,
    /// Events it has still to apply: `pending_events` when its consumer can
    /// be read, else `behind_stream`.
    pub lag_events: Option<u64>,
    /// Events its durable consumer still holds (not delivered, or not acknowledged).
    pub pending_events: Option<u64>,
    /// The CHAT_EVENTS sequence its stored offset is at (0 = none). A leader
    /// stores it up to 1000 sequences late while it passes over events its
    /// projection does not follow.
    pub stream_seq: u64,
    /// CHAT_EVENTS' last sequence minus `stream_seq`; absent when the stream cannot be read.
    pub behind_stream: Option<u64>,
    /// Deliveries of its consumer that were redelivered.
    pub redelivered: Option<u64>,
    /// Events applied (not skipped) since the projection began.
    pub applied_events: u64,
    /// When its offset last moved; absent if it never started.
    pub updated_at: Option<DateTime<Utc>>,
    /// Why the consumer could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreamHealth {
    pub name: &'static str,
    /// Why the stream could not be read; the figures are absent then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub messages: Option<u64>,
    pub bytes: Option<u64>,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// When its last message was stored; absent for an empty stream.
    pub last_at: Option<DateTime<Utc>>,
    pub consumers: Option<u64>,
}

#[utoipa::path(get, path = "/v1/admin/status", tag = "moderation", security(("bearer" = [])),
    responses((status = 200, description = "projection lag, relay position and stream health, read now", body = InstanceStatus),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "not an instance admin", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %admin.0.user_id))]
pub async fn status(
    State(state): State<AppState>,
    admin: AdminUser,
) -> Result<Json<InstanceStatus>, ApiError> {
    // Everything at once: with NATS away each JetStream request waits out its timeout.
    let (checks, streams, consumers, relay, offsets) = tokio::join!(
        health::check_dependencies(&state),
        streams(&state.jetstream),
        consumers(&state.jetstream),
        ciphertalk_commands::relay::standing(&state.db, MAX_COUNTED_PENDING),
        ciphertalk_projections::freshness::status(&state.db),
    );
    let dependencies: Vec<DependencyStatus> = health::DEPENDENCIES
        .into_iter()
        .zip(checks)
        .map(|(name, check)| DependencyStatus { name, up: check.is_ok(), error: check.err() })
        .collect();
    let relay = relay?;
    let events_last = streams.iter().find(|s| s.name == subjects::EVENTS_STREAM).and_then(|s| s.last_seq);
    let projections = offsets?
        .into_iter()
        .zip(consumers)
        .map(|(offset, consumer)| {
            let (pending_events, redelivered, error) = match consumer {
                Ok((pending, redelivered)) => (Some(pending), Some(redelivered), None),
                Err(err) => (None, None, Some(err)),
            };
            let behind_stream = events_last.map(|last| last.saturating_sub(offset.stream_seq));
            ProjectionLag {
                name: offset.projection.name(),
                lag_events: pending_events.or(behind_stream),
                pending_events,
                stream_seq: offset.stream_seq,
                behind_stream,
                redelivered,
                applied_events: offset.applied_events,
                updated_at: offset.updated_at,
                error,
            }
        })
        .collect();
    let stalled = state.stalls.stuck();
    let healthy = dependencies.iter().all(|d| d.up) && stalled.is_empty();
    Ok(Json(InstanceStatus {
        at: Utc::now(),
        status: if healthy { "ok" } else { "degraded" },
        dependencies,
        stalled,
        relay: RelayStatus {
            cursor: relay.cursor.map(|c| format!("{}:{}", c.tx, c.pos)),
            saved_at: relay.saved_at,
            pending_events: relay.pending,
        },
        projections,
        streams,
    }))
}

/// A JetStream request under [`JETSTREAM_TIMEOUT`], its error as text.
async fn ask<T, E: std::fmt::Display>(request: impl Future<Output = Result<T, E>>) -> Result<T, String> {
    match tokio::time::timeout(JETSTREAM_TIMEOUT, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

async fn streams(js: &jetstream::Context) -> Vec<StreamHealth> {
    let names = [subjects::EVENTS_STREAM, subjects::DELIVERY_STREAM, subjects::NOTIFY_STREAM];
    join_all(names.map(|name| async move {
        let info = match ask(js.get_stream(name)).await {
            Ok(mut stream) => ask(stream.info()).await.map(|info| info.state.clone()),
            Err(err) => Err(err),
        };
        match info {
            Ok(state) => StreamHealth {
                name,
                error: None,
                messages: Some(state.messages),
                bytes: Some(state.bytes),
                first_seq: Some(state.first_sequence),
                last_seq: Some(state.last_sequence),
                last_at: (state.last_sequence > 0)
                    .then(|| {
                        let ts = state.last_timestamp;
                        DateTime::from_timestamp(ts.unix_timestamp(), ts.nanosecond())
                    })
                    .flatten(),
                consumers: Some(state.consumer_count as u64),
            },
            Err(err) => StreamHealth {
                name,
                error: Some(err),
                messages: None,
                bytes: None,
                first_seq: None,
                last_seq: None,
                last_at: None,
                consumers: None,
            },
        }
    }))
    .await
}

/// Each projection's durable consumer, in [`Projection::ALL`] order: its
/// pending events (undelivered plus unacknowledged) and redeliveries.
async fn consumers(js: &jetstream::Context) -> Vec<Result<(u64, u64), String>> {
    let stream = match ask(js.get_stream_no_info(subjects::EVENTS_STREAM)).await {
        Ok(stream) => stream,
        Err(err) => return Projection::ALL.iter().map(|_| Err(err.clone())).collect(),
    };
    let stream = &stream;
    join_all(Projection::ALL.map(|projection| async move {
        ask(stream.consumer_info(projection.durable_name()))
            .await
            .map(|info| (info.num_pending + info.num_ack_pending as u64, info.num_redelivered as u64))
    }))
    .await
}
