//! The `ciphertalk` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, SETTINGS, example_toml};
use crate::infra::{Infra, Needs};
use crate::{db, projections_cli, relay_cli, serve, telemetry};

#[derive(Debug, Parser)]
#[command(name = "ciphertalk", version, about = "CipherTalk: an end-to-end-encrypted chat server", after_help = settings_help())]
pub struct Cli {
    /// TOML configuration file; environment variables override it.
    #[arg(long, global = true, env = "CIPHERTALK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for embedded NATS/Postgres data and local blobs.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway, relay and projectors. With no NATS_URL / DATABASE_URL,
    /// starts its own nats-server and Postgres under the data dir.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Show the JetStream topology and whether the live one matches the configuration.
    Streams {
        /// Create or update whatever differs, as `serve` does at start-up.
        #[arg(long)]
        apply: bool,
    },
    /// Inspect or rebuild the read models.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Instance administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Repair the event log's copy in JetStream.
    Relay {
        #[command(subcommand)]
        command: RelayCommand,
    },
    /// The configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make the registered user with this email an instance admin (the first
    /// admin of a fresh install; later ones are promoted over the API).
    Promote {
        /// The user's email.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print an example TOML file: every setting at its default, commented
    /// out, with its meaning and variable (the repository's ciphertalk.example.toml).
    Example,
}

#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Publish the event store into CHAT_EVENTS again after its NATS store was
    /// lost or restored from an older copy (the relay refuses to go on until then).
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Each projection's applied stream sequence and lag.
    List,
    /// Rebuild one read model from CHAT_EVENTS sequence 1 (rooms, timeline,
    /// contacts, delivery, files, moderation, audit) beside the live one, then
    /// swap it in; servers keep answering meanwhile.
    Replay {
        /// The projection to rebuild.
        name: String,
    },
}

fn settings_help() -> String {
    let mut help = String::from("Configuration (environment variable, TOML key, meaning):\n");
    for (var, key, meaning) in SETTINGS {
        help.push_str(&format!("  {var:<42} {key:<32} {meaning}\n"));
    }
    help
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Needs no configuration, so a broken one does not stop it.
    if let Command::Config { command: ConfigCommand::Example } = cli.command {
        print!("{}", example_toml());
        return ExitCode::SUCCESS;
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ciphertalk: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    let result = match cli.command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            serve::run(config).await.map_err(|e| e.to_string())
        }
        Command::Migrate => migrate(config).await,
        Command::Streams { apply } => streams(config, apply).await,
        Command::Projections { command: ProjectionsCommand::List } => projections_cli::list(config).await,
        Command::Projections { command: ProjectionsCommand::Replay { name } } => {
            projections_cli::replay(config, &name).await
        }
        Command::Admin { command: AdminCommand::Promote { email } } => promote(config, &email).await,
        Command::Relay { command: RelayCommand::Rebuild } => relay_cli::rebuild(config).await,
        Command::Config { command: ConfigCommand::Example } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "ciphertalk failed");
            eprintln!("ciphertalk: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: Config) -> Result<(), String> {
    telemetry::init_logging(&config);
    let infra = Infra::attach(&config, Needs::POSTGRES).await.map_err(|e| e.to_string())?;
    let pool = db::connect(infra.database_url.expose(), 2).await.map_err(|e| e.to_string())?;
    db::migrate(&pool).await.map_err(|e| e.to_string())?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    println!("migrations applied: {applied}");
    pool.close().await;
    Ok(())
}

/// Grants the admin role through the User aggregate, like a promotion over
/// the API (an event, so projections and the audit log see it); the relay of
/// a running server publishes it.
async fn promote(config: Config, email: &str) -> Result<(), String> {
    use ciphertalk_commands::{CommandMetadata, RelayWake, WriteModel, WriteOptions};
    use ciphertalk_domain::user::{User, UserCommand};
    use ciphertalk_domain::values::Email;

    telemetry::init_logging(&config);
    let email = Email::parse(email).map_err(|e| e.to_string())?;
    let infra = Infra::attach(&config, Needs::POSTGRES).await.map_err(|e| e.to_string())?;
    let pool = db::connect(infra.database_url.expose(), 2).await.map_err(|e| e.to_string())?;
    let found = crate::auth::accounts::find_by_email(&pool, &email).await.map_err(|e| e.to_string())?;
    let user = found.ok_or_else(|| format!("no user is registered with {}", email.as_str()))?.user_id;
    let write = WriteModel::new(pool.clone(), RelayWake::default(), WriteOptions::default());
    // A promotion, not a naming by configuration (`by: None`), which the next
    // login would undo for an address the configuration does not list; the
    // metadata names the command line as the actor.
    let command = UserCommand::GrantAdmin { by: Some(user), at: ciphertalk_domain::clock::now() };
    let meta = CommandMetadata::new("system:cli", None);
    let executed = write
        .users
        .execute_and_read(&user.to_string(), command, &meta, User::is_admin)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} ({user}) is an instance admin{}",
        email.as_str(),
        if executed.events.is_empty() { " already" } else { "" }
    );
    pool.close().await;
    Ok(())
}

async fn streams(config: Config, apply: bool) -> Result<(), String> {
    telemetry::init_logging(&config);
    let infra = Infra::attach(&config, Needs::NATS).await.map_err(|e| e.to_string())?;
    let client = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        serve::connect_nats(infra.nats_url.expose()),
    )
    .await
    .map_err(|_| "NATS did not answer within 10 s".to_owned())?
    .map_err(|e| e.to_string())?;
    let js = async_nats::jetstream::new(client);
    let topology = ciphertalk_streams::Topology::new(config.streams.topology()).map_err(|e| e.to_string())?;
    let report = if apply { topology.ensure(&js).await } else { topology.inspect(&js).await };
    let report = report.map_err(|e| e.to_string())?;
    println!("{:<14} {:<7} {:<16} STATE", "NAME", "KIND", "SUBJECTS");
    let mut all_match = true;
    for status in &report {
        println!("{status}");
        all_match &= matches!(
            status.state,
            ciphertalk_streams::topology::State::Matches
                | ciphertalk_streams::topology::State::Created
                | ciphertalk_streams::topology::State::Updated(_)
        );
    }
    if all_match { Ok(()) } else { Err("the live topology does not match the configuration".into()) }
}
