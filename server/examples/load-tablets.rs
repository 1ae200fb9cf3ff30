//! The 100-tablet load test (issue 13, goal 5): many tablets syncing with one server at once.
//!
//! ```text
//! cargo run --release -p chaski-server --example load-tablets
//! cargo run --release -p chaski-server --example load-tablets -- \
//!     --tablets 100 --seed 2000 --push 200 --batch 100
//! ```
//!
//! For each run (first **one tablet alone**, the baseline, then **N tablets at once**), on a
//! fresh sled folder:
//! 1. the folder is prepared with the server's own library while no server runs: the region
//!    database `madre-de-dios`, `--seed` valid inspections written through the real store
//!    (`SledStore::bulk_docs`), and one inspector account per tablet with its own device
//!    token (`Accounts::issue_token`, what `POST /api/login` hands a tablet);
//! 2. the server starts as its own process on `127.0.0.1:0`: this very program run again as
//!    the `chaski` binary (`CHASKI_LOAD_AS_SERVER=1`; the binary's `main` is
//!    `chaski_server::cli::main`, so it is the same code), or `CHASKI_BIN` if set;
//! 3. every tablet (its own in-memory store, its own HTTP client, its own bearer token) holds
//!    `--push` new inspections; all start together and each runs the shared replicator
//!    (`chaski_shared::Replicator` with `HttpPeer`): a **pull** of the region (the seeded
//!    documents), then, once every tablet has pulled, a **push** of its own. A tablet's time
//!    is its pull plus its push, without the wait between them.
//!    `--app-order` runs what the app's sync loop runs instead, with no wait: push, pull, push
//!    again.
//!
//! The two phases bound the work: with pushes during the pulls, every tablet's pull would also
//! carry the other tablets' pushes (up to 100 × 22,000 documents instead of 100 × 2,000, and
//! as many in the memory of this process). `--app-order` does exactly that: use it with fewer
//! tablets.
//!
//! Every replication must end without an error and without a refused document, every tablet
//! must hold every seeded document, and the server must end with exactly seed + N × push
//! documents; anything else stops the program with a message and a non-zero status.
//!
//! Printed: the time per tablet (p50, p99, max; p99 is the nearest rank, so with 100 tablets
//! the second slowest), the whole run's wall time, and the server process's peak resident
//! memory (`VmHWM` from `/proc/<pid>/status`) after the seeding and at the end, plus its
//! resident memory sampled every 100 ms during the run (`VmRSS`, the peak seen).
//!
//! Its unit test is a smoke run (5 tablets × 20 documents, 50 seeded) with the server in the
//! same process, which `cargo test -p chaski-server --example load-tablets` runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaski_server::auth::{Accounts, Role};
use chaski_server::db::{Databases, DbName};
use chaski_server::storage::Storage;
use chaski_shared::domain::fixtures;
use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::{Document, Store};
use chaski_shared::{LocalPeer, MemoryStore, ReplicationOptions, ReplicationReport, Replicator};
use serde_json::Value;

const DB: &str = "madre-de-dios";
const PASSWORD: &str = "tablets in the rainforest 2026";
/// Set in the environment of the copy of this program that runs as the server.
const AS_SERVER: &str = "CHASKI_LOAD_AS_SERVER";
/// Inspection numbers of the tablets' new documents start here (seeded ones below it).
const TABLET_BASE: u64 = 10_000_000;

#[derive(Clone, Debug)]
struct Args {
    tablets: usize,
    seed: u64,
    push: u64,
    batch: usize,
    app_order: bool,
    baseline: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            tablets: 100,
            seed: 2_000,
            push: 200,
            batch: 100,
            app_order: false,
            baseline: true,
        }
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    fn number<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, String> {
        v.ok_or(format!("{name} needs a value"))?
            .parse()
            .map_err(|_| format!("{name} must be a whole number"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--tablets" => args.tablets = number("--tablets", it.next())?,
            "--seed" => args.seed = number("--seed", it.next())?,
            "--push" => args.push = number("--push", it.next())?,
            "--batch" => args.batch = number("--batch", it.next())?,
            "--app-order" => args.app_order = true,
            "--no-baseline" => args.baseline = false,
            "-h" | "--help" => {
                return Err(
                    "usage: load-tablets [--tablets 100] [--seed 2000] [--push 200] \
                            [--batch 100] [--app-order] [--no-baseline]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}; see --help")),
        }
    }
    if args.tablets == 0 || args.batch == 0 {
        return Err("--tablets and --batch must be at least 1".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    if std::env::var_os(AS_SERVER).is_some() {
        return chaski_server::cli::main();
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load-tablets: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load-tablets: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    println!(
        "{} tablets, {} seeded inspections, {} new per tablet, batch {}, order: {}; server: a \
         separate process on 127.0.0.1, fresh sled folder per run",
        args.tablets,
        args.seed,
        args.push,
        args.batch,
        if args.app_order {
            "push, pull, push (the app's), no wait"
        } else {
            "every tablet pulls, then every tablet pushes"
        }
    );
    if args.baseline {
        let alone = Args {
            tablets: 1,
            ..args.clone()
        };
        let outcome = scenario(&alone, ServerKind::Process).await?;
        outcome.print("baseline, 1 tablet alone");
    }
    let outcome = scenario(&args, ServerKind::Process).await?;
    outcome.print(&format!("{} tablets at once", args.tablets));
    Ok(())
}

/// Where the server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerKind {
    /// Its own process (this program as `chaski`, or `CHASKI_BIN`): its memory is its own.
    Process,
    /// A task of this process (the smoke test): no memory figure.
    #[cfg_attr(not(test), allow(dead_code))]
    InProcess,
}

struct Outcome {
    /// Time per tablet (pull + push), sorted; and of the pulls and pushes alone.
    times: Vec<Duration>,
    pull_times: Vec<Duration>,
    push_times: Vec<Duration>,
    wall: Duration,
    pulled_min: u64,
    pulled_max: u64,
    /// Server peak resident memory (VmHWM) after the seeding, at the end; VmRSS peak sampled.
    hwm_seeded_mib: f64,
    hwm_end_mib: f64,
    rss_peak_mib: f64,
    docs_on_server: u64,
}

impl Outcome {
    fn print(&self, title: &str) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{title}:");
        println!(
            "  time per tablet: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; all done in {:.1} s",
            ms(percentile(&self.times, 50)),
            ms(percentile(&self.times, 99)),
            ms(*self.times.last().unwrap_or(&Duration::ZERO)),
            self.wall.as_secs_f64()
        );
        println!(
            "  of which pull: p50 {:.0} ms, p99 {:.0} ms; push: p50 {:.0} ms, p99 {:.0} ms",
            ms(percentile(&self.pull_times, 50)),
            ms(percentile(&self.pull_times, 99)),
            ms(percentile(&self.push_times, 50)),
            ms(percentile(&self.push_times, 99)),
        );
        println!(
            "  pulled per tablet: {}–{} documents; server holds {} documents",
            self.pulled_min, self.pulled_max, self.docs_on_server
        );
        if self.hwm_end_mib.is_nan() {
            println!("  server memory: not measured (server in this process)");
        } else {
            println!(
                "  server peak RSS (VmHWM): {:.1} MiB after the seeding, {:.1} MiB at the end \
                 (VmRSS sampled every 100 ms: peak {:.1} MiB)",
                self.hwm_seeded_mib, self.hwm_end_mib, self.rss_peak_mib
            );
        }
    }
}

/// Nearest-rank percentile of sorted `values`.
fn percentile(values: &[Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * values.len()).div_ceil(100).max(1);
    values[rank.min(values.len()) - 1]
}

/// The folder before the server starts: database, seeded inspections, one inspector and one
/// device token per tablet. Returns the tokens. Everything is flushed and closed on return.
async fn prepare(dir: &Path, args: &Args) -> Result<Vec<String>, String> {
    let storage = Storage::open(dir).map_err(|e| format!("open {}: {e}", dir.display()))?;
    let databases = Databases::open(storage.sled()).map_err(|e| e.to_string())?;
    let name = DbName::parse(DB).map_err(|e| e.to_string())?;
    databases.ensure(&name).await.map_err(|e| e.to_string())?;
    let store = databases.require(DB).map_err(|e| e.to_string())?;
    let ids: Vec<u64> = (0..args.seed).collect();
    for chunk in ids.chunks(500) {
        let docs = chunk
            .iter()
            .map(|&n| fixtures::doc(fixtures::inspection_json(n)))
            .collect();
        let results = store
            .bulk_docs(docs, true)
            .await
            .map_err(|e| format!("seed: {e}"))?;
        if let Some(refused) = results.iter().find(|r| !r.is_ok()) {
            return Err(format!(
                "seed: {} was refused: {:?}",
                refused.id, refused.error
            ));
        }
    }
    let accounts =
        Accounts::open(&storage, Duration::from_secs(24 * 3600)).map_err(|e| e.to_string())?;
    let mut tokens = Vec::with_capacity(args.tablets);
    for t in 0..args.tablets {
        let user = format!("inspector.{t}");
        accounts
            .create_user(&user, PASSWORD, Role::Inspector, [DB])
            .await
            .map_err(|e| format!("create {user}: {e}"))?;
        let issued = accounts
            .issue_token(&user, &format!("tablet-{t}"))
            .await
            .map_err(|e| format!("token for {user}: {e}"))?;
        tokens.push(issued.token);
    }
    storage.flush().await.map_err(|e| e.to_string())?;
    Ok(tokens)
}

/// A running server, stopped on drop.
enum Server {
    Process {
        child: Child,
        url: String,
    },
    InProcess {
        url: String,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: Option<tokio::task::JoinHandle<()>>,
    },
}

impl Drop for Server {
    fn drop(&mut self) {
        match self {
            Server::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Server::InProcess { stop, .. } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
}

impl Server {
    async fn start(kind: ServerKind, dir: &Path) -> Result<Server, String> {
        match kind {
            ServerKind::Process => Self::process(dir),
            ServerKind::InProcess => Self::in_process(dir).await,
        }
    }

    fn process(dir: &Path) -> Result<Server, String> {
        use std::io::{BufRead, BufReader};
        let mut cmd = match std::env::var("CHASKI_BIN") {
            Ok(bin) => Command::new(bin),
            Err(_) => {
                let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
                let mut cmd = Command::new(me);
                cmd.env(AS_SERVER, "1");
                cmd
            }
        };
        cmd.args(["--bind", "127.0.0.1:0", "--static-dir", "/nonexistent"])
            .arg("--data-dir")
            .arg(dir)
            .env("RUST_LOG", "warn,chaski_server::startup=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| format!("start the server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => Ok(Server::Process { child, url }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("the server did not say where it listens within 30 s".into())
            }
        }
    }

    async fn in_process(dir: &Path) -> Result<Server, String> {
        let config = chaski_server::config::Config::ephemeral(
            dir.to_path_buf(),
            PathBuf::from("/nonexistent"),
        );
        let app = chaski_server::startup::Application::build(config)
            .await
            .map_err(|e| e.to_string())?;
        let url = format!("http://{}", app.local_addr());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .run_until_stopped(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Server::InProcess {
            url,
            stop: Some(tx),
            task: Some(task),
        })
    }

    fn url(&self) -> &str {
        match self {
            Server::Process { url, .. } | Server::InProcess { url, .. } => url,
        }
    }

    fn pid(&self) -> Option<u32> {
        match self {
            Server::Process { child, .. } => Some(child.id()),
            Server::InProcess { .. } => None,
        }
    }

    /// Stops an in-process server and waits until it has flushed and let go of the folder.
    async fn stop(mut self) {
        if let Server::InProcess { stop, task, .. } = &mut self {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
            if let Some(task) = task.take() {
                let _ = task.await;
            }
        }
    }
}

/// `VmHWM` or `VmRSS` of process `pid`, in MiB (NaN when it cannot be read).
fn proc_mib(pid: Option<u32>, field: &str) -> f64 {
    let Some(pid) = pid else { return f64::NAN };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A tablet's local store with `count` new inspections, made on the tablet (`new_edits`).
async fn tablet_store(t: usize, count: u64) -> Result<MemoryStore, String> {
    let store = MemoryStore::new();
    let first = TABLET_BASE + t as u64 * count;
    let docs: Vec<Document> = (first..first + count)
        .map(|n| fixtures::doc(fixtures::inspection_json(n)))
        .collect();
    let results = store
        .bulk_docs(docs, true)
        .await
        .map_err(|e| format!("tablet {t}: local write: {e}"))?;
    if results.iter().any(|r| !r.is_ok()) {
        return Err(format!("tablet {t}: a local write failed"));
    }
    Ok(store)
}

/// What one replication must have done: no error, no refused document.
fn check_report(t: usize, what: &str, report: &ReplicationReport) -> Result<(), String> {
    if report.doc_write_failures > 0 || !report.failures.is_empty() {
        return Err(format!(
            "tablet {t}: {what}: {} documents refused, first: {:?}",
            report.doc_write_failures,
            report.failures.first()
        ));
    }
    Ok(())
}

/// One tablet's times: its pull (in `--app-order`, the first push and the pull), its push.
struct Timing {
    pull: Duration,
    push: Duration,
    pulled: u64,
}

/// One tablet's sync; returns its time (without the wait between the phases) and the
/// documents its pull wrote locally. `between`: every tablet's pull ends before any push.
async fn tablet(
    t: usize,
    url: String,
    token: String,
    local: MemoryStore,
    args: Args,
    start: Arc<tokio::sync::Barrier>,
    between: Option<Arc<tokio::sync::Barrier>>,
) -> Result<Timing, String> {
    // Each tablet its own connection pool (`HttpPeer::new` makes one, with its idle timeout:
    // `chaski_shared::http::POOL_IDLE_TIMEOUT`). A tablet that cannot make one still meets the
    // others at both barriers, so that it never holds them.
    let remote = HttpPeer::new(format!("{url}/db/{DB}")).map(|p| p.with_auth(Auth::Bearer(token)));
    start.wait().await;
    let remote = match remote {
        Ok(remote) => remote,
        Err(e) => {
            if let Some(between) = between {
                between.wait().await;
            }
            return Err(format!("tablet {t}: {e}"));
        }
    };
    let local = LocalPeer::new(format!("tablet-{t}"), local);
    let options = || ReplicationOptions {
        batch_size: args.batch,
        ..ReplicationOptions::default()
    };
    let push = Replicator::new(&local, &remote, options());
    let pull = Replicator::new(&remote, &local, options());
    let push_once = || async {
        let report = push
            .run_once()
            .await
            .map_err(|e| format!("tablet {t}: push: {e}"))?;
        check_report(t, "push", &report)?;
        Ok::<_, String>(report.docs_written)
    };
    let started = Instant::now();
    let mut pushed = 0;
    if args.app_order {
        pushed += push_once().await?;
    }
    let pulled = pull.run_once().await;
    let pull_took = started.elapsed();
    if let Some(between) = between {
        // Reached whatever the pull did, so that a failed tablet never holds the others.
        between.wait().await;
    }
    let pulled = pulled.map_err(|e| format!("tablet {t}: pull: {e}"))?;
    check_report(t, "pull", &pulled)?;
    let pushing = Instant::now();
    pushed += push_once().await?;
    let push_took = pushing.elapsed();
    if pushed != args.push {
        return Err(format!(
            "tablet {t}: pushed {pushed} documents, expected {}",
            args.push
        ));
    }
    if pulled.docs_written < args.seed {
        return Err(format!(
            "tablet {t}: pulled {} documents, fewer than the {} seeded",
            pulled.docs_written, args.seed
        ));
    }
    // Every seeded document is on the tablet.
    let held: std::collections::HashSet<_> = local.store().doc_ids().into_iter().collect();
    if let Some(n) = (0..args.seed).find(|&n| !held.contains(&fixtures::inspection_id(n))) {
        return Err(format!(
            "tablet {t}: seeded {} missing after the pull",
            fixtures::inspection_id(n)
        ));
    }
    Ok(Timing {
        pull: pull_took,
        push: push_took,
        pulled: pulled.docs_written,
    })
}

async fn scenario(args: &Args, kind: ServerKind) -> Result<Outcome, String> {
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir: PathBuf = temp.path().join("data");
    let tokens = prepare(&dir, args).await?;
    let check_token = tokens.first().cloned().unwrap_or_default();
    let server = Server::start(kind, &dir).await?;
    let pid = server.pid();
    let url = server.url().to_owned();
    let hwm_seeded_mib = proc_mib(pid, "VmHWM:");

    // Sample the server's VmRSS while the tablets run.
    let sampling = Arc::new(AtomicBool::new(true));
    let rss_peak_kib = Arc::new(AtomicU64::new(0));
    let sampler = {
        let sampling = sampling.clone();
        let rss_peak_kib = rss_peak_kib.clone();
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                let mib = proc_mib(pid, "VmRSS:");
                if mib.is_finite() {
                    rss_peak_kib.fetch_max((mib * 1024.0) as u64, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let mut locals = Vec::with_capacity(args.tablets);
    for t in 0..args.tablets {
        locals.push(tablet_store(t, args.push).await?);
    }
    let start = Arc::new(tokio::sync::Barrier::new(args.tablets + 1));
    let between = (!args.app_order).then(|| Arc::new(tokio::sync::Barrier::new(args.tablets)));
    let mut tasks = Vec::with_capacity(args.tablets);
    for (t, (local, token)) in locals.into_iter().zip(tokens).enumerate() {
        tasks.push(tokio::spawn(tablet(
            t,
            url.clone(),
            token,
            local,
            args.clone(),
            start.clone(),
            between.clone(),
        )));
    }
    start.wait().await;
    let started = Instant::now();
    let mut times = Vec::with_capacity(args.tablets);
    let (mut pull_times, mut push_times) = (Vec::new(), Vec::new());
    let mut pulled = Vec::with_capacity(args.tablets);
    let mut errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(timing)) => {
                times.push(timing.pull + timing.push);
                pull_times.push(timing.pull);
                push_times.push(timing.push);
                pulled.push(timing.pulled);
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("a tablet task failed: {e}")),
        }
    }
    let wall = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let hwm_end_mib = proc_mib(pid, "VmHWM:");
    if !errors.is_empty() {
        return Err(format!(
            "{} of {} tablets failed; first: {}",
            errors.len(),
            args.tablets,
            errors[0]
        ));
    }
    let docs_on_server = doc_count(&url, &check_token).await?;
    let expected = args.seed + args.tablets as u64 * args.push;
    if docs_on_server != expected {
        return Err(format!(
            "the server holds {docs_on_server} documents, expected {expected}"
        ));
    }
    server.stop().await;
    times.sort();
    pull_times.sort();
    push_times.sort();
    Ok(Outcome {
        times,
        pull_times,
        push_times,
        wall,
        pulled_min: pulled.iter().copied().min().unwrap_or(0),
        pulled_max: pulled.iter().copied().max().unwrap_or(0),
        hwm_seeded_mib,
        hwm_end_mib,
        rss_peak_mib: rss_peak_kib.load(Ordering::Relaxed) as f64 / 1024.0,
        docs_on_server,
    })
}

/// The database's `doc_count` (`GET /db/{db}`, with a tablet's token).
async fn doc_count(url: &str, token: &str) -> Result<u64, String> {
    let info: Value = reqwest::Client::new()
        .get(format!("{url}/db/{DB}"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("database info: {e}"))?
        .json()
        .await
        .map_err(|e| format!("database info: {e}"))?;
    info["doc_count"]
        .as_u64()
        .ok_or_else(|| format!("no doc_count in the database info: {info}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_load_completes_with_every_document_on_every_side() {
        let args = Args {
            tablets: 5,
            seed: 50,
            push: 20,
            batch: 10,
            app_order: false,
            baseline: false,
        };
        let outcome = scenario(&args, ServerKind::InProcess).await.expect("load");
        assert_eq!(outcome.times.len(), 5);
        assert!(outcome.pulled_min >= 50, "{}", outcome.pulled_min);
        assert_eq!(outcome.docs_on_server, 50 + 5 * 20);
        let app = Args {
            app_order: true,
            ..args
        };
        let outcome = scenario(&app, ServerKind::InProcess)
            .await
            .expect("app order");
        assert_eq!(outcome.docs_on_server, 50 + 5 * 20);
    }
}
