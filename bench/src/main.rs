//! `ciphertalk-bench`: measures CipherTalk against real servers.
//!
//! `write` drives the write path (commands -> Postgres event store -> relay ->
//! JetStream) directly, without HTTP, to measure what the spine can accept.
//! `load` drives a whole server over its public API (HTTP sends, WebSocket
//! deliveries) with many users, checking every delivery. `files` moves one
//! big file through a server chunk by chunk, measuring throughput, the
//! server's memory and how soon other members hear of each chunk.

mod files;
mod load;
mod stats;
mod write;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The server's allocator, so that `write` measures the spine as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "ciphertalk-bench", about = "Benchmarks for CipherTalk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Commands per second on many rooms and on one hot room, and relay throughput.
    Write(write::Args),
    /// Users, rooms and WebSockets over the public API: throughput, latency, loss, server CPU and memory.
    Load(load::Args),
    /// A big file (1 GiB in 4 MiB chunks) up and down: throughput, server memory, chunk announcement latency.
    Files(files::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Write(args) => write::run(args).await,
        Command::Load(args) => load::run(args).await,
        Command::Files(args) => files::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ciphertalk-bench: {err}");
            ExitCode::FAILURE
        }
    }
}
