//! A real coturn (`turnserver`, Debian's `coturn`, installed by
//! scripts/setup.sh) for one test: on a free loopback port, in a temp dir,
//! checking credentials in the REST scheme (`use-auth-secret`) under a
//! secret of the test's; killed on drop. `allocate` runs coturn's own client,
//! `turnutils_uclient`, to get an allocation with a username and password.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ciphertalk_gateway::embedded::process::{ChildProcess, SIGTERM};

use super::temp_dir;

pub const REALM: &str = "ciphertalk.test";

pub struct TestTurn {
    pub port: u16,
    /// The `static-auth-secret` the gateway must share.
    pub secret: String,
    process: ChildProcess,
    dir: tempfile::TempDir,
}

/// What `turnutils_uclient` made of a pair of credentials.
#[derive(Debug)]
pub struct Allocation {
    /// The server allocated relays and the client relayed through them.
    pub accepted: bool,
    pub output: String,
}

impl TestTurn {
    pub async fn start() -> Self {
        let binary = tool("turnserver");
        let dir = temp_dir("turn");
        let port = free_tcp_and_udp_port();
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        // The secret goes in a 0600 file, never on the command line.
        let config = dir.path().join("turnserver.conf");
        let text = format!(
            "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port={port}\n\
             use-auth-secret\nstatic-auth-secret={secret}\nrealm={REALM}\n\
             allow-loopback-peers\nno-cli\nno-tls\nno-dtls\nfingerprint\n\
             pidfile={pid}\nlog-file=stdout\nsimple-log\n",
            pid = dir.path().join("turnserver.pid").display(),
        );
        write_private(&config, &text);
        let mut command = Command::new(binary);
        command.arg("-c").arg(&config).current_dir(dir.path());
        let process =
            ChildProcess::spawn("turnserver", command, &dir.path().join("turnserver.log"), SIGTERM).unwrap();
        let mut turn = Self { port, secret, process, dir };
        turn.wait_ready().await;
        turn
    }

    /// The URL the gateway hands to clients.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// Asks for allocations (two clients relaying to each other over UDP)
    /// with `username` and `password`.
    pub async fn allocate(&self, username: &str, password: &str) -> Allocation {
        let mut command = tokio::process::Command::new(tool("turnutils_uclient"));
        command
            .args(["-p", &self.port.to_string(), "-u", username, "-w", password, "-y", "-n", "2", "-c"])
            .arg("127.0.0.1")
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("turnutils_uclient did not finish")
            .unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let accepted = output.status.success() && !text.contains("Cannot complete Allocation");
        Allocation { accepted, output: text }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("turnserver.log")).unwrap_or_default();
        text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Until its TCP listener accepts (it opens UDP and TCP together).
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.exited().unwrap() {
                panic!("turnserver exited during start-up ({status}):\n{}", self.log_tail());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "turnserver did not start:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A loopback port free for both TCP and UDP (TURN listens on both).
fn free_tcp_and_udp_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn write_private(path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::File::options().create_new(true).write(true).mode(0o600).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A coturn binary on PATH (Debian installs them in /usr/bin).
fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
        .unwrap_or_else(|| panic!("{name} not found: run scripts/setup.sh (it installs Debian's coturn)"))
}
