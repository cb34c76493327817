//! Connecting to NATS from a URL that may carry credentials
//! (`nats://user:password@host:port`), which async-nats does not read itself.

use std::str::FromStr;
use std::time::Duration;

use async_nats::{ConnectOptions, ServerAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Fail at once when the server does not answer (readiness probes, CLI).
    Never,
    /// Keep trying in the background (long-running servers).
    Forever,
}

pub async fn connect(
    url: &str,
    name: &str,
    retry: Retry,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let mut options = ConnectOptions::new().name(name).connection_timeout(Duration::from_secs(5));
    if let Ok(addr) = ServerAddr::from_str(url)
        && let (Some(user), Some(password)) = (addr.username(), addr.password())
    {
        options = options.user_and_password(user.to_owned(), password.to_owned());
    }
    if retry == Retry::Forever {
        options = options.retry_on_initial_connect();
    }
    options.connect(url).await
}
