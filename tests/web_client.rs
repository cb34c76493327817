//! The gateway serves the built web client at `/` (here a small stand-in for
//! web/dist, so this needs no Node): pages, hashed assets, root files, the
//! in-app paths a browser reloads, the headers that go with them, and the
//! API's JSON 404s unchanged beside them.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap};
use serde_json::Value;

use crate::support::app::{Anonymous, TestApp, assert_error, spawn_app};
use crate::support::temp_dir;

const INDEX: &str =
    "<!doctype html><title>chat app</title><script type=module src=/assets/app-3f9a1c.js></script>";
const ADMIN: &str = "<!doctype html><title>admin page</title>";
const SCRIPT: &str = "console.log('app')";
const WORKER: &str = "self.addEventListener('push', () => {})";
/// What a browser's address bar sends.
const NAVIGATION: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A built client's layout, as `npm run build` writes it.
fn built_client() -> tempfile::TempDir {
    let dir = temp_dir("web");
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("index.html", INDEX);
    write("admin.html", ADMIN);
    write("assets/app-3f9a1c.js", SCRIPT);
    write("sw.js", WORKER);
    dir
}

async fn app_serving(dir: &Path) -> TestApp {
    let dir: PathBuf = dir.to_owned();
    spawn_app().config(move |config| config.web.dir = dir.clone()).await
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |value| value.to_str().unwrap())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn fetch(app: &TestApp, method: &str, path: &str, accept: Option<&str>) -> Answer {
    let mut request = app.http.request(method.parse().unwrap(), format!("{}{path}", app.base(0)));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    Answer { status, headers, body: response.text().await.unwrap() }
}

#[track_caller]
fn assert_secured(answer: &Answer, what: &str) {
    let csp = answer.header("content-security-policy");
    // WebAssembly may be compiled; JavaScript may not be evaluated, nor inline.
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"), "{what}: {csp:?}");
    assert!(!csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"), "{what}: {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{what}: {csp:?}");
    assert_eq!(answer.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(answer.header("referrer-policy"), "no-referrer", "{what}");
}

#[tokio::test]
async fn pages_assets_and_root_files_are_served_with_their_cache_and_security_headers() {
    let client = built_client();
    let app = app_serving(client.path()).await;

    for (path, body) in [("/", INDEX), ("/index.html", INDEX), ("/admin", ADMIN), ("/admin.html", ADMIN)] {
        let page = fetch(&app, "GET", path, Some(NAVIGATION)).await;
        assert_eq!((page.status, page.body.as_str()), (StatusCode::OK, body), "{path}");
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        assert_eq!(page.header("cache-control"), "no-cache", "{path}");
        assert_secured(&page, path);
    }

    let asset = fetch(&app, "GET", "/assets/app-3f9a1c.js", None).await;
    assert_eq!((asset.status, asset.body.as_str()), (StatusCode::OK, SCRIPT));
    assert!(asset.header("content-type").contains("javascript"), "{}", asset.header("content-type"));
    assert_eq!(asset.header("cache-control"), "public, max-age=31536000, immutable");
    assert_secured(&asset, "an asset");

    let worker = fetch(&app, "GET", "/sw.js", None).await;
    assert_eq!((worker.status, worker.body.as_str()), (StatusCode::OK, WORKER));
    assert_eq!(
        worker.header("cache-control"),
        "no-cache",
        "sw.js is revalidated, or updates never reach clients"
    );

    // HEAD answers the headers alone; a revalidation with the date it was given, 304.
    let head = fetch(&app, "HEAD", "/", None).await;
    assert_eq!((head.status, head.body.as_str()), (StatusCode::OK, ""));
    let modified = head.header("last-modified").to_owned();
    assert!(!modified.is_empty(), "no Last-Modified to revalidate with");
    let again =
        app.http.get(format!("{}/", app.base(0))).header("if-modified-since", modified).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn in_app_paths_a_browser_navigates_to_get_their_page_and_nothing_else_does() {
    let client = built_client();
    let app = app_serving(client.path()).await;

    // A reload of an in-app path: the page whose app routes it.
    for (path, body) in [("/rooms/0190a0e4-7d7b-7cc1-8000-000000000000", INDEX), ("/admin/reports/42", ADMIN)]
    {
        let page = fetch(&app, "GET", path, Some(NAVIGATION)).await;
        assert_eq!((page.status, page.body.as_str()), (StatusCode::OK, body), "{path}");
        assert_eq!(page.header("cache-control"), "no-cache", "{path}");
        assert_secured(&page, path);
    }

    // A script's fetch of a missing file, a missing asset even when navigated
    // to, and a path that climbs out of the folder: the API's JSON 404.
    for (path, accept) in [
        ("/rooms/1", None),
        ("/favicon.ico", Some("image/avif,image/webp,*/*")),
        ("/assets/app-000000.js", Some(NAVIGATION)),
        ("/assets/../../Cargo.toml", None),
        ("/%2e%2e/%2e%2e/Cargo.toml", None),
    ] {
        let answer = fetch(&app, "GET", path, accept).await;
        assert_error(answer.status, &answer.json(), 404, "not_found");
        assert_ne!(answer.header("cache-control"), "public, max-age=31536000, immutable", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_keep_their_json_404s_even_when_a_browser_asks() {
    let client = built_client();
    let app = app_serving(client.path()).await;
    for path in ["/v1", "/v1/", "/v1/no-such-route", "/v1/rooms/x/y/z", "/health/nope", "/metrics/nope"] {
        for accept in [None, Some(NAVIGATION)] {
            let answer = fetch(&app, "GET", path, accept).await;
            assert_error(answer.status, &answer.json(), 404, "not_found");
            assert!(answer.header("content-type").starts_with("application/json"), "{path}");
            assert_ne!(answer.body, INDEX, "{path}");
        }
    }
    // Other methods on client paths are no upload target either.
    for (method, path) in [("POST", "/"), ("PUT", "/index.html"), ("DELETE", "/assets/app-3f9a1c.js")] {
        let answer = fetch(&app, method, path, Some(NAVIGATION)).await;
        assert_error(answer.status, &answer.json(), 404, "not_found");
    }
    // The API itself is untouched.
    let (status, _) = app.get(Anonymous, "/health").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get(Anonymous, "/v1/rooms").await;
    assert_error(status, &body, 401, "unauthenticated");
    app.stop().await;
}

#[tokio::test]
async fn without_a_built_client_the_server_starts_and_says_so_at_the_root() {
    let missing = temp_dir("web-missing");
    let app = app_serving(&missing.path().join("dist")).await;
    for accept in [None, Some(NAVIGATION)] {
        let answer = fetch(&app, "GET", "/", accept).await;
        assert_error(answer.status, &answer.json(), 404, "not_found");
        let message = answer.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("not built"), "{message}");
        assert!(!message.contains(&missing.path().display().to_string()), "the answer names no server path");
    }
    let (status, _) = app.get(Anonymous, "/health").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
