//! Devices over HTTP: sessions bound to a device (registration's first
//! device, logins that reuse or add one, the per-user limit, refresh keeping
//! the device, tokens minted before devices), managing them, and keys per device.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciphertalk_domain::{DeviceId, UserId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::{Anonymous, JWT_SECRET, PASSWORD, assert_error, spawn_app};

mod keys;
mod management;
mod sessions;

/// The user id of a session answer.
fn user_of(session: &Value) -> UserId {
    session["user"]["id"].as_str().unwrap().parse().unwrap()
}

/// The device id of a session answer.
fn device_of(session: &Value) -> String {
    session["device_id"].as_str().unwrap_or_else(|| panic!("no device_id in {session}")).to_owned()
}

/// The claims an access token carries (read, not verified).
fn claims_of(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
