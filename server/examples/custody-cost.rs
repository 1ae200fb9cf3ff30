//! The cost of the custody log on writes: the same documents written into the sled store
//! (as `_bulk_docs` does, each batch flushed before the next), with the log on and off.
//!
//! `cargo run --release -p chaski-server --example custody-cost` (`CHASKI_BENCH_N=5000`).
//! Batches of 1 (a tablet saving one document at a time) and of 100 (a replication batch).

use std::time::Instant;

use chaski_server::db::{Databases, DbName};
use chaski_shared::domain::fixtures;
use chaski_shared::Store;

async fn run(n: usize, batch: usize, log_on: bool) -> f64 {
    chaski_server::custody::set_enabled(log_on);
    let temp = tempfile::tempdir().expect("temp dir");
    let db = sled::open(temp.path().join("data")).expect("sled");
    let databases = Databases::open(&db).expect("registry");
    let store = databases
        .create(&DbName::parse("madre-de-dios").expect("name"))
        .await
        .expect("create");
    let docs: Vec<_> = (0..n as u64)
        .map(|i| fixtures::doc(fixtures::inspection_json(i)))
        .collect();
    let started = Instant::now();
    for chunk in docs.chunks(batch) {
        let results = store.bulk_docs(chunk.to_vec(), true).await.expect("write");
        assert!(results.iter().all(|r| r.is_ok()));
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    if log_on {
        let log = chaski_server::custody::Trees::open(&db).expect("log");
        assert_eq!(log.range().expect("range").size, n as u64);
    }
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("CHASKI_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    println!("{n} inspections of ~1 KB, written with new_edits=true, each batch flushed");
    println!("batch | log off (docs/s) | log on (docs/s) | on/off");
    for batch in [1, 100] {
        // Off, on, off, on: the second pair is reported (the first warms the disk cache).
        let mut pair = (0.0, 0.0);
        for _ in 0..2 {
            pair = (run(n, batch, false).await, run(n, batch, true).await);
        }
        println!(
            "{batch:>5} | {:>16.0} | {:>15.0} | {:.2}",
            pair.0,
            pair.1,
            pair.1 / pair.0
        );
    }
}
