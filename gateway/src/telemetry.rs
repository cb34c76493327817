//! Logs (tracing, text or JSON), the Prometheus recorder with every metric
//! described (`catalog`), the build and process series, and the fault series
//! it shows at zero from the start.

pub mod catalog;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{Config, LogFormat};

/// Installs the global tracing subscriber once; later calls are no-ops (tests
/// start several servers in one process).
pub fn init_logging(config: &Config) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
        let registry = tracing_subscriber::registry().with(filter);
        let _ = match config.log_format {
            LogFormat::Json => {
                registry.with(fmt::layer().json().flatten_event(true).with_current_span(true)).try_init()
            }
            LogFormat::Text => registry.with(fmt::layer()).try_init(),
        };
    });
}

/// Latency buckets (seconds) shared by every `*_seconds` histogram.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often the upkeep thread trims histograms and samples the process.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder, installed on first use, with every
/// metric of the catalog described and `ciphertalk_build_info` set. A plain
/// thread keeps it up and samples the process (`/proc` reads stay off the
/// async runtime).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (only possible in odd embeddings):
                // keep a private one so /metrics still answers.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            catalog::describe();
            build_info();
            let process = metrics_process::Collector::default();
            process.describe();
            process.collect();
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                        process.collect();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

/// `ciphertalk_build_info` = 1 with the crate version, and the commit when
/// the build was given one in `CIPHERTALK_GIT_COMMIT` (no build script: a
/// clean clone or a Docker context without `.git` builds the same).
fn build_info() {
    let version = env!("CARGO_PKG_VERSION");
    match option_env!("CIPHERTALK_GIT_COMMIT").filter(|commit| !commit.is_empty()) {
        Some(commit) => {
            metrics::gauge!("ciphertalk_build_info", "version" => version, "commit" => commit).set(1.0)
        }
        None => metrics::gauge!("ciphertalk_build_info", "version" => version).set(1.0),
    }
}

/// Sets the series that otherwise appear only once something goes wrong to
/// zero, so an alert or a dashboard sees "no fault" rather than "no data"
/// from the first scrape: each stall component's `ciphertalk_component_stalled` and
/// `ciphertalk_component_failed_rounds`, and `ciphertalk_relay_held_back_seconds`.
/// Called before the relay and projectors start, which then keep them.
pub fn register_fault_series(projections_run: bool) {
    // Installed first: before it, a value goes nowhere.
    metrics();
    use ciphertalk_commands::relay::{STALL_FAILING, STALL_HELD_BACK};
    use ciphertalk_projections::Projection;

    let projectors =
        Projection::ALL.iter().filter(|_| projections_run).map(|p| format!("projection_{}", p.name()));
    for component in [STALL_FAILING.to_owned(), STALL_HELD_BACK.to_owned()].into_iter().chain(projectors) {
        metrics::gauge!("ciphertalk_component_stalled", "component" => component.clone()).set(0.0);
        metrics::gauge!("ciphertalk_component_failed_rounds", "component" => component).set(0.0);
    }
    metrics::gauge!("ciphertalk_relay_held_back_seconds").set(0.0);
}
