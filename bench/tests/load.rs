//! `ciphertalk-bench load` against an in-process server: the `small`
//! scenario for two seconds delivers every accepted message to every device
//! of every member of the room exactly once, in order, with one device per
//! user and with two.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ciphertalk_gateway::config::{Config, Toggle};
use ciphertalk_gateway::embedded::{EmbeddedNats, EmbeddedPostgres, NatsOptions, PostgresOptions};
use ciphertalk_gateway::serve::Server;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_scenario_delivers_everything_exactly_once() {
    let report = small_scenario(1).await;
    assert_eq!(report["by_device"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_scenario_delivers_everything_exactly_once_to_each_of_two_devices() {
    let report = small_scenario(2).await;
    let accepted = report["accepted"].as_u64().unwrap();
    for device in report["by_device"].as_array().unwrap() {
        assert_eq!(device["expected_deliveries"].as_u64(), Some(accepted * 10), "{report}");
        assert_eq!(
            (&device["lost"], &device["duplicated"], &device["out_of_order"]),
            (&0.into(), &0.into(), &0.into())
        );
        assert!(device["e2e_ms"]["p99"].as_f64().unwrap() > 0.0, "{report}");
    }
}

/// Runs the small scenario with `devices` per user and checks what holds for any run.
async fn small_scenario(devices: u16) -> Value {
    let dir = tempfile::Builder::new().prefix("ciphertalk-test-load-").tempdir().unwrap();
    {
        // Embedded Postgres may run as another user when we are root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let postgres = EmbeddedPostgres::start(PostgresOptions {
        dir: dir.path().join("postgres"),
        port: 0,
        bin_dir: None,
        database: "ciphertalk".into(),
        durable: false,
        max_connections: 100,
        idle_in_transaction_timeout_secs: 60,
    })
    .await
    .unwrap();
    let nats = EmbeddedNats::start(NatsOptions::in_dir(dir.path().join("nats"))).await.unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.rate_limits.mode = Toggle::Off;
    let server = Server::start(&config, &postgres.url(), &nats.url()).await.unwrap();

    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_ciphertalk-bench"))
        .args(["load", "--scenario", "small", "--seconds", "2", "--drain-secs", "10"])
        .args(["--devices", &devices.to_string()])
        .args(["--url", &format!("http://{}", server.addr)])
        .args(["--server-pid", &std::process::id().to_string()])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "load failed:\n{stdout}\n{stderr}");

    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["lost"], 0, "{stdout}");
    assert_eq!(report["duplicated"], 0, "{stdout}");
    assert_eq!(report["out_of_order"], 0, "{stdout}");
    assert_eq!(report["unexpected"], 0, "{stdout}");
    assert_eq!(report["disconnected"], 0, "{stdout}");
    assert_eq!(report["send_errors"], 0, "{stdout}");
    // Each accepted message reaches every device of the 10 members, the
    // sender's own included. (How many are accepted in 2 s is a
    // measurement, not something a test can assert.)
    let accepted = report["accepted"].as_u64().unwrap();
    assert!(accepted > 0, "{stdout}");
    assert_eq!(report["expected_deliveries"].as_u64(), Some(accepted * 10 * u64::from(devices)));
    assert!(report["e2e_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(report["server"]["rss_mb"].as_f64().unwrap() > 0.0, "{stdout}");

    server.stop().await;
    report
}
