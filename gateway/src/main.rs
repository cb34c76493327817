//! The `ciphertalk` binary.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Both rustls back-ends end up linked; pick one before any TLS client starts.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    ciphertalk_gateway::cli::main().await
}
