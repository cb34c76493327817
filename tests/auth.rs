//! Accounts and authentication over HTTP: email and phone login, token
//! rotation and theft detection, the key directory, profiles, search,
//! settings, rate limits, tickets, OpenAPI, bad input, and what reaches the logs.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ciphertalk_gateway::config::{Config, Secret, SmsMode, Toggle};
use ciphertalk_gateway::serve::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Anonymous, JWT_SECRET, assert_error, spawn_app};
use crate::support::binary::ServeProcess;
use crate::support::temp_dir;

mod accounts;
mod edges;
mod keys;
mod logs;
mod phone;
mod profiles;
mod properties;
mod tokens;

fn token(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_else(|| panic!("no {field} in {body}")).to_owned()
}
