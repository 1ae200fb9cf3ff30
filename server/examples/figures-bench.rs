//! Measures the figures index (issue 9) on a region loaded by the `office-load` example:
//! the figures query against the layer below (sled scanning the same rows), a rebuild from
//! scratch, and, through the real server, `GET /api/figures` and the server's peak memory
//! while it streams every inspection as CSV.
//!
//! ```text
//! cargo run --release -p chaski-server --example office-load -- \
//!     --data /tmp/chaski-figures --db loreto --inspections 100000
//! cargo run --release -p chaski-server --example figures-bench -- \
//!     --data /tmp/chaski-figures --db loreto
//! ```
//!
//! The server must not be running on the folder (sled allows one process).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chaski_server::auth::Role;
use chaski_server::config::Config;
use chaski_server::db::Databases;
use chaski_server::figures::report::{FiguresQuery, Report};
use chaski_server::startup::Application;
use chaski_server::storage::Storage;
use chaski_shared::domain::Region;

const RUNS: usize = 21;

fn parse_args() -> Result<(PathBuf, String), String> {
    let mut data = None;
    let mut db = "loreto".to_owned();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--data" => data = it.next().map(PathBuf::from),
            "--db" => db = it.next().ok_or("--db needs a value")?,
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other}: use --data DIR [--db loreto]"
                ))
            }
        }
    }
    Ok((
        data.ok_or("--data DIR is required (loaded by the office-load example)")?,
        db,
    ))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and maximum of `runs` timings of `work`, in milliseconds.
fn time(mut work: impl FnMut()) -> (f64, f64) {
    let mut took: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            work();
            ms(started.elapsed())
        })
        .collect();
    took.sort_by(f64::total_cmp);
    (took[RUNS / 2], took[RUNS - 1])
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak RSS (Linux ≥ 4.0), so that the next `VmHWM` is the peak from now on.
fn reset_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

const QUERIES: [(&str, &[(&str, &str)]); 5] = [
    ("totals", &[]),
    ("by=sector", &[("by", "sector")]),
    ("by=district", &[("by", "district")]),
    (
        "by=month, from=2025-06-01, to=2026-05-31",
        &[
            ("by", "month"),
            ("from", "2025-06-01"),
            ("to", "2026-05-31"),
        ],
    ),
    (
        "public=1&by=district",
        &[("public", "1"), ("by", "district")],
    ),
];

#[tokio::main]
async fn main() -> Result<(), String> {
    let (data, db) = parse_args()?;
    let region = Region::from_db_name(&db).ok_or("--db must be a region")?;
    {
        let storage = Storage::open(&data).map_err(|e| format!("open {data:?}: {e}"))?;
        let databases = Databases::open(storage.sled()).map_err(|e| e.to_string())?;
        let store = databases.require(&db).map_err(|e| e.to_string())?;

        // The rows are read once first, so that the cache's own memory shows apart from
        // sled's page cache of the same rows.
        let rss_start = vm_rss_kb();
        let _ = store
            .figure_rows()
            .map(|rows| std::hint::black_box(rows.len()));
        let rss_before = vm_rss_kb();
        println!(
            "process RSS {} MB at start, {} MB after sled read the index rows once",
            rss_start / 1024,
            rss_before / 1024
        );
        let started = Instant::now();
        let cases = store
            .with_figures(|f| f.inspection_count())
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        println!(
            "figures cache loaded from the index rows: {cases} submitted inspections in {:.0} ms \
             (process RSS {} → {} MB)",
            ms(started.elapsed()),
            rss_before / 1024,
            vm_rss_kb() / 1024
        );

        let (rows, bytes) = {
            let rows = store.figure_rows().map_err(|e| e.to_string())?;
            (
                rows.len(),
                rows.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
            )
        };
        println!("index rows: {rows}, {:.1} MB", bytes as f64 / 1e6);
        let (scan_med, scan_max) = time(|| {
            let mut n = 0usize;
            let _ = store.figure_rows().map(|rows| n += rows.len());
            std::hint::black_box(n);
        });
        println!("baseline, sled scanning the index rows (no decoding): median {scan_med:.1} ms, max {scan_max:.1} ms");
        let (pass_med, pass_max) = time(|| {
            let mut n = 0u64;
            let _ = store.with_figures(|f| {
                for (_, facts, _) in f.cases() {
                    n += facts.people.len() as u64;
                }
            });
            std::hint::black_box(n);
        });
        println!("baseline, one pass over the cached cases: median {pass_med:.1} ms, max {pass_max:.1} ms");

        for (name, pairs) in QUERIES {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let query = FiguresQuery::parse(&pairs, true)?;
            let regions = [region];
            let now = 1_800_000_000_000;
            let (med, max) = time(|| {
                let mut report = Report::new(&query, &regions);
                let _ = store.with_figures(|f| report.add_region(&query, region, f, now));
                std::hint::black_box(report.to_json(&query, &regions));
            });
            println!("figures {name}: median {med:.1} ms, max {max:.1} ms");
        }

        let started = Instant::now();
        let counted = store.rebuild_figures().map_err(|e| e.to_string())?;
        let rebuild = started.elapsed();
        let started = Instant::now();
        store
            .with_figures(|f| f.inspection_count())
            .map_err(|e| e.to_string())?;
        println!(
            "rebuild from scratch: {counted} documents in {:.1} s, then the cache in {:.0} ms",
            rebuild.as_secs_f64(),
            ms(started.elapsed())
        );
        store.flush_now().await.map_err(|e| e.to_string())?;
    }

    // The real server on the same folder.
    let static_dir = std::env::temp_dir().join("chaski-figures-bench-dist");
    let _ = std::fs::create_dir_all(&static_dir);
    reset_hwm();
    let app = Application::build(Config::ephemeral(data.clone(), static_dir))
        .await
        .map_err(|e| e.to_string())?;
    let address = format!("http://{}", app.local_addr());
    let state = app.state();
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let name = format!("bench-admin-{}", std::process::id());
    let _ = state
        .accounts
        .create_user(
            &name,
            "Chaski figures benchmark 2026!",
            Role::Admin,
            Vec::<String>::new(),
        )
        .await;
    let token = state
        .accounts
        .issue_token(&name, "bench")
        .await
        .map_err(|e| e.to_string())?
        .token;
    let client = reqwest::Client::new();
    let url = format!("{address}/api/figures?region={db}&by=district");
    let started = Instant::now();
    let first = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = first.status();
    first.bytes().await.map_err(|e| e.to_string())?;
    println!(
        "GET /api/figures?by=district, first after start: {status} in {:.0} ms",
        ms(started.elapsed())
    );
    let mut took = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let r = client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        r.bytes().await.map_err(|e| e.to_string())?;
        took.push(ms(started.elapsed()));
    }
    took.sort_by(f64::total_cmp);
    println!(
        "GET /api/figures?by=district over HTTP: median {:.1} ms, max {:.1} ms",
        took[RUNS / 2],
        took[RUNS - 1]
    );

    for path in ["inspections.csv", "inspections.geojson", "people.csv"] {
        let before = vm_rss_kb();
        reset_hwm();
        let started = Instant::now();
        let mut response = client
            .get(format!("{address}/api/export/{path}?region={db}"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let mut bytes = 0usize;
        let mut lines = 0usize;
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        println!(
            "export {path}: {:.1} MB, {lines} lines in {:.1} s; process RSS before {} MB, \
             peak during {} MB",
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            before / 1024,
            vm_hwm_kb() / 1024
        );
    }
    server.abort();
    Ok(())
}
