//! An embedded PostgreSQL cluster: initdb on first start, data kept under one
//! folder, loopback TCP only, password authentication. The superuser is for
//! initdb and administration only; CipherTalk connects as [`APP_ROLE`], which
//! owns its database and everything in it but is no superuser. Each start
//! makes sure of that, so data dirs from before the role existed (everything
//! owned by the superuser) are handed over.
//!
//! Postgres refuses to run as root; when we are root its processes run as the
//! `postgres` system user (created by Debian's `postgresql` package), which then
//! owns the cluster folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, Connection, postgres::PgConnectOptions};

use super::process::{ChildProcess, SIGINT, is_root};
use super::{EmbeddedError, free_port, io_error, secret_file};
use crate::config::EmbeddedConfig;

#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Folder for the cluster, its password and its log.
    pub dir: PathBuf,
    /// 0 picks a free loopback port.
    pub port: u16,
    pub bin_dir: Option<PathBuf>,
    /// The database CipherTalk uses; created when missing.
    pub database: String,
    /// Off only for throwaway test clusters: skips fsync for speed.
    pub durable: bool,
    pub max_connections: u32,
    /// `idle_in_transaction_session_timeout`: a session left idle inside a
    /// transaction holds the relay back (it publishes only below the oldest
    /// running transaction), so Postgres ends it after this long; 0 = never.
    pub idle_in_transaction_timeout_secs: u64,
}

impl PostgresOptions {
    /// The durable cluster the `[embedded]` section configures, in `dir`.
    pub fn configured(config: &EmbeddedConfig, dir: PathBuf, database: &str) -> Self {
        Self {
            dir,
            port: config.postgres_port,
            bin_dir: config.postgres_bin_dir.clone(),
            database: database.to_owned(),
            durable: true,
            max_connections: 200,
            idle_in_transaction_timeout_secs: config.postgres_idle_in_transaction_timeout_secs,
        }
    }
}

#[derive(Debug)]
pub struct EmbeddedPostgres {
    process: ChildProcess,
    bin_dir: PathBuf,
    options: PostgresOptions,
    run_as: Option<(u32, u32)>,
    port: u16,
    password: String,
    app_password: String,
}

const SUPERUSER: &str = "postgres";

/// The role CipherTalk's connections use: LOGIN, owner of its database, no SUPERUSER.
pub const APP_ROLE: &str = "ciphertalk";

/// The app role's password, next to the superuser's `password` in the cluster folder.
pub const APP_PASSWORD_FILE: &str = "app-password";

impl EmbeddedPostgres {
    pub async fn start(options: PostgresOptions) -> Result<Self, EmbeddedError> {
        let bin_dir = super::binaries::postgres_bin_dir(options.bin_dir.as_deref())?;
        std::fs::create_dir_all(&options.dir)
            .map_err(|e| io_error(format!("creating {}", options.dir.display()), e))?;
        let run_as = if is_root() { Some(system_user(SUPERUSER)?) } else { None };
        if let Some((uid, gid)) = run_as {
            check_reachable_by_others(&options.dir)?;
            std::os::unix::fs::chown(&options.dir, Some(uid), Some(gid)).map_err(|e| {
                io_error(format!("handing {} to the postgres user", options.dir.display()), e)
            })?;
        }
        set_mode(&options.dir, 0o700)?;
        let password = secret_file(&options.dir.join("password"))?;
        let app_password = secret_file(&options.dir.join(APP_PASSWORD_FILE))?;
        let pgdata = options.dir.join("data");
        if !pgdata.join("PG_VERSION").is_file() {
            initdb(&bin_dir, &options, &pgdata, &password, run_as).await?;
        }
        let port = if options.port == 0 { free_port()? } else { options.port };
        let process = spawn(&bin_dir, &options, port, run_as)?;
        let mut postgres = Self { process, bin_dir, options, run_as, port, password, app_password };
        postgres.wait_ready().await?;
        postgres.ensure_database().await?;
        Ok(postgres)
    }

    /// URL of CipherTalk's database as the app role, password included
    /// (treat it as a secret).
    pub fn url(&self) -> String {
        format!(
            "postgres://{APP_ROLE}:{}@127.0.0.1:{}/{}",
            self.app_password, self.port, self.options.database
        )
    }

    /// URL of CipherTalk's database as the superuser: for administration
    /// (and test harnesses that create databases), never for the app.
    pub fn admin_url(&self) -> String {
        format!("postgres://{SUPERUSER}:{}@127.0.0.1:{}/{}", self.password, self.port, self.options.database)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        self.process.stop(Duration::from_secs(30)).map_err(|e| io_error("stopping postgres", e))?;
        Ok(())
    }

    /// Restarts the server if it died; true when it did.
    pub async fn revive(&mut self) -> Result<bool, EmbeddedError> {
        match self.process.exited() {
            Ok(Some(status)) => {
                tracing::error!(%status, "embedded postgres exited; restarting it");
                self.process = spawn(&self.bin_dir, &self.options, self.port, self.run_as)?;
                self.wait_ready().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username(SUPERUSER)
            .password(&self.password)
            .database(database)
            .disable_statement_logging()
    }

    async fn wait_ready(&mut self) -> Result<(), EmbeddedError> {
        let log = self.options.dir.join("server.log");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.process.exited() {
                return Err(EmbeddedError::Exited { what: "postgres", status: status.to_string(), log });
            }
            if let Ok(conn) = sqlx::PgConnection::connect_with(&self.connect_options("postgres")).await {
                let _ = conn.close().await;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::Timeout { what: "postgres", log });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The app role (password kept in step with its file), its database, and
    /// the hand-over of whatever in that database the superuser still owns.
    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres")).await?;
        let role_exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(APP_ROLE)
                .fetch_one(&mut conn)
                .await?;
        // The password is generated hex; quoting keeps it a literal regardless.
        let password = self.app_password.replace('\'', "''");
        let verb = if role_exists { "ALTER" } else { "CREATE" };
        sqlx::query(&format!(
            "{verb} ROLE \"{APP_ROLE}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '{password}'"
        ))
        .execute(&mut conn)
        .await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&self.options.database)
            .fetch_one(&mut conn)
            .await?;
        let name = self.options.database.replace('"', "\"\"");
        if exists {
            sqlx::query(&format!("ALTER DATABASE \"{name}\" OWNER TO \"{APP_ROLE}\""))
                .execute(&mut conn)
                .await?;
        } else {
            sqlx::query(&format!("CREATE DATABASE \"{name}\" OWNER \"{APP_ROLE}\""))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        let mut conn =
            sqlx::PgConnection::connect_with(&self.connect_options(&self.options.database)).await?;
        sqlx::query(HAND_OVER).execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }
}

/// Gives the app role ([`APP_ROLE`]) what the superuser owns in the app database's own
/// schemas (all of it, in a data dir made before the role existed):
/// schemas, tables, views, free-standing sequences (those of a column follow
/// their table) and routines.
const HAND_OVER: &str = r#"
DO $$
DECLARE
    statement text;
BEGIN
    FOR statement IN
        SELECT format('ALTER SCHEMA %I OWNER TO ciphertalk', n.nspname)
        FROM pg_namespace n
        WHERE n.nspowner = 'postgres'::regrole AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
        UNION ALL
        SELECT format('ALTER %s %I.%I OWNER TO ciphertalk',
                      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                      n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relowner = 'postgres'::regrole
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
          AND (c.relkind <> 'S' OR NOT EXISTS (SELECT 1 FROM pg_depend d
                                               WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                 AND d.deptype IN ('a', 'i')))
        UNION ALL
        SELECT format('ALTER ROUTINE %s OWNER TO ciphertalk', p.oid::regprocedure)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proowner = 'postgres'::regrole
          AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    LOOP
        EXECUTE statement;
    END LOOP;
END
$$
"#;

async fn initdb(
    bin_dir: &Path,
    options: &PostgresOptions,
    pgdata: &Path,
    password: &str,
    run_as: Option<(u32, u32)>,
) -> Result<(), EmbeddedError> {
    // A folder without PG_VERSION is an initdb that never finished.
    if pgdata.exists() {
        std::fs::remove_dir_all(pgdata).map_err(|e| io_error(format!("clearing {}", pgdata.display()), e))?;
    }
    let pwfile = options.dir.join("initdb-password");
    super::write_private(&pwfile, password.as_bytes())?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))
            .map_err(|e| io_error("chown password file", e))?;
    }
    let mut command = tokio::process::Command::new(bin_dir.join("initdb"));
    command
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .current_dir(&options.dir);
    if !options.durable {
        command.arg("--no-sync");
    }
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    let output = command.output().await;
    let _ = std::fs::remove_file(&pwfile);
    let output = output.map_err(|e| io_error("running initdb", e))?;
    if !output.status.success() {
        return Err(EmbeddedError::Initdb(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    Ok(())
}

fn spawn(
    bin_dir: &Path,
    options: &PostgresOptions,
    port: u16,
    run_as: Option<(u32, u32)>,
) -> Result<ChildProcess, EmbeddedError> {
    let mut command = Command::new(bin_dir.join("postgres"));
    command
        .arg("-D")
        .arg(options.dir.join("data"))
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="])
        .args(["-c", &format!("max_connections={}", options.max_connections)])
        .args([
            "-c",
            &format!("idle_in_transaction_session_timeout={}s", options.idle_in_transaction_timeout_secs),
        ])
        .current_dir(&options.dir);
    if !options.durable {
        command.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
    }
    if let Some((uid, gid)) = run_as {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(gid);
    }
    // SIGINT is Postgres's "fast" shutdown: roll back sessions, checkpoint, exit.
    ChildProcess::spawn("postgres", command, &options.dir.join("server.log"), SIGINT)
        .map_err(|e| io_error("starting postgres", e))
}

/// uid and gid of a system user, from /etc/passwd.
fn system_user(name: &str) -> Result<(u32, u32), EmbeddedError> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| io_error("reading /etc/passwd", e))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        .ok_or(EmbeddedError::Missing {
            what: "the `postgres` system user (Postgres will not run as root)",
            hint: "install Debian's postgresql package, which creates it, or run CipherTalk as a normal user",
        })
}

/// Running as the postgres user, the server must be able to walk down to its folder.
fn check_reachable_by_others(dir: &Path) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt;
    let absolute =
        std::fs::canonicalize(dir).map_err(|e| io_error(format!("resolving {}", dir.display()), e))?;
    for ancestor in absolute.ancestors().skip(1) {
        let mode = std::fs::metadata(ancestor).map(|m| m.permissions().mode()).unwrap_or(0o755);
        if mode & 0o001 == 0 {
            return Err(EmbeddedError::Unreachable {
                dir: absolute.clone(),
                blocker: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(format!("chmod {}", path.display()), e))
}
