//! Behaviour tests of the domain crate: given/when/then per command, golden
//! fixtures of the stored event forms, and property tests of the invariants.
//! One test binary, so the suite links once.
#![allow(clippy::unwrap_used)]

mod devices;
mod file;
mod golden;
mod invariants;
mod properties;
mod push;
mod report;
mod room;
mod support;
mod suspension;
mod user;
