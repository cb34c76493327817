//! Files over HTTP: chunks uploaded to signed URLs and downloadable (with
//! `Range`) as each is stored, announced to the room over the WebSocket;
//! the URLs' refusals; declared digests; wrapped keys per recipient; 404 for
//! non-members; delete and the expiry sweeper removing the blobs from the
//! store itself; an upload surviving a restart; the limits. What touches the
//! store runs twice (`on_each_store!`): on the local store, and with the
//! chunks in a real Garage (S3), whose downloads are presigned URLs; the
//! uploads PUT straight to Garage (`files.s3_uploads = "presigned"`) have
//! tests of their own (`presigned`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::app::{Person, TestApp};

/// Defines the test `$name` as a module of two tests, `local` and `s3`, each
/// running the body on an app whose chunks are in that store: the same
/// checks against both backends, written once. The body gets the backend
/// as `$backend` (a `StorageBackend`) to pass to `spawn_app().files_on(..)`.
macro_rules! on_each_store {
    ($(#[doc = $doc:literal])* async fn $name:ident($backend:ident) $body:block) => {
        on_each_store!(threads 2, $(#[doc = $doc])* async fn $name($backend) $body);
    };
    (threads $threads:literal, $(#[doc = $doc:literal])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            async fn run($backend: ciphertalk_gateway::config::StorageBackend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn local() {
                run(ciphertalk_gateway::config::StorageBackend::Local).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn s3() {
                run(ciphertalk_gateway::config::StorageBackend::S3).await
            }
        }
    };
}

mod access;
mod lifecycle;
mod limits;
mod outage;
mod presigned;
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

/// A chunk URL as a client resolves it: relative to the API's base (gateway
/// URLs), or already absolute (presigned URLs of an S3 store).
fn absolute(app: &TestApp, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("{}{url}", app.base(0))
    }
}

/// PUTs `bytes` to a chunk URL: the status and the JSON answer.
pub(crate) async fn put_chunk(app: &TestApp, url: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = app.http.put(absolute(app, url)).body(bytes).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Uploads `bytes` as an upload answer's `target` chunk says, as `who`: a
/// PUT to its URL with its headers, then (presigned) the confirmation. The
/// status and JSON answer of the call that stored it, or of the PUT refused
/// (a store's XML answer as a string).
pub(crate) async fn send_chunk(
    app: &TestApp,
    who: &Person,
    target: &Value,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app.http.put(absolute(app, target["upload_url"].as_str().unwrap()));
    for (name, value) in target["upload_headers"].as_object().into_iter().flatten() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    let response = request.body(bytes).send().await.unwrap();
    let status = response.status();
    let Some(confirm) = target["confirm_url"].as_str() else {
        return (status, response.json().await.unwrap_or(Value::Null));
    };
    if !status.is_success() {
        return (status, Value::String(response.text().await.unwrap()));
    }
    app.post(who, confirm, json!({})).await
}

/// GETs a chunk URL, with `range` if given: status, headers, body.
async fn get_chunk(app: &TestApp, url: &str, range: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = app.http.get(absolute(app, url));
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

/// Every blob the store holds for `file`, listed by a client of the test's
/// own (the local folder, or the Garage bucket), never through the gateway.
pub(crate) async fn blobs_of(app: &TestApp, file: &str) -> Vec<object_store::path::Path> {
    use futures::TryStreamExt as _;
    let prefix = object_store::path::Path::from(file);
    let listed =
        app.blob_store().list(Some(&prefix)).map_ok(|meta| meta.location).try_collect::<Vec<_>>().await;
    let mut blobs = listed.unwrap();
    blobs.sort();
    blobs
}

/// The bytes of one blob, read from the store itself.
async fn blob_bytes(app: &TestApp, blob: &object_store::path::Path) -> Vec<u8> {
    use object_store::ObjectStoreExt as _;
    app.blob_store().get(blob).await.unwrap().bytes().await.unwrap().to_vec()
}
