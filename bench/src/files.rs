//! `ciphertalk-bench files`: one big file through a server, as clients move
//! it: registered (with each chunk's SHA-256), uploaded chunk by chunk to its
//! upload URLs (gateway URLs, or on S3 with presigned uploads PUTs to the
//! bucket, each then confirmed), then every chunk downloaded from its
//! download URL (a gateway URL on the local store, a presigned URL on S3).
//! Measures upload and download throughput, the server's resident memory
//! throughout (sampled every 50 ms: it must stay flat, since chunks are
//! streamed to the store and never held whole), and the time from a chunk's
//! storing call answering (its PUT, or its confirmation) to
//! `file.chunk_available` reaching another member's WebSocket.
//!
//! The store is the server's configuration: a server started here takes the
//! `CIPHERTALK_FILES_*` variables of this environment (the S3 backend with
//! `CIPHERTALK_FILES_BACKEND=s3` and the `CIPHERTALK_FILES_S3_*` bucket;
//! presigned uploads with `CIPHERTALK_FILES_S3_UPLOADS=presigned`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

use crate::load::BoxError;
use crate::load::api::{Account, Api};
use crate::load::procfs;
use crate::load::server::Server;
use crate::load::socket::ws_url;
use crate::stats::Samples;

const MIB: u64 = 1 << 20;

/// How often the server's memory is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Size of the file, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Size of each chunk, in MiB.
    #[arg(long, default_value_t = 4)]
    chunk_mib: u64,
    /// The server (http://host:port); without it, `ciphertalk serve` is started from the folder of this
    /// binary with embedded NATS and Postgres in a temporary folder, and stopped at the end.
    #[arg(long)]
    url: Option<String>,
    /// Process id of the server at --url, to report its memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Keep the log of the server started here in this file.
    #[arg(long)]
    server_log: Option<std::path::PathBuf>,
}

pub async fn run(args: Args) -> Result<(), BoxError> {
    if args.size_mib == 0 || args.chunk_mib == 0 {
        return Err("--size-mib and --chunk-mib must be positive".into());
    }
    let server = match &args.url {
        Some(url) => Server::attach(url, args.server_pid).await?,
        None => Server::spawn().await?,
    };
    let result = measure(&server, &args).await;
    if let (Err(_), Some(log)) = (&result, server.log_tail()) {
        eprintln!("the server's log ends:\n{log}");
    }
    let stopped = server.stop(args.server_log.as_deref()).await;
    result.and(stopped)
}

/// The server's resident memory, sampled until cancelled.
struct Memory {
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: CancellationToken,
}

impl Memory {
    fn sample(pid: Option<u32>) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        if let Some(pid) = pid {
            let (samples, stop) = (samples.clone(), stop.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(SAMPLE_EVERY);
                while !stop.is_cancelled() {
                    every.tick().await;
                    if let Some(snapshot) = procfs::snapshot_aside(Some(pid)).await {
                        samples
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((snapshot.at, snapshot.root.rss_kb));
                    }
                }
            });
        }
        Self { samples, stop }
    }

    /// (median, highest) RSS in MiB of the samples taken between `from` and `to`.
    fn between(&self, from: Instant, to: Instant) -> Option<(f64, f64)> {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let mut kb: Vec<u64> =
            samples.iter().filter(|(at, _)| *at >= from && *at <= to).map(|s| s.1).collect();
        kb.sort_unstable();
        let mib = |kb: u64| kb as f64 / 1024.0;
        Some((mib(*kb.get(kb.len() / 2)?), mib(*kb.last()?)))
    }
}

async fn measure(server: &Server, args: &Args) -> Result<(), BoxError> {
    let api = Api::new(&server.base)?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).tcp_nodelay(true).build()?;
    let stamp = uuid::Uuid::new_v4().simple().to_string();
    let alice = api.register(&format!("files-alice-{stamp}@example.com")).await?;
    let bob = api.register(&format!("files-bob-{stamp}@example.com")).await?;
    let room = api.create_room(&alice, &[bob.id.as_str()]).await?;
    let announced = watch_chunks(&server.base, &bob).await?;

    let (size, chunk_size) = (args.size_mib * MIB, args.chunk_mib * MIB);
    let chunk_count = size.div_ceil(chunk_size);
    // One pseudo-random chunk (ciphertext looks random), made distinct per index.
    let template: Vec<u8> = (0..chunk_size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let chunk_of = |index: u64| {
        let len = chunk_size.min(size - index * chunk_size) as usize;
        let mut chunk = template[..len].to_vec();
        chunk[..8.min(len)].copy_from_slice(&index.to_le_bytes()[..8.min(len)]);
        chunk
    };
    let digests: Vec<String> =
        (0..chunk_count).map(|index| STANDARD.encode(Sha256::digest(chunk_of(index)))).collect();
    let body = json!({
        "room_id": room, "size": size, "chunk_size": chunk_size, "chunk_count": chunk_count,
        "content_type": "application/octet-stream",
        "wrapped_keys": {alice.id.clone(): "a2V5", bob.id.clone(): "a2V5"},
        "chunk_sha256": digests,
    });
    let registered =
        call(&http, &server.base, &alice, reqwest::Method::POST, "/v1/files", Some(body)).await?;
    let file = registered["file_id"].as_str().ok_or("no file_id")?.to_owned();
    let targets = registered["chunks"].as_array().ok_or("no chunks")?;
    let presigned = targets.iter().any(|target| target["confirm_url"].is_string());

    let memory = Memory::sample(server.pid);
    tokio::time::sleep(SAMPLE_EVERY * 4).await;
    let idle = Instant::now();
    let mut answered: HashMap<u64, Instant> = HashMap::new();
    let upload_started = Instant::now();
    for (index, target) in targets.iter().enumerate() {
        let url = absolute(&server.base, target["upload_url"].as_str().ok_or("no upload_url")?);
        let mut request = http.put(url).body(chunk_of(index as u64));
        for (name, value) in target["upload_headers"].as_object().into_iter().flatten() {
            request = request.header(name.as_str(), value.as_str().ok_or("a header that is no string")?);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if status != StatusCode::OK {
            return Err(format!("chunk {index}: {status} {text}").into());
        }
        if let Some(confirm) = target["confirm_url"].as_str() {
            call(&http, &server.base, &alice, reqwest::Method::POST, confirm, None).await?;
        }
        answered.insert(index as u64, Instant::now());
    }
    let uploaded = Instant::now();
    let upload_secs = (uploaded - upload_started).as_secs_f64();

    let shown =
        call(&http, &server.base, &bob, reqwest::Method::GET, &format!("/v1/files/{file}"), None).await?;
    let download_urls = chunk_urls(&shown, "download_url", &server.base)?;
    if download_urls.len() as u64 != chunk_count {
        return Err(format!("{} of {chunk_count} chunks listed as stored", download_urls.len()).into());
    }
    let download_started = Instant::now();
    let mut downloaded: u64 = 0;
    for url in &download_urls {
        let response = http.get(url).send().await?;
        if response.status() != StatusCode::OK {
            return Err(format!("download: {}", response.status()).into());
        }
        let mut body = response.bytes_stream();
        while let Some(bytes) = body.next().await {
            downloaded += bytes?.len() as u64;
        }
    }
    let done = Instant::now();
    memory.stop.cancel();
    if downloaded != size {
        return Err(format!("downloaded {downloaded} of {size} bytes").into());
    }
    let download_secs = (done - download_started).as_secs_f64();

    // PUT answered -> file.chunk_available at Bob (0 when the push came first).
    let mut latency = Samples::default();
    let announced = announced.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (index, at) in &answered {
        let Some(pushed) = announced.get(index) else { continue };
        latency.record(pushed.saturating_duration_since(*at));
    }
    let backend = match (shown["chunks"][0]["download_url"].as_str(), presigned) {
        (Some(url), false) if url.starts_with("http") => {
            "s3 (uploads through the gateway, presigned downloads)"
        }
        (Some(_), true) => "s3 (presigned uploads, each confirmed; presigned downloads)",
        _ => "local (gateway URLs)",
    };
    println!(
        "files: {} MiB in {chunk_count} chunks of {} MiB, store {backend}",
        args.size_mib, args.chunk_mib
    );
    println!("  upload:   {:.1} MiB/s ({upload_secs:.1} s)", args.size_mib as f64 / upload_secs);
    println!("  download: {:.1} MiB/s ({download_secs:.1} s)", args.size_mib as f64 / download_secs);
    println!(
        "  file.chunk_available at another member after the chunk's storing call answered: {} of {chunk_count}, p50 {:.1} ms, p99 {:.1} ms",
        latency.len(),
        latency.quantile_ms(0.5),
        latency.quantile_ms(0.99)
    );
    let rss = |from, to| memory.between(from, to);
    match (rss(idle - SAMPLE_EVERY * 4, idle), rss(upload_started, uploaded), rss(download_started, done)) {
        (Some((before, _)), Some((up_median, up_peak)), Some((down_median, down_peak))) => println!(
            "  server RSS: {before:.0} MiB before; uploading median {up_median:.0} / peak {up_peak:.0} MiB; \
             downloading median {down_median:.0} / peak {down_peak:.0} MiB (growth during upload {:.0} MiB)",
            up_peak - before
        ),
        _ => println!("  server RSS: not measured (no --server-pid)"),
    }
    Ok(())
}

/// Bob's WebSocket: the moment each `file.chunk_available` arrives, by index.
async fn watch_chunks(base: &str, who: &Account) -> Result<Arc<Mutex<HashMap<u64, Instant>>>, BoxError> {
    let mut request = ws_url(base)?.into_client_request()?;
    request.headers_mut().insert("authorization", format!("Bearer {}", who.token).parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
            if frame["event"]["type"] == "file.chunk_available"
                && let Some(index) = frame["event"]["index"].as_u64()
            {
                record.lock().unwrap_or_else(|e| e.into_inner()).insert(index, Instant::now());
            }
        }
    });
    Ok(seen)
}

/// The `field` URL of each of `body`'s chunks, resolved against `base`.
fn chunk_urls(body: &Value, field: &str, base: &str) -> Result<Vec<String>, BoxError> {
    let chunks = body["chunks"].as_array().ok_or("no chunks")?;
    Ok(chunks.iter().filter_map(|chunk| chunk[field].as_str().map(|url| absolute(base, url))).collect())
}

/// A chunk URL as a client resolves it: gateway URLs are relative to the API.
fn absolute(base: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{base}{url}")
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    who: &Account,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, BoxError> {
    let mut request = http.request(method, format!("{base}{path}")).bearer_auth(&who.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        return Err(format!("{path}: {status} {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}
