//! Files over HTTP: chunks uploaded to signed URLs and downloadable (with
//! `Range`) as each is stored, announced to the room over the WebSocket;
//! the URLs' refusals; declared digests; wrapped keys per recipient; 404 for
//! non-members; delete and the expiry sweeper removing the blobs from the
//! store itself; an upload surviving a restart; the limits.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::app::{Person, TestApp};

mod access;
mod lifecycle;
mod limits;
mod streaming;
mod urls;

/// `len` bytes that differ per `seed` (stand-ins for ciphertext).
pub(crate) fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn sha256_b64(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

/// A wrapped file key for each of `recipients` (opaque to the server).
fn keys_for(recipients: &[&Person]) -> Value {
    recipients.iter().map(|p| (p.id.to_string(), json!(STANDARD.encode(p.id.to_string())))).collect()
}

/// Registers a file of `size` bytes in `chunk_size` chunks; `extra` adds fields.
async fn register(
    app: &TestApp,
    who: &Person,
    room: &str,
    size: u64,
    chunk_size: u64,
    recipients: &[&Person],
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({
        "room_id": room,
        "size": size,
        "chunk_size": chunk_size,
        "chunk_count": size.div_ceil(chunk_size),
        "content_type": "video/mp4",
        "wrapped_keys": keys_for(recipients),
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    app.post(who, "/v1/files", body).await
}

/// [`register`] that must succeed: the file id and its upload URLs by index.
pub(crate) async fn registered(
    app: &TestApp,
    who: &Person,
    room: &str,
    size: u64,
    chunk_size: u64,
) -> (String, Vec<String>) {
    let (status, body) = register(app, who, room, size, chunk_size, &[who], json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["file_id"].as_str().unwrap().to_owned(), upload_urls(&body))
}

fn upload_urls(body: &Value) -> Vec<String> {
    body["chunks"].as_array().unwrap().iter().map(|c| c["upload_url"].as_str().unwrap().to_owned()).collect()
}

/// PUTs `bytes` to a chunk URL: the status and the JSON answer.
pub(crate) async fn put_chunk(app: &TestApp, url: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = app.http.put(format!("{}{url}", app.base(0))).body(bytes).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// GETs a chunk URL, with `range` if given: status, headers, body.
async fn get_chunk(app: &TestApp, url: &str, range: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = app.http.get(format!("{}{url}", app.base(0)));
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// The download URL of stored chunk `index` as `who` reads the file.
async fn download_url(app: &TestApp, who: &Person, file: &str, index: u64) -> String {
    let (status, body) = app.get(who, &format!("/v1/files/{file}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let chunk = body["chunks"].as_array().unwrap().iter().find(|c| c["index"] == index);
    chunk.unwrap_or_else(|| panic!("chunk {index} not listed: {body}"))["download_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every blob the local store holds for `file`, read from its folder.
pub(crate) fn blobs_of(app: &TestApp, file: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut out = Vec::new();
    walk(&app.config().data_dir.join("files").join(file), &mut out);
    out
}
