//! The `ciphertalk` binary.

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: measured under load, glibc spent a
/// quarter of the server's CPU in malloc/free (arena locks, consolidation),
/// and its per-thread arenas kept Argon2id's 19 MiB blocks after free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Both rustls back-ends end up linked; pick one before any TLS client starts.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(ciphertalk_gateway::cli::main()),
        Err(err) => {
            eprintln!("ciphertalk: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}
