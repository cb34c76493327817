//! Black-box tests of CipherTalk against real nats-server and Postgres
//! processes that the harness starts itself (see `support`).

#![allow(clippy::unwrap_used)]

mod auth;
mod foundation;
mod projections;
mod support;
mod write_path;
