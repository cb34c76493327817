//! CPU time and resident memory of a process and its descendants (Linux
//! `/proc`), so that the report says where the machine's time went: the
//! gateway itself, its embedded nats-server, its Postgres processes.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ: 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User plus system time of all threads.
    pub cpu_ticks: u64,
    /// Resident memory: VmRSS for the root; for a group, the sum of its
    /// processes' proportional shares (Pss), so that memory they share (e.g.
    /// Postgres' shared buffers) is counted once.
    pub rss_kb: u64,
    /// Peak resident memory (of the root process only; 0 for groups).
    pub peak_rss_kb: u64,
    pub processes: usize,
}

/// One reading of a process tree: the root, and its descendants summed by
/// executable name (`nats-server`, `postgres`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: Instant,
    pub root: Usage,
    pub descendants: BTreeMap<String, Usage>,
}

struct Stat {
    pid: u32,
    comm: String,
    ppid: u32,
    cpu_ticks: u64,
}

/// [`snapshot`] on a blocking thread: reading /proc (every process's stat,
/// each descendant's smaps) takes milliseconds that would otherwise stall the
/// WebSocket clients sharing a runtime thread, right as sending starts.
pub async fn snapshot_aside(root: Option<u32>) -> Option<Snapshot> {
    let root = root?;
    tokio::task::spawn_blocking(move || snapshot(root)).await.ok().flatten()
}

/// `None` when `root` does not exist (or this is not Linux).
pub fn snapshot(root: u32) -> Option<Snapshot> {
    let at = Instant::now();
    let root_stat = stat(root)?;
    let (rss_kb, peak_rss_kb) = memory(root);
    let root_usage = Usage { cpu_ticks: root_stat.cpu_ticks, rss_kb, peak_rss_kb, processes: 1 };

    let mut children: HashMap<u32, Vec<Stat>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(stat) = stat(pid) {
            children.entry(stat.ppid).or_default().push(stat);
        }
    }
    let mut descendants: BTreeMap<String, Usage> = BTreeMap::new();
    let mut pending = vec![root];
    while let Some(parent) = pending.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            let usage = descendants.entry(child.comm).or_default();
            usage.cpu_ticks += child.cpu_ticks;
            usage.rss_kb += proportional_kb(child.pid);
            usage.processes += 1;
            pending.push(child.pid);
        }
    }
    Some(Snapshot { at, root: root_usage, descendants })
}

/// Percent of one core used between two readings.
pub fn cpu_percent(before: &Usage, after: &Usage, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        return 0.0;
    }
    after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / TICKS_PER_SEC / seconds * 100.0
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so
    // split at the last `)`.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After comm: state(0) ppid(1) ... utime(11) stime(12).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat { pid, comm, ppid, cpu_ticks: utime + stime })
}

/// `(VmRSS, VmHWM)` in kB; zeros for a process that is gone (or a kernel thread).
fn memory(pid: u32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (0, 0);
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Pss in kB: the process's own pages plus its share of pages it shares.
fn proportional_kb(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn this_process_has_memory_and_a_parent() {
        let me = snapshot(std::process::id()).unwrap();
        assert!(me.root.rss_kb > 0 && me.root.peak_rss_kb >= me.root.rss_kb);
        assert!(proportional_kb(std::process::id()) > 0);
        assert!(stat(std::process::id()).unwrap().ppid > 0);
        assert!(load_average().is_some());
    }

    #[test]
    fn cpu_is_a_share_of_one_core() {
        let before = Usage { cpu_ticks: 100, ..Usage::default() };
        let after = Usage { cpu_ticks: 250, ..Usage::default() };
        assert!((cpu_percent(&before, &after, 1.0) - 150.0).abs() < 1e-9);
    }
}
