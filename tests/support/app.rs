//! The one black-box harness: `spawn_app()` gives a test its own database and
//! NATS and, as the test asks, gateways on them, then calls the API as a
//! person, a bare token or nobody.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use async_nats::jetstream;
use ciphertalk_commands::{Relay, RelayOptions, RelayWake, WriteModel, WriteOptions};
use ciphertalk_domain::{RoomId, UserId};
use ciphertalk_gateway::config::{Config, Secret, SmsMode, StorageBackend, Toggle};
use ciphertalk_gateway::serve::{ServeError, Server};
use ciphertalk_streams::{Topology, TopologySettings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::commands::Commands;
use super::garage::TestGarage;
use super::sms::SmsInbox;
use super::{TestDb, TestNats, temp_dir};

/// The signing key every test gateway (and `ciphertalk serve` child) uses.
pub const JWT_SECRET: &str = "test-signing-key-0123456789abcdef-0123456789";
pub const FRANKING_KEY: &str = "test-franking-key-0123456789abcdef-0123456789";
/// The password of every person the harness registers.
pub const PASSWORD: &str = "correct horse battery";

type ConfigChange = Box<dyn Fn(&mut Config) + Send + Sync>;

/// What `spawn_app()` starts; awaiting it starts the app.
#[must_use]
pub struct AppOptions {
    gateways: usize,
    projectors: bool,
    database_url: Option<String>,
    snapshot_every: usize,
    files_backend: StorageBackend,
    changes: Vec<ConfigChange>,
}

/// One gateway, projectors running, on the test's own database and NATS.
pub fn spawn_app() -> AppOptions {
    AppOptions {
        gateways: 1,
        projectors: true,
        database_url: None,
        snapshot_every: WriteOptions::default().snapshot_every,
        files_backend: StorageBackend::Local,
        changes: Vec::new(),
    }
}

impl AppOptions {
    /// How many gateways serve the same database and NATS. With none, the
    /// app has a write model of its own and a relay the test starts.
    pub fn gateways(mut self, gateways: usize) -> Self {
        self.gateways = gateways;
        self
    }

    /// A change to the configuration every gateway starts with (after the
    /// harness's own: loopback port, data folder, keys, SMS webhook, rate
    /// limits off).
    pub fn config(mut self, change: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    /// Where the gateways keep file chunks: the local store in the app's data
    /// folder (the default), or a Garage of the test's own (`S3`).
    pub fn files_on(mut self, backend: StorageBackend) -> Self {
        self.files_backend = backend;
        self
    }

    /// Gateways that run no projectors (the test runs them, or none).
    pub fn without_projectors(mut self) -> Self {
        self.projectors = false;
        self
    }

    /// Gateways on this database instead of the test's own (which is still made).
    pub fn database_url(mut self, url: String) -> Self {
        self.database_url = Some(url);
        self
    }

    /// Snapshot interval of the gateway-less app's write model.
    pub fn snapshot_every(mut self, snapshot_every: usize) -> Self {
        self.snapshot_every = snapshot_every;
        self
    }

    pub async fn start(self) -> TestApp {
        let db = TestDb::new().await;
        let nats = TestNats::start().await;
        let client = nats.client().await;
        let dir = temp_dir("app");
        let sms = SmsInbox::start().await;
        let garage = match self.files_backend {
            StorageBackend::Local => None,
            StorageBackend::S3 => Some(TestGarage::start().await),
        };
        let wake = RelayWake::with_nats(client.clone());
        let writer = if self.gateways == 0 {
            Topology::new(TopologySettings::default())
                .unwrap()
                .ensure(&jetstream::new(client.clone()))
                .await
                .unwrap();
            Some(Arc::new(write_model(&db, &wake, self.snapshot_every)))
        } else {
            None
        };
        let gateways_wanted = self.gateways;
        let mut app = TestApp {
            database_url: self.database_url.clone().unwrap_or_else(|| db.url.clone()),
            db,
            nats,
            client,
            gateways: Vec::new(),
            http: reqwest::Client::new(),
            sms,
            writer,
            wake,
            relay: None,
            options: self,
            garage,
            dir,
        };
        for _ in 0..gateways_wanted {
            app.add_gateway(|_| {}).await;
        }
        app
    }
}

impl IntoFuture for AppOptions {
    type Output = TestApp;
    type IntoFuture = Pin<Box<dyn Future<Output = TestApp> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

fn write_model(db: &TestDb, wake: &RelayWake, snapshot_every: usize) -> WriteModel {
    WriteModel::new(db.pool.clone(), wake.clone(), WriteOptions { snapshot_every, ..Default::default() })
}

/// A test's database, NATS and gateways; everything stops when it drops.
pub struct TestApp {
    pub db: TestDb,
    pub nats: TestNats,
    /// A client of the test's own, for looking at the streams.
    pub client: async_nats::Client,
    pub gateways: Vec<Server>,
    pub http: reqwest::Client,
    database_url: String,
    sms: SmsInbox,
    /// The write model of an app without gateways.
    writer: Option<Arc<WriteModel>>,
    wake: RelayWake,
    relay: Option<(CancellationToken, JoinHandle<()>)>,
    options: AppOptions,
    /// The S3 store of an app whose files are on S3.
    pub garage: Option<TestGarage>,
    /// The gateways' data folder.
    dir: tempfile::TempDir,
}

/// A registered user and their access token.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: UserId,
    pub token: String,
}

impl Person {
    /// `body`'s user (a registration or login answer) with its access token.
    pub fn from_session(body: &Value) -> Self {
        Self {
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// Who a request is made as: a person, a bare access token, or nobody.
pub trait Caller {
    fn access_token(&self) -> Option<&str>;
}

/// No `Authorization` header.
pub struct Anonymous;

impl Caller for Anonymous {
    fn access_token(&self) -> Option<&str> {
        None
    }
}

impl Caller for Person {
    fn access_token(&self) -> Option<&str> {
        Some(&self.token)
    }
}

impl Caller for str {
    fn access_token(&self) -> Option<&str> {
        Some(self)
    }
}

impl Caller for String {
    fn access_token(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: Caller + ?Sized> Caller for &T {
    fn access_token(&self) -> Option<&str> {
        (**self).access_token()
    }
}

impl<T: Caller> Caller for Option<T> {
    fn access_token(&self) -> Option<&str> {
        self.as_ref().and_then(Caller::access_token)
    }
}

impl TestApp {
    /// The configuration a gateway of this app starts with.
    pub fn config(&self) -> Config {
        let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
        config.data_dir = self.dir.path().to_path_buf();
        config.auth.jwt_secret = Some(Secret::new(JWT_SECRET));
        config.messages.franking_key = Some(Secret::new(FRANKING_KEY));
        config.rate_limits.mode = Toggle::Off;
        config.sms.mode = Some(SmsMode::Webhook);
        config.sms.webhook_url = Some(Secret::new(self.sms.url()));
        config.projections.run = self.options.projectors;
        if let Some(garage) = &self.garage {
            config.files.backend = StorageBackend::S3;
            config.files.s3 = Some(garage.s3.settings());
        }
        for change in &self.options.changes {
            change(&mut config);
        }
        config
    }

    /// A client of the store the gateways keep file chunks in, of the test's
    /// own (not theirs): the local folder, or the Garage bucket.
    pub fn blob_store(&self) -> Arc<dyn object_store::ObjectStore> {
        match &self.garage {
            Some(garage) => Arc::new(garage.store()),
            None => {
                let root = self.dir.path().join("files");
                std::fs::create_dir_all(&root).unwrap();
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root).unwrap())
            }
        }
    }

    /// Starts one more gateway, its configuration changed by `change` too.
    pub async fn add_gateway(&mut self, change: impl FnOnce(&mut Config)) -> &Server {
        let server = self.try_gateway(change).await.unwrap();
        self.gateways.push(server);
        self.gateways.last().unwrap()
    }

    /// A gateway on this app's database and NATS (not added to it), or why it did not start.
    pub async fn try_gateway(&self, change: impl FnOnce(&mut Config)) -> Result<Server, ServeError> {
        let mut config = self.config();
        change(&mut config);
        Server::start(&config, &self.database_url, &self.nats.url()).await
    }

    /// Stops every gateway (the database and NATS stay).
    pub async fn stop_gateways(&mut self) {
        for server in self.gateways.drain(..) {
            server.stop().await;
        }
    }

    /// The first gateway.
    pub fn server(&self) -> &Server {
        &self.gateways[0]
    }

    /// `http://host:port` of gateway `gateway`.
    pub fn base(&self, gateway: usize) -> String {
        format!("http://{}", self.gateways[gateway].addr)
    }

    /// The first gateway's write model, or the app's own when it has no gateway.
    pub fn write(&self) -> &Arc<WriteModel> {
        self.writer.as_ref().unwrap_or_else(|| &self.server().state.write)
    }

    /// Commands straight through [`Self::write`].
    pub fn commands(&self) -> Commands<'_> {
        Commands(self.write())
    }

    /// A write model of another process on the same database and NATS wake-up.
    pub fn another_write_model(&self, snapshot_every: usize) -> WriteModel {
        write_model(&self.db, &self.wake, snapshot_every)
    }

    pub fn js(&self) -> jetstream::Context {
        jetstream::new(self.client.clone())
    }

    /// Starts the relay of an app without gateways (theirs run on their own).
    pub fn start_relay(&mut self, options: RelayOptions) {
        let shutdown = CancellationToken::new();
        let relay = Relay::new(self.db.pool.clone(), self.client.clone(), self.wake.clone(), options);
        self.relay = Some((shutdown.clone(), tokio::spawn(relay.run(shutdown))));
    }

    pub async fn stop_relay(&mut self) {
        if let Some((shutdown, task)) = self.relay.take() {
            shutdown.cancel();
            task.await.unwrap();
        }
    }

    /// How many events Postgres holds.
    pub async fn committed_events(&self) -> u64 {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.db.pool).await.unwrap();
        n as u64
    }

    /// Calls gateway `gateway` as `who`: the status and the JSON body (null if none).
    pub async fn call_at(
        &self,
        gateway: usize,
        who: impl Caller,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base(gateway)));
        if let Some(token) = who.access_token() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Calls the first gateway as `who`.
    pub async fn call(
        &self,
        who: impl Caller,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_at(0, who, method, path, body).await
    }

    pub async fn get(&self, who: impl Caller, path: &str) -> (StatusCode, Value) {
        self.call(who, "GET", path, None).await
    }

    pub async fn post(&self, who: impl Caller, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(who, "POST", path, Some(body)).await
    }

    pub async fn put(&self, who: impl Caller, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(who, "PUT", path, body).await
    }

    pub async fn patch(&self, who: impl Caller, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(who, "PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, who: impl Caller, path: &str) -> (StatusCode, Value) {
        self.call(who, "DELETE", path, None).await
    }

    /// Registers `email` as `name` (with [`PASSWORD`]); returns the 201 body (user and tokens).
    pub async fn register(&self, email: &str, name: &str) -> Value {
        let (status, body) = self
            .post(
                Anonymous,
                "/v1/auth/register",
                json!({"email": email, "password": PASSWORD, "display_name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Registers `name` under a unique made-up email.
    pub async fn person(&self, name: &str) -> Person {
        let email = format!("{}-{}@example.com", name.to_lowercase().replace(' ', "."), uuid::Uuid::new_v4());
        Person::from_session(&self.register(&email, name).await)
    }

    /// A group room `owner` creates with `members` over HTTP; returns its id.
    pub async fn group(&self, owner: &Person, members: &[&Person]) -> String {
        let ids: Vec<UserId> = members.iter().map(|p| p.id).collect();
        let (status, body) =
            self.post(owner, "/v1/rooms", json!({"kind": "group", "name": "team", "members": ids})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Sends `text` (as base64 "ciphertext") to `room` over HTTP; returns the message.
    pub async fn send(&self, who: &Person, room: &str, text: &str) -> Value {
        let (status, body) = self
            .post(
                who,
                &format!("/v1/rooms/{room}/messages"),
                json!({"client_msg_id": uuid::Uuid::new_v4().to_string(), "ciphertext": b64(text)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Two people and a group room of theirs made through the write model, Alice its owner.
    pub async fn alice_and_bob_in_a_group(&self) -> (Person, Person, RoomId) {
        let (alice, bob) = (self.person("Alice").await, self.person("Bob").await);
        let room = self.commands().create_group(alice.id, vec![bob.id], "realtime").await;
        (alice, bob, room)
    }

    /// Where the gateways send SMS codes.
    pub fn sms_url(&self) -> &str {
        self.sms.url()
    }

    /// The last code the SMS webhook received for `phone`.
    pub fn last_code(&self, phone: &str) -> String {
        self.sms.last_code(phone)
    }

    /// Stops the gateways and the relay.
    pub async fn stop(mut self) {
        self.stop_relay().await;
        self.stop_gateways().await;
    }
}

pub fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Asserts an error answer's status, code, and that it has a message.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: u16, code: &str) {
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}
