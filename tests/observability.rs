//! What operators watch: the alert rules and the Prometheus config pass
//! promtool, the compose files wire Prometheus and Grafana to files that
//! exist, and every metric the rules and the dashboard name is exported by a
//! running server after a little traffic (a name that is not would leave an
//! alert silent or a panel empty). The same page holds the metric catalog
//! (`telemetry::catalog`) to account: every exported `ciphertalk_*` family is
//! in it with its `# HELP` and kind, and every entry is exported unless this
//! file names it as one the traffic does not reach.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use ciphertalk_gateway::telemetry::catalog::{self, Kind};

use crate::support::app::b64;
use crate::support::binary::ServeProcess;
use crate::support::{TestDb, TestNats, eventually, temp_dir};

const ALERTS: &str = "deploy/prometheus/alerts.yml";
/// The Prometheus configs of compose.yaml and compose.cluster.yaml.
const PROMETHEUS_CONFIGS: [&str; 2] = ["deploy/prometheus.yml", "deploy/prometheus-cluster.yml"];
const DASHBOARD: &str = "deploy/grafana/ciphertalk.json";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> serde_norway::Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is no YAML: {e}"))
}

/// promtool as scripts/setup.sh unpacks it, else from PATH.
fn promtool() -> PathBuf {
    let tools = std::env::var_os("CIPHERTALK_TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ciphertalk/tools")
    });
    let unpacked = tools.join("prometheus/usr/bin/promtool");
    if unpacked.exists() { unpacked } else { PathBuf::from("promtool") }
}

fn promtool_check(args: &[&str]) {
    let output = Command::new(promtool())
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("promtool did not run ({e}): run scripts/setup.sh"));
    assert!(
        output.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn promtool_accepts_the_alert_rules_and_the_prometheus_config() {
    promtool_check(&["check", "rules", ALERTS]);
    for config in PROMETHEUS_CONFIGS {
        // Also loads the rule files the config names, relative to it.
        promtool_check(&["check", "config", config]);
    }
}

/// `ciphertalk config example` prints the committed example, even where the
/// environment holds a configuration it would refuse.
#[test]
fn the_binary_prints_the_example_configuration() {
    let (ok, output) =
        crate::support::binary::run(&["config", "example"], &[("CIPHERTALK_LISTN", "typo".into())]);
    assert!(ok, "{output}");
    assert_eq!(output, read("ciphertalk.example.toml"));
}

/// A service's volumes as (host path, container path), bind mounts only.
fn bind_mounts(service: &serde_norway::Value) -> Vec<(String, String)> {
    let Some(volumes) = service["volumes"].as_sequence() else { return Vec::new() };
    volumes
        .iter()
        .filter_map(|volume| {
            let (host, rest) = volume.as_str()?.split_once(':')?;
            let container = rest.split(':').next()?;
            host.starts_with("./").then(|| (host.to_owned(), container.to_owned()))
        })
        .collect()
}

#[test]
fn the_compose_files_parse_and_mount_files_that_exist() {
    for file in ["compose.yaml", "compose.cluster.yaml"] {
        let compose = yaml(file);
        let services = compose["services"].as_mapping().unwrap_or_else(|| panic!("{file}: no services"));
        for (name, service) in services {
            for (host, _) in bind_mounts(service) {
                assert!(repo().join(&host).exists(), "{file}: {name:?} mounts {host}, which does not exist");
            }
        }
    }
    for (file, config) in ["compose.yaml", "compose.cluster.yaml"].into_iter().zip(PROMETHEUS_CONFIGS) {
        let prometheus = bind_mounts(&yaml(file)["services"]["prometheus"]);
        assert!(
            prometheus.contains(&(format!("./{config}"), "/etc/prometheus/prometheus.yml".into())),
            "{file}: Prometheus does not run {config}"
        );
        // The rule files the config names must be where the container reads them.
        for rule_file in yaml(config)["rule_files"].as_sequence().unwrap() {
            let inside = Path::new("/etc/prometheus").join(rule_file.as_str().unwrap());
            let mounted = prometheus.iter().any(|(host, container)| {
                inside.strip_prefix(container).is_ok_and(|rest| repo().join(host).join(rest).exists())
            });
            assert!(mounted, "{file}: Prometheus does not mount {}", inside.display());
        }
    }
    // Every scrape target is a service of its compose file, NATS's own exporters included.
    for (file, config) in ["compose.yaml", "compose.cluster.yaml"].into_iter().zip(PROMETHEUS_CONFIGS) {
        let services = yaml(file)["services"].as_mapping().unwrap().clone();
        let jobs = yaml(config)["scrape_configs"].as_sequence().unwrap().clone();
        let job_names: Vec<&str> = jobs.iter().map(|job| job["job_name"].as_str().unwrap()).collect();
        assert!(job_names.contains(&"ciphertalk") && job_names.contains(&"nats"), "{config}: {job_names:?}");
        for job in &jobs {
            let configs = job["static_configs"].as_sequence().into_iter().flatten();
            for target in configs.flat_map(|c| c["targets"].as_sequence().into_iter().flatten()) {
                let target = target.as_str().unwrap();
                let host = target.split(':').next().unwrap();
                assert!(
                    services.contains_key(serde_norway::Value::from(host)),
                    "{config} scrapes {target}, no service of {file}"
                );
            }
        }
    }
    let compose = yaml("compose.yaml");
    let services = &compose["services"];
    let grafana = bind_mounts(&services["grafana"]);
    assert!(
        grafana.iter().any(|(host, _)| host == &format!("./{DASHBOARD}")),
        "the dashboard is not provisioned"
    );
    for provisioning in [
        "deploy/grafana/provisioning/datasources/prometheus.yml",
        "deploy/grafana/provisioning/dashboards/ciphertalk.yml",
    ] {
        assert_eq!(yaml(provisioning)["apiVersion"], serde_norway::Value::from(1), "{provisioning}");
    }
    // Monitoring is for the operator's host only: loopback, never every interface.
    for name in ["prometheus", "grafana"] {
        for port in services[name]["ports"].as_sequence().into_iter().flatten() {
            assert!(
                port.as_str().unwrap().starts_with("127.0.0.1:"),
                "{name} publishes {port:?} beyond loopback"
            );
        }
    }
}

/// A series selector in a PromQL expression: metric name and its `label="value"` matchers.
type Selector = (String, Vec<(String, String)>);

/// Every `ciphertalk_*` selector of `expr` (other metrics, like `up`, are Prometheus's own).
fn selectors(expr: &str) -> Vec<Selector> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("ciphertalk_") {
        let after = &rest[start..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = after[..end].to_owned();
        let mut matchers = Vec::new();
        if let Some(inner) =
            after[end..].strip_prefix('{').and_then(|s| s.split_once('}')).map(|(inner, _)| inner)
        {
            for matcher in inner.split(',') {
                // Only exact matchers name a value that must exist; `=~` and `!=` do not.
                if let Some((label, value)) = matcher.split_once('=')
                    && !value.starts_with('~')
                    && !label.ends_with('!')
                {
                    matchers.push((label.trim().to_owned(), value.trim().trim_matches('"').to_owned()));
                }
            }
        }
        found.push((name, matchers));
        rest = &after[end..];
    }
    found
}

/// The expressions of the alert rules and of the dashboard's panels.
fn watched_expressions() -> Vec<String> {
    let mut exprs: Vec<String> = yaml(ALERTS)["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_sequence().unwrap().iter())
        .map(|rule| rule["expr"].as_str().unwrap().to_owned())
        .collect();
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    exprs
}

/// Series of a Prometheus text page: name to the label sets it carries.
fn series(page: &str) -> HashMap<String, Vec<String>> {
    let mut series: HashMap<String, Vec<String>> = HashMap::new();
    for line in page.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = line[end..].split_once('}').map_or("", |(labels, _)| labels);
        series.entry(line[..end].to_owned()).or_default().push(labels.to_owned());
    }
    series
}

/// What the expressions name that `page` lacks: unknown metrics, and label
/// values no series of that metric carries.
fn missing(exprs: &[String], page: &str) -> BTreeSet<String> {
    let exported = series(page);
    let mut missing = BTreeSet::new();
    for (name, matchers) in exprs.iter().flat_map(|expr| selectors(expr)) {
        let Some(label_sets) = exported.get(&name) else {
            // This session does not reach it (NOT_REACHED: pushes, faults);
            // named all the same, it must be a metric of the catalog.
            let unreached =
                NOT_REACHED.contains(&name.as_str()) && catalog::METRICS.iter().any(|m| m.name == name);
            if !unreached {
                missing.insert(name);
            }
            continue;
        };
        for (label, value) in matchers {
            let pair = format!("{label}=\"{value}\"");
            if !label_sets.iter().any(|labels| labels.contains(&pair)) {
                missing.insert(format!("{name}{{{pair}}}"));
            }
        }
    }
    missing
}

#[test]
fn selectors_are_read_from_promql() {
    let found = selectors(
        r#"sum(rate(ciphertalk_http_requests_total{status=~"5.."}[5m])) / ciphertalk_component_stalled{component="relay"} or up"#,
    );
    assert_eq!(
        found,
        [
            ("ciphertalk_http_requests_total".to_owned(), vec![]),
            ("ciphertalk_component_stalled".to_owned(), vec![("component".to_owned(), "relay".to_owned())]),
        ]
    );
}

/// Catalog entries a happy path never records: faults, refusals, limits and
/// reconnections (each has its own test where it happens). Every other entry
/// must show up on the page, so a metric the code stopped recording cannot
/// stay described.
const NOT_REACHED: &[&str] = &[
    "ciphertalk_http_unread_bodies_total",
    "ciphertalk_command_conflicts_total",
    "ciphertalk_event_store_commit_appends",
    "ciphertalk_event_store_refused_too_large_total",
    "ciphertalk_event_store_refused_unpublishable_total",
    "ciphertalk_message_sends_held_back_total",
    "ciphertalk_relay_errors_total",
    "ciphertalk_projection_duplicates_total",
    "ciphertalk_projection_undecodable_total",
    "ciphertalk_projection_errors_total",
    "ciphertalk_projection_wait_timeouts_total",
    "ciphertalk_delivery_memory_evictions_total",
    "ciphertalk_feed_source_switches_total",
    "ciphertalk_ws_queue_drops_total",
    "ciphertalk_ws_refused_total",
    "ciphertalk_ws_sessions_ended_total",
    "ciphertalk_auth_login_failures_total",
    "ciphertalk_auth_refresh_reuse_total",
    "ciphertalk_auth_rate_limit_refusals_total",
    "ciphertalk_rate_limit_refusals_total",
    "ciphertalk_rate_limit_buckets",
    "ciphertalk_nats_reconnects_total",
    "ciphertalk_nats_resume_seconds",
    // Nobody registered for push here; tests/push.rs reads these.
    "ciphertalk_push_jobs_total",
    "ciphertalk_push_sent_total",
    "ciphertalk_push_failed_total",
    "ciphertalk_push_dropped_total",
    // Calls: checked by the `calls` tests.
    "ciphertalk_signal_frames_relayed_total",
    "ciphertalk_signal_refusals_total",
    "ciphertalk_turn_credentials_issued_total",
];

/// The `# HELP` and `# TYPE` lines of a Prometheus page: family to help, family to type.
fn families(page: &str) -> (HashMap<String, String>, HashMap<String, String>) {
    let (mut help, mut kind) = (HashMap::new(), HashMap::new());
    for line in page.lines() {
        let mut words = line.splitn(4, ' ');
        let (Some("#"), Some(tag), Some(name), Some(rest)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        match tag {
            "HELP" => help.insert(name.to_owned(), rest.to_owned()),
            "TYPE" => kind.insert(name.to_owned(), rest.to_owned()),
            _ => None,
        };
    }
    (help, kind)
}

/// How `page` departs from the catalog: a `ciphertalk_*` family without
/// `# HELP`, one not in the catalog or of another kind, an entry not
/// exported (outside [`NOT_REACHED`]), and no process metrics.
fn catalog_departures(page: &str) -> BTreeSet<String> {
    let (help, kind) = families(page);
    let mut departures = BTreeSet::new();
    for name in kind.keys().filter(|name| name.starts_with("ciphertalk_")) {
        if help.get(name).is_none_or(|text| text.is_empty()) {
            departures.insert(format!("{name}: no # HELP"));
        }
        if !catalog::METRICS.iter().any(|metric| metric.name == name) {
            departures.insert(format!("{name}: exported but not in the catalog"));
        }
    }
    for metric in catalog::METRICS {
        let expected: &[&str] = match metric.kind {
            Kind::Counter => &["counter"],
            Kind::Gauge => &["gauge"],
            Kind::Histogram => &["histogram", "summary"],
        };
        match kind.get(metric.name) {
            Some(shown) if !expected.contains(&shown.as_str()) => {
                departures
                    .insert(format!("{}: exported as {shown}, catalogued as {:?}", metric.name, metric.kind));
            }
            None if !NOT_REACHED.contains(&metric.name) => {
                departures.insert(format!("{}: catalogued but not exported", metric.name));
            }
            _ => {}
        }
    }
    for process in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"] {
        if !help.contains_key(process) {
            departures.insert(format!("{process}: not exported with # HELP"));
        }
    }
    departures
}

/// The `ciphertalk_*` names of docs/operations.md's metrics table; a row's `_rest`
/// shorthand continues its first name's area (`ciphertalk_auth_...`, `_refresh_reuse_total`).
fn documented_metric_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for row in read("docs/operations.md").lines().filter(|line| line.starts_with("| `ciphertalk_")) {
        let first_cell = row.split('|').nth(1).unwrap();
        let mut area = String::new();
        for name in first_cell.split(',').map(|name| name.trim().trim_matches('`')) {
            if let Some(rest) = name.strip_prefix('_') {
                names.insert(format!("{area}_{rest}"));
            } else {
                area = name.splitn(3, '_').take(2).collect::<Vec<_>>().join("_");
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn the_operations_doc_documents_exactly_the_catalog() {
    let catalogued: BTreeSet<String> = catalog::METRICS.iter().map(|metric| metric.name.to_owned()).collect();
    let documented = documented_metric_names();
    assert_eq!(
        documented.symmetric_difference(&catalogued).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "docs/operations.md's metrics table and the catalog differ"
    );
}

#[test]
fn not_reached_names_only_catalogued_metrics() {
    for name in NOT_REACHED {
        assert!(catalog::METRICS.iter().any(|metric| &metric.name == name), "{name} is not in the catalog");
    }
}

async fn register(http: &reqwest::Client, base: &str, name: &str) -> (String, String) {
    let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4());
    let response = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": email, "password": "correct horse battery", "display_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    (body["user"]["id"].as_str().unwrap().to_owned(), body["access_token"].as_str().unwrap().to_owned())
}

/// Registers two users, makes a room, receives a message on a WebSocket and
/// draws a 4xx, then scrapes `/metrics` until everything watched is there
/// and the page matches the catalog.
#[tokio::test]
async fn every_metric_the_alerts_and_the_dashboard_name_is_exported() {
    let db = TestDb::new().await;
    let nats = TestNats::start().await;
    let dir = temp_dir("observability");
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("NATS_URL", nats.url()),
        ("CIPHERTALK_RATE_LIMITS", "off".to_owned()),
    ];
    let serve = ServeProcess::start(&dir.path().join("data"), dir.path(), &env).await;
    let base = serve.base.clone();
    let http = reqwest::Client::new();

    let (_, alice) = register(&http, &base, "alice").await;
    let (bob_id, bob) = register(&http, &base, "bob").await;
    let room: Value = http
        .post(format!("{base}/v1/rooms"))
        .bearer_auth(&alice)
        .json(&json!({"kind": "group", "name": "ops", "members": [bob_id]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["id"].as_str().unwrap();

    let mut request = format!("{}/v1/ws", base.replace("http://", "ws://")).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {bob}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut next_frame = async || -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), socket.next()).await.unwrap();
            if let Some(Ok(Message::Text(text))) = message {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    };
    while next_frame().await["type"] != "ready" {}
    let sent = http
        .post(format!("{base}/v1/rooms/{room}/messages"))
        .bearer_auth(&alice)
        .json(&json!({"client_msg_id": uuid::Uuid::new_v4().to_string(), "ciphertext": b64("hello ops")}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    while next_frame().await["type"] != "event" {}
    let unauthorized = http.get(format!("{base}/v1/rooms")).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

    // Gauges the relay and projectors keep appear with their first rounds.
    let exprs = watched_expressions();
    let scrape = async || http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let complete = eventually(30, || async {
        let page = scrape().await;
        missing(&exprs, &page).is_empty() && catalog_departures(&page).is_empty()
    })
    .await;
    let page = scrape().await;
    let last = missing(&exprs, &page);
    assert!(complete || last.is_empty(), "named by {ALERTS} or {DASHBOARD} but not exported: {last:?}");
    let departures = catalog_departures(&page);
    assert!(departures.is_empty(), "the page departs from the catalog: {departures:#?}\n{page}");
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(
        series(&page)["ciphertalk_build_info"].iter().any(|labels| labels.contains(&version)),
        "ciphertalk_build_info lacks {version}"
    );
    drop(socket);
    assert!(serve.terminate().success());
}
