//! Sync throughput of the server against sled's own limit, measured in the same run:
//! - `limit`: the same document bytes (each document's JSON with its revision history) written
//!   as plain key/values to one sled tree, in the same batches, flushed after each batch. No
//!   store can write these documents durably faster than this; every other figure is printed
//!   as a ratio of it.
//! - `bulk_docs`: the sled store itself (`new_edits=false`, as replication writes), same
//!   batches; its flush is part of each call. The region database validates every document
//!   and keeps its figures index in the same transaction, so the documents are valid
//!   inspections (the shared fixtures) and this is the real write path.
//! - `push` / `pull`: the shared replicator through HTTP against the release server on
//!   loopback (the replicator's client side, with an in-memory store, is this process).
//! - the custody log's cost: `bulk_docs` again with the log switched off in this process, and
//!   the HTTP push again against a second server started with `CHASKI_CUSTODY_LOG=off`, each
//!   printed with the ratio log on / log off (the share of the rate the log leaves).
//! - the server's peak memory (`VmHWM`).
//!
//! `cargo bench -p chaski-server --bench sync` (sizes: `CHASKI_BENCH_SIZES=10000,100000`,
//! batches: `CHASKI_BENCH_BATCHES=100,500`, another server binary: `CHASKI_BIN`).
//!
//! The server runs as its own process (the release binary), so its peak memory (`VmHWM`) is
//! its alone, and the client side (the replicator and an in-memory store) is this process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaski_server::db::{Databases, DbName};
use chaski_shared::domain::fixtures;
use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::store::GetOptions;
use chaski_shared::{Document, LocalPeer, MemoryStore, ReplicationOptions, Replicator, Store};
use serde_json::{json, Value};

const ADMIN: &str = "bench.admin";
const PASSWORD: &str = "benchmarks are not tests";
const DB: &str = "madre-de-dios";
const BATCHES: [usize; 2] = [100, 500];

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The release server on `data_dir`; `custody_log: false` starts it with the custody log
    /// off (`CHASKI_CUSTODY_LOG=off`, only ever to measure the log's cost).
    fn start(data_dir: &Path, custody_log: bool) -> Server {
        // `CHASKI_BIN` runs another build of the server (e.g. a copy from before a change).
        let bin =
            std::env::var("CHASKI_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_chaski").into());
        let bin = bin.as_str();
        let added = Command::new(bin)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["user", "add", ADMIN, "--role", "admin"])
            .env("CHASKI_PASSWORD", PASSWORD)
            .output()
            .expect("run chaski user add");
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        let mut child = Command::new(bin)
            .args(["--bind", "127.0.0.1:0", "--static-dir", "/nonexistent"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "warn,chaski_server::startup=info")
            .env("CHASKI_CUSTODY_LOG", if custody_log { "on" } else { "off" })
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chaski");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not start");
        Server { child, url }
    }

    /// Peak resident memory of the server process, in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

/// Source documents: `n` valid inspections of about 1 KB, with their revision histories as
/// replication would send them.
async fn source(n: usize) -> (MemoryStore, Vec<Document>) {
    let store = MemoryStore::new();
    for chunk in (0..n as u64).collect::<Vec<_>>().chunks(1000) {
        let docs = chunk
            .iter()
            .map(|&i| fixtures::doc(fixtures::inspection_json(i)))
            .collect();
        store.bulk_docs(docs, true).await.expect("fill the source");
    }
    let mut replicated = Vec::with_capacity(n);
    let opts = GetOptions {
        revs: true,
        ..GetOptions::default()
    };
    for i in 0..n as u64 {
        replicated.push(
            store
                .get(&fixtures::inspection_id(i), &opts)
                .await
                .expect("source doc"),
        );
    }
    (store, replicated)
}

async fn login(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .post(format!("{url}/api/login"))
        .json(&json!({ "name": ADMIN, "password": PASSWORD, "device": "bench" }))
        .send()
        .await
        .expect("login");
    let body: Value = response.json().await.expect("login answer");
    body["token"].as_str().expect("a token").to_owned()
}

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

/// A comma-separated list of numbers from the environment, or `default`.
fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// sled's own limit: `values` written as plain key/values to one tree, `batch` at a time in
/// one `apply_batch`, each batch flushed before the next, as a store must before it answers.
async fn sled_limit(dir: &Path, values: &[(Vec<u8>, Vec<u8>)], batch: usize) -> f64 {
    let db = sled::open(dir).expect("sled");
    let tree = db.open_tree("limit").expect("tree");
    let started = Instant::now();
    for chunk in values.chunks(batch) {
        let mut b = sled::Batch::default();
        for (key, value) in chunk {
            b.insert(key.as_slice(), value.as_slice());
        }
        tree.apply_batch(b).expect("apply batch");
        db.flush_async().await.expect("flush");
    }
    rate(values.len(), started.elapsed())
}

fn options(batch: usize) -> ReplicationOptions {
    ReplicationOptions {
        batch_size: batch,
        ..ReplicationOptions::default()
    }
}

/// The sled store itself in a fresh folder: `docs` written with `new_edits=false`, `batch` at a
/// time; its flush is part of each call.
async fn store_rate(dir: &Path, docs: &[Document], batch: usize) -> f64 {
    let db = sled::open(dir).expect("sled");
    let databases = Databases::open(&db).expect("registry");
    let name = DbName::parse(DB).expect("db name");
    let sled_store = databases.create(&name).await.expect("create db");
    let started = Instant::now();
    for chunk in docs.chunks(batch) {
        let results = sled_store
            .bulk_docs(chunk.to_vec(), false)
            .await
            .expect("raw write");
        assert!(results.iter().all(|r| r.is_ok()));
    }
    rate(docs.len(), started.elapsed())
}

/// Starts the release server on `dir` with the bench's database created, and a peer for it.
async fn start_with_db(dir: &Path, custody_log: bool) -> (Server, HttpPeer) {
    let server = Server::start(dir, custody_log);
    let client = reqwest::Client::new();
    let token = login(&client, &server.url).await;
    let created = client
        .put(format!("{}/db/{DB}", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("create db");
    assert_eq!(created.status(), 201);
    let remote = HttpPeer::new(format!("{}/db/{DB}", server.url))
        .expect("url")
        .with_auth(Auth::Bearer(token));
    (server, remote)
}

/// Pushes every document of `source` to `remote`; docs/s.
async fn push(source: &LocalPeer<MemoryStore>, remote: &HttpPeer, batch: usize, n: usize) -> f64 {
    let started = Instant::now();
    let pushed = Replicator::new(source, remote, options(batch))
        .run_once()
        .await
        .expect("push");
    let took = started.elapsed();
    assert_eq!(pushed.docs_written as usize, n, "push wrote everything");
    rate(n, took)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes = env_list("CHASKI_BENCH_SIZES", &[10_000, 100_000]);
    let batches = env_list("CHASKI_BENCH_BATCHES", &BATCHES);
    let sample = serde_json::to_vec(&fixtures::inspection_json(1))
        .map(|v| v.len())
        .unwrap_or(0);
    println!("documents: valid inspections of {sample} bytes of JSON; server: release binary on 127.0.0.1");
    println!("each rate in docs/s, with its ratio of sled's limit in the same run (×)");
    println!(
        "{:>8} {:>6} {:>10} {:>17} {:>17} {:>17} {:>9} {:>20} {:>20}",
        "docs",
        "batch",
        "limit/s",
        "bulk_docs/s (×)",
        "push/s (×)",
        "pull/s (×)",
        "peak MiB",
        "bulk_docs log off/s",
        "push log off/s"
    );
    println!("(the log-off columns: docs/s, then (log on / log off), the share the log leaves)");
    for &n in &sizes {
        let (store, replicated) = source(n).await;
        // The limit writes the very bytes a replicator sends: each document's JSON.
        let values: Vec<(Vec<u8>, Vec<u8>)> = replicated
            .iter()
            .map(|d| {
                let bytes = serde_json::to_vec(&d.to_json()).expect("document JSON");
                (d.id.as_str().as_bytes().to_vec(), bytes)
            })
            .collect();
        let source_peer = LocalPeer::new("bench-source", store);
        for &batch in &batches {
            let temp = tempfile::tempdir().expect("temp dir");
            let limit = sled_limit(&temp.path().join("limit"), &values, batch).await;
            // The sled store itself, same batches, each flushed before the next; then the same
            // with the custody log off (the switch is process-wide and read on each write).
            let raw = store_rate(&temp.path().join("raw"), &replicated, batch).await;
            chaski_server::custody::set_enabled(false);
            let raw_off = store_rate(&temp.path().join("raw-off"), &replicated, batch).await;
            chaski_server::custody::set_enabled(true);

            let (server, remote) = start_with_db(&temp.path().join("server"), true).await;
            let push_rate = push(&source_peer, &remote, batch, n).await;
            let push_off = {
                let (_server, remote) = start_with_db(&temp.path().join("server-off"), false).await;
                push(&source_peer, &remote, batch, n).await
            };

            let target = LocalPeer::new("bench-target", MemoryStore::new());
            let started = Instant::now();
            let pull = Replicator::new(&remote, &target, options(batch))
                .run_once()
                .await
                .expect("pull");
            let pull_rate = rate(n, started.elapsed());
            assert_eq!(pull.docs_written as usize, n, "pull read everything");

            let cell = |r: f64| format!("{r:.0} ({:.2})", r / limit);
            println!(
                "{n:>8} {batch:>6} {limit:>10.0} {:>17} {:>17} {:>17} {:>9.1} {:>20} {:>20}",
                cell(raw),
                cell(push_rate),
                cell(pull_rate),
                server.peak_mib(),
                format!("{raw_off:.0} ({:.2})", raw / raw_off),
                format!("{push_off:.0} ({:.2})", push_rate / push_off),
            );
        }
    }
}
