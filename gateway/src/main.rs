//! The `ciphertalk` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    return_large_allocations_to_the_os();
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

/// Argon2id allocates 19 MiB per password hash. glibc's dynamic mmap threshold
/// soon serves such blocks from per-thread arenas that keep them after free:
/// measured, 300 registrations left the server at 1.27 GB RSS. A fixed 1 MiB
/// threshold maps large blocks and unmaps them on free (23 MB after the same).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_large_allocations_to_the_os() {
    // SAFETY: mallopt only changes allocator tuning; it runs first in main,
    // before the runtime starts any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_os() {}
