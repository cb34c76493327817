//! Running it: liveness and readiness for orchestrators, CORS for browser
//! clients served from another origin.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::spawn_app;
use crate::support::eventually;

async fn get(base: &str, path: &str) -> Option<(StatusCode, Value)> {
    let response = reqwest::get(format!("{base}{path}")).await.ok()?;
    let status = response.status();
    Some((status, response.json().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_needs_no_dependency_while_ready_follows_health_through_a_nats_outage() {
    let mut app = spawn_app().await;
    let base = app.base(0);

    assert_eq!(get(&base, "/health/live").await, Some((StatusCode::OK, json!({"status": "live"}))));
    let (status, ready) = get(&base, "/health/ready").await.unwrap();
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        (&ready["status"], &ready["nats"], &ready["postgres"]),
        (&json!("ready"), &json!("ok"), &json!("ok"))
    );

    app.nats.stop();
    let not_ready = eventually(30, || async {
        matches!(get(&base, "/health/ready").await, Some((StatusCode::SERVICE_UNAVAILABLE, body))
            if body["status"] == "not_ready"
                && body["error"]["code"] == "dependency_down"
                && body["error"]["details"]["down"] == json!(["nats"]))
    })
    .await;
    assert!(not_ready, "ready did not report NATS down: {:?}", get(&base, "/health/ready").await);
    let (status, health) = get(&base, "/health").await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "/health agrees: {health}");
    assert_eq!(get(&base, "/health/live").await, Some((StatusCode::OK, json!({"status": "live"}))));

    app.nats.restart().await;
    let ready_again = eventually(30, || async {
        matches!(get(&base, "/health/ready").await, Some((StatusCode::OK, body)) if body["status"] == "ready")
    })
    .await;
    assert!(ready_again, "ready did not recover");
    app.stop().await;
}

const APP: &str = "https://app.example.com";

async fn preflight(base: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/v1/rooms"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn a_configured_origin_passes_the_preflight_and_any_other_gets_no_allowance() {
    let chat = spawn_app()
        .config(|config| config.cors.allowed_origins = format!("{APP}, http://localhost:5173"))
        .await;

    let allowed = preflight(&chat.base(0), APP).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), Some(APP));
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default().to_lowercase();
    assert!(methods.contains("post") && methods.contains("delete"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers").unwrap_or_default().to_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
    assert!(header(&allowed, "access-control-max-age").is_some());
    assert!(header(&allowed, "access-control-allow-credentials").is_none(), "bearer tokens, no cookies");

    let refused = preflight(&chat.base(0), "https://evil.example.com").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None, "a refused origin is not allowed");

    // A real request's answer, an error included, lets the page read it and its request id.
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/rooms", chat.base(0)))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(APP));
    let exposed = header(&answer, "access-control-expose-headers").unwrap_or_default().to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    chat.stop().await;
}

#[tokio::test]
async fn without_configured_origins_no_origin_is_allowed() {
    let chat = spawn_app().await;
    let response = preflight(&chat.base(0), APP).await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let answer = reqwest::Client::new()
        .get(format!("{}/health", chat.base(0)))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&answer, "access-control-allow-origin"), None);
    chat.stop().await;
}

/// compose's NATS configs parse (`nats-server -t`) with the variables compose
/// passes, require a password and keep `max_payload` explicit.
#[test]
fn the_nats_configs_of_the_compose_files_are_valid() {
    let nats_server = ciphertalk_gateway::embedded::binaries::nats_server(None).unwrap();
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    for file in ["nats.conf", "nats-cluster.conf"] {
        let path = deploy.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("max_payload: 1048576"), "{file} leaves max_payload to the default");
        assert!(text.contains("password: $NATS_PASSWORD"), "{file} lets clients in without a password");
        let checked = std::process::Command::new(&nats_server)
            .args(["-t", "-c"])
            .arg(&path)
            .env("NATS_PASSWORD", "compose-password")
            .env("NATS_SERVER_NAME", "nats-1")
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
        assert!(checked.status.success() && said.contains("is valid"), "{file}: {said}");
    }
}

/// compose's Postgres init script (deploy/postgres/app-role.sh) makes CipherTalk's
/// role the owner of its database, no superuser, and CipherTalk migrates as it.
#[tokio::test]
async fn the_compose_postgres_init_script_makes_an_owner_that_is_no_superuser_and_migrates() {
    use std::str::FromStr;

    use sqlx::postgres::PgConnectOptions;

    let admin_url = crate::support::postgres_admin_url();
    let admin = ciphertalk_gateway::db::connect(&admin_url, 1).await.unwrap();
    let (database, role) =
        (format!("t_{}", uuid::Uuid::new_v4().simple()), format!("r_{}", uuid::Uuid::new_v4().simple()));
    sqlx::query(&format!("CREATE DATABASE {database}")).execute(&admin).await.unwrap();
    let options = PgConnectOptions::from_str(&admin_url).unwrap();
    let database_url = admin_url.rsplit_once('/').map(|(base, _)| format!("{base}/{database}")).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/postgres/app-role.sh");
    let run = tokio::process::Command::new("sh")
        .arg(script)
        .env("POSTGRES_USER", options.get_username())
        // psql takes a connection URL where the image passes a database name.
        .env("POSTGRES_DB", &database_url)
        .env("CIPHERTALK_DB_USER", &role)
        .env("CIPHERTALK_DB_PASSWORD", "app-secret")
        .output()
        .await
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let app_url =
        format!("postgres://{role}:app-secret@{}:{}/{database}", options.get_host(), options.get_port());
    let app = ciphertalk_gateway::db::connect(&app_url, 2).await.unwrap();
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&app)
        .await
        .unwrap();
    assert!(!superuser, "the app role is no superuser");
    ciphertalk_gateway::db::migrate(&app).await.unwrap();
    let owner: String = sqlx::query_scalar("SELECT tableowner FROM pg_tables WHERE tablename = 'events'")
        .fetch_one(&app)
        .await
        .unwrap();
    assert_eq!(owner, role, "the app role owns what it migrated");
    app.close().await;
    // FORCE: the script's psql sessions may still be closing server-side.
    sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)")).execute(&admin).await.unwrap();
    sqlx::query(&format!("DROP ROLE {role}")).execute(&admin).await.unwrap();
}

/// compose's Garage runs the release the tests run, from the config the tests
/// run (deploy/garage/garage.toml), keeps its folders in volumes, needs every
/// secret set, publishes only its S3 port, and CipherTalk's S3 settings name
/// its bucket, region and port.
#[test]
fn compose_runs_the_tested_garage_and_points_ciphertalk_at_its_bucket() {
    use serde_norway::Value as Yaml;

    use crate::support::garage::{GARAGE_VERSION, REGION};

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let compose: Yaml =
        serde_norway::from_str(&std::fs::read_to_string(repo.join("compose.yaml")).unwrap()).unwrap();
    let config: toml::Table =
        std::fs::read_to_string(repo.join("deploy/garage/garage.toml")).unwrap().parse().unwrap();
    let garage = &compose["services"]["garage"];
    let strings = |value: &Yaml| -> Vec<String> {
        value.as_sequence().into_iter().flatten().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    let text = |value: &Yaml| value.as_str().unwrap_or_else(|| panic!("not a string: {value:?}")).to_owned();

    assert_eq!(text(&garage["image"]), format!("dxflrs/garage:v{GARAGE_VERSION}"), "the tested release");
    assert_eq!(strings(&garage["command"]), ["/garage", "server", "--single-node", "--default-bucket"]);
    let volumes = strings(&garage["volumes"]);
    assert!(volumes.contains(&"./deploy/garage/garage.toml:/etc/garage.toml:ro".to_owned()), "{volumes:?}");
    for dir in ["metadata_dir", "data_dir"] {
        let inside = config[dir].as_str().unwrap();
        assert!(
            volumes.iter().any(|v| v.split(':').nth(1) == Some(inside) && !v.starts_with('.')),
            "{dir} {inside} is not a named volume: {volumes:?}"
        );
    }
    let garage_env = &garage["environment"];
    for secret in
        ["GARAGE_RPC_SECRET", "GARAGE_ADMIN_TOKEN", "GARAGE_DEFAULT_ACCESS_KEY", "GARAGE_DEFAULT_SECRET_KEY"]
    {
        assert!(text(&garage_env[secret]).contains(":?"), "{secret} may be left unset");
    }
    assert!(
        !config.contains_key("rpc_secret")
            && !config["admin"].as_table().unwrap().contains_key("admin_token")
    );
    assert!(strings(&garage["healthcheck"]["test"]).contains(&"health".to_owned()));

    let port_of = |addr: &str| addr.rsplit(':').next().unwrap().to_owned();
    let s3_port = port_of(config["s3_api"]["api_bind_addr"].as_str().unwrap());
    assert_eq!(strings(&garage["ports"]), [format!("0.0.0.0:{s3_port}:{s3_port}")], "only S3 is published");

    let ciphertalk = &compose["services"]["ciphertalk"];
    assert_eq!(text(&ciphertalk["depends_on"]["garage"]["condition"]), "service_healthy");
    let env = &ciphertalk["environment"];
    assert_eq!(text(&env["CIPHERTALK_FILES_BACKEND"]), "s3");
    assert_eq!(text(&env["CIPHERTALK_FILES_S3_ENDPOINT"]), format!("http://garage:{s3_port}"));
    assert_eq!(text(&env["CIPHERTALK_FILES_S3_BUCKET"]), text(&garage_env["GARAGE_DEFAULT_BUCKET"]));
    assert_eq!(text(&env["CIPHERTALK_FILES_S3_REGION"]), REGION);
    assert_eq!(config["s3_api"]["s3_region"].as_str(), Some(REGION));
    assert_eq!(text(&env["CIPHERTALK_FILES_S3_ACCESS_KEY_ID"]), "${GARAGE_ACCESS_KEY_ID}");
    assert_eq!(text(&env["CIPHERTALK_FILES_S3_SECRET_ACCESS_KEY"]), "${GARAGE_SECRET_ACCESS_KEY}");

    // Every variable compose.yaml requires is in the .env template.
    let example = std::fs::read_to_string(repo.join("deploy/compose.env.example")).unwrap();
    let raw = std::fs::read_to_string(repo.join("compose.yaml")).unwrap();
    let references = raw.split("${").skip(1).filter_map(|rest| rest.split_once('}').map(|(inner, _)| inner));
    for required in references.filter_map(|inner| inner.split_once(":?").map(|(name, _)| name)) {
        assert!(
            example.lines().any(|line| line == format!("{required}=")),
            "{required} is not in compose.env.example"
        );
    }
}

/// The environment of each CipherTalk service of compose.yaml and
/// compose.cluster.yaml, its `${...}` filled in from a filled-in
/// compose.env.example, loads into a valid configuration with the files in
/// Garage's bucket (an unknown or misspelt variable would not load), and the
/// cluster's gateways share the chunk URL key.
#[test]
fn the_compose_environments_load_into_valid_configs_on_s3() {
    use ciphertalk_gateway::config::{Config, StorageBackend};
    use serde_norway::Value as Yaml;

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = std::fs::read_to_string(repo.join("deploy/compose.env.example")).unwrap();
    // Every variable of the template set, as a user would (FILES_PUBLIC_ENDPOINT left empty).
    let dotenv: std::collections::HashMap<String, String> = example
        .lines()
        .filter_map(|line| line.strip_suffix('=').filter(|name| !name.starts_with('#')))
        .filter(|name| *name != "FILES_PUBLIC_ENDPOINT")
        .map(|name| (name.to_owned(), format!("{}-0123456789abcdef0123456789abcdef", name.to_lowercase())))
        .collect();
    for (file, services) in
        [("compose.yaml", &["ciphertalk"][..]), ("compose.cluster.yaml", &["ciphertalk-1", "ciphertalk-2"])]
    {
        let mut compose: Yaml =
            serde_norway::from_str(&std::fs::read_to_string(repo.join(file)).unwrap()).unwrap();
        compose.apply_merge().unwrap();
        for service in services {
            let environment = compose["services"][service]["environment"].as_mapping().unwrap();
            let env: Vec<(String, String)> = environment
                .iter()
                .map(|(name, value)| {
                    (name.as_str().unwrap().to_owned(), interpolate(value.as_str().unwrap(), &dotenv))
                })
                .collect();
            let config = Config::load_from(None, env).unwrap_or_else(|err| panic!("{file} {service}: {err}"));
            assert_eq!(config.files.backend, StorageBackend::S3, "{file} {service}");
            let s3 = config.files.s3.expect("files.s3");
            assert_eq!(s3.endpoint.as_deref(), Some("http://garage:3900"));
            assert_eq!(
                s3.public_endpoint.as_deref(),
                Some("http://localhost:3900"),
                "the default public endpoint"
            );
            assert_eq!(
                (s3.bucket.as_str(), s3.region.as_str(), s3.path_style),
                ("ciphertalk-files", "garage", true)
            );
            assert_eq!(s3.access_key_id, dotenv["GARAGE_ACCESS_KEY_ID"]);
            assert_eq!(s3.secret_access_key.expose(), dotenv["GARAGE_SECRET_ACCESS_KEY"]);
            if services.len() > 1 {
                let key = config.files.url_key.expect("one chunk URL key for every gateway");
                assert_eq!(key.expose(), dotenv["CIPHERTALK_FILES_URL_KEY"]);
            }
        }
    }
}

/// compose's `${NAME}`, `${NAME:-default}` (default when unset or empty) and
/// `${NAME:?message}` (required) in `value`.
fn interpolate(value: &str, vars: &std::collections::HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some((before, after)) = rest.split_once("${") {
        out.push_str(before);
        let (inner, tail) = after.split_once('}').unwrap();
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner.split_once(":?").map_or(inner, |(name, _)| name), None),
        };
        let set = vars.get(name).filter(|v| !v.is_empty());
        out.push_str(set.map(String::as_str).or(default).unwrap_or_else(|| panic!("{name} is unset")));
        rest = tail;
    }
    out.push_str(rest);
    out
}
