//! Black-box tests of CipherTalk against real nats-server and Postgres
//! processes that the harness starts itself (see `support`).

#![allow(clippy::unwrap_used)]

mod api_docs;
mod asyncapi;
mod auth;
mod backup;
mod bad_input;
mod browser;
mod calls;
mod devices;
mod embedded_postgres;
mod files;
mod foundation;
mod limits;
mod messages;
mod moderation;
mod observability;
mod openapi;
mod operations;
mod projections;
mod push;
mod rate_limits;
mod realtime;
mod rooms;
mod routes;
mod schemathesis;
mod storage;
mod support;
mod web_client;
mod write_path;
