//! The built web client (`web.dir`, web/dist) at `/`: the chat app's
//! index.html, the admin page at /admin, hashed assets under /assets/.
//! It is the router's fallback, so every API route keeps its own answer, and
//! an unknown /v1, /health or /metrics path its JSON 404.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

use super::error::ApiError;
use crate::config::WebConfig;

/// No inline script or style, no eval, no plugins, no framing; connections
/// (fetch, WebSocket) and workers only to this origin; media and images may
/// also be the blob: URLs the client makes of decrypted files. Compiling
/// WebAssembly is allowed (`'wasm-unsafe-eval'`, which permits no JavaScript
/// eval): libsignal's 64-bit integers (`long`) compile a small module.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' ws: wss:; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Vite names every file under assets/ by its content hash: a changed file is a new URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Pages, sw.js and the other root files keep their names: revalidate each time.
const REVALIDATE: &str = "no-cache";

/// The folder the client is served from.
#[derive(Clone)]
pub struct WebClient {
    dir: Arc<PathBuf>,
}

impl WebClient {
    pub fn new(config: &WebConfig) -> Self {
        Self { dir: Arc::new(config.dir.clone()) }
    }

    /// Says at start-up where the client is served from, or that it is not built.
    pub fn log_where(&self) {
        if self.is_built() {
            tracing::info!(dir = %self.dir.display(), "serving the web client at /");
        } else {
            tracing::warn!(
                dir = %self.dir.display(),
                "no web client in web.dir (no index.html): / answers 404 until `npm run build` in web/"
            );
        }
    }

    fn is_built(&self) -> bool {
        self.dir.join("index.html").is_file()
    }

    /// The router's fallback: a file of the client, the page of an in-app
    /// path a browser navigates to, or the API's 404.
    pub async fn answer(self, request: Request) -> Response {
        let path = request.uri().path();
        if is_api(path) || !matches!(*request.method(), Method::GET | Method::HEAD) {
            return ApiError::not_found().into_response();
        }
        let immutable = path.starts_with("/assets/");
        let page = page_of(path);
        let navigation = accepts_html(request.headers());
        let request = match page {
            Some(page) if is_page_path(path) => with_path(request, page),
            _ => request,
        };
        let files = ServeDir::new(self.dir.as_path()).redirect_to_trailing_slash(false);
        let mut response = serve(files, bodiless(&request)).await;
        if response.status() == StatusCode::NOT_FOUND {
            response = if !self.is_built() {
                not_built()
            } else if navigation && !immutable {
                // An in-app path (a reload of /rooms/…): the page that routes it.
                let page = page.unwrap_or("/index.html");
                serve(ServeFile::new(self.file(page)), request).await
            } else {
                ApiError::not_found().into_response()
            };
        }
        let cache = if immutable && response.status().is_success() { IMMUTABLE } else { REVALIDATE };
        with_headers(response, cache)
    }

    fn file(&self, page: &str) -> PathBuf {
        self.dir.join(page.trim_start_matches('/'))
    }
}

/// Paths the API owns, whose unknown members stay JSON 404s.
fn is_api(path: &str) -> bool {
    ["/v1", "/health", "/metrics"]
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// The page whose app owns `path`: admin.html for /admin and below, else index.html.
fn page_of(path: &str) -> Option<&'static str> {
    let admin = path.strip_prefix("/admin").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    admin.then_some("/admin.html")
}

/// `/admin` and `/admin/` are the admin page itself.
fn is_page_path(path: &str) -> bool {
    path == "/admin" || path == "/admin/"
}

/// A browser navigating (rather than a script fetching) asks for HTML.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/html"))
}

/// A copy of a GET or HEAD request (which carry no body the files need), to
/// ask a second file when the first is not there.
fn bodiless(request: &Request) -> Request {
    let mut copy = Request::new(Body::empty());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

fn with_path(mut request: Request, path: &str) -> Request {
    let uri = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    if let Ok(uri) = uri.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    request
}

async fn serve<S>(service: S, request: Request) -> Response
where
    S: tower::Service<Request, Error = std::convert::Infallible> + Send,
    S::Response: IntoResponse,
    S::Future: Send,
{
    match service.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

fn not_built() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "the web client is not built: run scripts/serve, or `npm ci && npm run build` in web/ \
         with web.dir (CIPHERTALK_WEB_DIR) naming web/dist",
    )
    .into_response()
}

fn with_headers(mut response: Response, cache: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_told_from_client_paths() {
        for api in ["/v1", "/v1/", "/v1/nope", "/health", "/health/x", "/metrics", "/metrics/x"] {
            assert!(is_api(api), "{api}");
        }
        for client in ["/", "/v1x", "/healthy", "/metricsx", "/admin", "/assets/a.js", "/rooms/1"] {
            assert!(!is_api(client), "{client}");
        }
    }

    #[test]
    fn admin_paths_belong_to_the_admin_page() {
        assert_eq!(page_of("/admin"), Some("/admin.html"));
        assert_eq!(page_of("/admin/reports/1"), Some("/admin.html"));
        assert_eq!(page_of("/administrator"), None);
        assert_eq!(page_of("/rooms"), None);
    }
}
