//! An SMS webhook for the gateways under test: it records every code sent.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::Value;

/// An HTTP endpoint that records the JSON bodies POSTed to it.
pub struct SmsInbox {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl SmsInbox {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let app = axum::Router::new().route(
            "/sms",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push(body);
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, received }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last code received for `phone`.
    pub fn last_code(&self, phone: &str) -> String {
        let sent = self.received.lock().unwrap();
        let message = sent.iter().rev().find(|m| m["phone"] == phone).expect("no SMS for this phone");
        message["code"].as_str().unwrap().to_owned()
    }
}
