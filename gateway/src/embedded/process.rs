//! A child server process that cannot outlive us.
//!
//! Children are started with `PR_SET_PDEATHSIG`, so the kernel stops them even
//! when this process is killed outright, and stopped with the signal each
//! server treats as a clean, fast shutdown.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Signals by number, from libc, so callers need not depend on it.
pub const SIGINT: i32 = libc::SIGINT;
pub const SIGTERM: i32 = libc::SIGTERM;
pub const SIGKILL: i32 = libc::SIGKILL;

#[derive(Debug)]
pub struct ChildProcess {
    name: &'static str,
    child: Child,
    /// The signal that asks this server for a clean shutdown.
    stop_signal: i32,
    stopped: bool,
}

impl ChildProcess {
    /// Starts `command` with its output appended to `log` (0600: server logs
    /// can name users and queries); the kernel sends `stop_signal` to the
    /// child if the thread that spawned it dies.
    pub fn spawn(name: &'static str, mut command: Command, log: &Path, stop_signal: i32) -> io::Result<Self> {
        let out = File::options().create(true).append(true).mode(0o600).open(log)?;
        crate::secrets::keep_private(log)?;
        let err = out.try_clone()?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours; it
        // runs in the forked child just before exec (after any uid change,
        // which would otherwise clear the setting).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, stop_signal as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Self { name, child, stop_signal, stopped: false })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    pub fn signal(&self, signal: i32) -> io::Result<()> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(io::Error::other)?;
        // SAFETY: kill(2) on a pid we own (not yet reaped, so not reused).
        if unsafe { libc::kill(pid, signal) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    /// Asks for a clean shutdown and waits up to `grace`; then kills.
    pub fn stop(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        self.stopped = true;
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.signal(self.stop_signal)?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(process = self.name, "did not stop in time; killing it");
        self.child.kill()?;
        self.child.wait()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.stop(Duration::from_secs(10));
        }
    }
}

/// Whether we run as root (Postgres refuses to, so its processes need another user).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and has no side effects.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::secrets::mode;

    #[test]
    fn server_logs_are_for_their_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.log");
        let mut child = ChildProcess::spawn("true", Command::new("true"), &fresh, SIGTERM).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let loose = dir.path().join("loose.log");
        std::fs::write(&loose, "old lines\n").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut again = ChildProcess::spawn("true", Command::new("true"), &loose, SIGTERM).unwrap();
        assert_eq!(mode(&loose), 0o600);
        child.stop(Duration::from_secs(5)).unwrap();
        again.stop(Duration::from_secs(5)).unwrap();
    }
}
