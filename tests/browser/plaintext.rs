//! The server sees only ciphertext: after a browser run, every plaintext and
//! file the scenario sent is looked for in everything the instance stored:
//! a data-only `pg_dump` of its database, every file of its nats-server's
//! JetStream store, and every blob of its file store. Each is looked for as
//! sent and as the API or a column would carry it (base64 at each of the
//! three alignments, base64url, hex), so a client that "encrypts" by merely
//! encoding is caught too.

use std::path::Path;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;

use super::harness::Sent;
use crate::support::app::TestApp;
use crate::support::temp_dir;

/// Shorter plaintexts would be found by chance.
const MIN_LEN: usize = 8;
/// Stretches of a file looked for: a chunk stored in the clear holds all of them.
const SAMPLE_LEN: usize = 48;
const SAMPLES_PER_FILE: usize = 16;

/// One thing not to find, and the byte strings that would betray it.
struct Needle {
    label: String,
    patterns: Vec<Vec<u8>>,
}

impl Needle {
    fn new(label: String, plain: &[u8]) -> Self {
        assert!(plain.len() >= MIN_LEN, "{label}: shorter than {MIN_LEN} bytes, it would be found by chance");
        let mut patterns = vec![plain.to_vec(), hex(plain).into_bytes()];
        // base64 of a text containing `plain` contains the encoding of its
        // whole 3-byte groups, for whichever offset `plain` starts at.
        for shift in 0..3 {
            let whole = &plain[shift..][..(plain.len() - shift) / 3 * 3];
            if whole.len() >= 6 {
                patterns.push(STANDARD.encode(whole).into_bytes());
                patterns.push(URL_SAFE.encode(whole).into_bytes());
            }
        }
        patterns.sort();
        patterns.dedup();
        Self { label, patterns }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stretches of `bytes` varied enough not to occur by chance (no runs of
/// zeros or padding), spread over the whole file.
fn samples(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.len() <= SAMPLE_LEN {
        return vec![bytes];
    }
    let step = (bytes.len() / SAMPLES_PER_FILE).max(1);
    (0..bytes.len() - SAMPLE_LEN)
        .step_by(step)
        .filter_map(|start| {
            // The first varied stretch from here on (within one step).
            (start..(start + step).min(bytes.len() - SAMPLE_LEN))
                .step_by(SAMPLE_LEN / 2)
                .map(|at| &bytes[at..at + SAMPLE_LEN])
                .find(|window| distinct(window) >= SAMPLE_LEN / 2)
        })
        .collect()
}

fn distinct(window: &[u8]) -> usize {
    let mut seen = [false; 256];
    window.iter().for_each(|b| seen[usize::from(*b)] = true);
    seen.iter().filter(|s| **s).count()
}

fn needles(sent: &Sent) -> Vec<Needle> {
    let mut needles: Vec<Needle> =
        sent.texts.iter().map(|text| Needle::new(format!("text {text:?}"), text.as_bytes())).collect();
    for file in &sent.files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (n, sample) in samples(&bytes).into_iter().enumerate() {
            needles.push(Needle::new(format!("file {} (sample {n})", file.display()), sample));
        }
    }
    needles
}

/// Where each sent thing was found: `(what, where)`, empty when nowhere.
pub async fn find_plaintext(app: &TestApp, sent: &Sent) -> Vec<(String, String)> {
    let needles = needles(sent);
    let patterns: Vec<(&Needle, &[u8])> =
        needles.iter().flat_map(|n| n.patterns.iter().map(move |p| (n, p.as_slice()))).collect();
    let matcher = AhoCorasick::new(patterns.iter().map(|(_, p)| p)).unwrap();
    let mut found = Vec::new();
    let mut search = |place: String, bytes: &[u8]| {
        for hit in matcher.find_overlapping_iter(bytes) {
            let entry = (patterns[hit.pattern().as_usize()].0.label.clone(), place.clone());
            if !found.contains(&entry) {
                found.push(entry);
            }
        }
    };
    search("Postgres (pg_dump --data-only)".to_owned(), &data_dump(&app.db.url));
    for file in files_under(&app.nats.store_dir()) {
        search(format!("JetStream store {}", file.display()), &std::fs::read(&file).unwrap_or_default());
    }
    let store = app.blob_store();
    let blobs: Vec<_> = store.list(None).map_ok(|meta| meta.location).try_collect().await.unwrap();
    for blob in blobs {
        let bytes = store.get(&blob).await.unwrap().bytes().await.unwrap();
        search(format!("blob store {blob}"), &bytes);
    }
    found
}

/// Fails naming each plaintext found and where; a run that recorded
/// nothing to look for fails too (the check would prove nothing).
pub async fn assert_no_plaintext(app: &TestApp, sent: &Sent) {
    assert!(
        !sent.texts.is_empty() || !sent.files.is_empty(),
        "nothing to look for: the scenario recorded no run.sent.text(..) or run.sent.file(..)"
    );
    let found = find_plaintext(app, sent).await;
    let report: Vec<String> = found.iter().map(|(what, place)| format!("{what} in {place}")).collect();
    assert!(report.is_empty(), "the server stored plaintext:\n  {}", report.join("\n  "));
}

/// A plain-SQL, data-only dump of the database.
fn data_dump(url: &str) -> Vec<u8> {
    let bin = ciphertalk_gateway::embedded::binaries::postgres_bin_dir(None).unwrap();
    let dir = temp_dir("dump");
    let file = dir.path().join("data.sql");
    let out = std::process::Command::new(bin.join("pg_dump"))
        .args(["--data-only", "--no-owner", "--file"])
        .arg(&file)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(&file).unwrap()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

mod can_fail {
    //! The check finds what a client stored in the clear, wherever it went.

    use super::*;
    use crate::files::{put_chunk, registered};
    use crate::support::app::spawn_app;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_and_a_file_stored_unencrypted_are_found_where_they_went() {
        let app = spawn_app().await;
        let (alice, bob) = (app.person("Alice").await, app.person("Bob").await);
        let room = app.group(&alice, &[&bob]).await;
        // The harness's `send` base64-encodes the text as its "ciphertext",
        // as a client that does not encrypt would.
        let text = "meet me at the old lighthouse at nine";
        app.send(&alice, &room, text).await;
        let file_bytes: Vec<u8> =
            (0..4096_u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let (_, urls) =
            registered(&app, &alice, &room, file_bytes.len() as u64, file_bytes.len() as u64).await;
        let (status, body) = put_chunk(&app, &urls[0], file_bytes.clone()).await;
        assert!(status.is_success(), "{status} {body}");
        let dir = temp_dir("sent");
        let file = dir.path().join("clear.bin");
        std::fs::write(&file, &file_bytes).unwrap();
        let never_sent = "a sentence nobody ever typed into this instance";

        let sent = Sent { texts: vec![text.to_owned(), never_sent.to_owned()], files: vec![file.clone()] };
        // The relay and the projections store it a moment later.
        let at = |found: &[(String, String)], what: &str, place: &str| {
            found.iter().any(|(w, p)| w.contains(what) && p.contains(place))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let found = loop {
            let found = find_plaintext(&app, &sent).await;
            let everywhere = at(&found, "lighthouse", "Postgres")
                && at(&found, "lighthouse", "JetStream")
                && at(&found, "clear.bin", "blob store");
            if everywhere || std::time::Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        for (what, place) in
            [("lighthouse", "Postgres"), ("lighthouse", "JetStream"), ("clear.bin", "blob store")]
        {
            assert!(at(&found, what, place), "{what} not found in {place}: {found:#?}");
        }
        assert!(!found.iter().any(|(what, _)| what.contains("nobody ever typed")), "{found:#?}");
        app.stop().await;
    }
}
