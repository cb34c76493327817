//! Black-box tests of CipherTalk against real nats-server and Postgres
//! processes that the harness starts itself (see `support`).

#![allow(clippy::unwrap_used)]

mod asyncapi;
mod auth;
mod backup;
mod bad_input;
mod calls;
mod devices;
mod files;
mod embedded_postgres;
mod foundation;
mod limits;
mod moderation;
mod messages;
mod observability;
mod openapi;
mod operations;
mod projections;
mod rate_limits;
mod realtime;
mod rooms;
mod routes;
mod storage;
mod support;
mod write_path;
