//! The CipherTalk gateway: REST and WebSocket over axum, `/health` and
//! `/metrics`, and the `ciphertalk` binary (serve, migrate, streams).

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod directory;
pub mod embedded;
pub mod franking;
pub mod http;
pub mod infra;
pub mod projections_cli;
pub mod realtime;
pub mod relay_cli;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod throttle;
pub mod turn;
