//! The server under concurrent load, on its own two-worker runtime as in production: it must
//! never hang (issue #12: twenty parallel writes into a fresh database once froze it for
//! good), and a heavy write to one region must not stall health checks or another region.
//! Each test has a watchdog ([`within`]) that fails it, with the threads' stacks, rather than
//! letting it hang.

use std::time::{Duration, Instant};

use chaski_server::auth::Role;
use chaski_shared::domain::{fixtures, Region};
use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::record::MAX_LEAVES;
use chaski_shared::{Document, LocalPeer, MemoryStore, ReplicationOptions, Replicator, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_on_own_runtime, within, TestApp};

/// How long one round of requests may take before the watchdog calls the server hung. A
/// healthy debug build answers a round in well under a second even on a loaded machine.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// These tests load the machine on purpose: one at a time, so that the latency test measures
/// the server, not a soak running beside it.
/// (An async lock: each test runs on its own runtime and thread, and a failed test must not
/// poison it for the others.)
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn admin(app: &TestApp) -> String {
    app.token_for("admin", Role::Admin, &[]).await
}

async fn health(app: &TestApp) -> StatusCode {
    app.client
        .get(app.url("/api/health"))
        .send()
        .await
        .expect("health request")
        .status()
}

async fn create_db(app: &TestApp, token: &str, db: &str) {
    let response = app
        .client
        .put(app.url(&format!("/db/{db}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("create database");
    assert_eq!(response.status(), 201, "creating {db}");
}

#[tokio::test]
async fn twenty_parallel_writes_into_a_fresh_database_never_hang_the_server() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_on_own_runtime().await;
    let token = admin(&app).await;
    let rounds: usize = std::env::var("CHASKI_HANG_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let started = Instant::now();
    for round in 0..rounds {
        let db = format!("fresh-{round}");
        within(ROUND_LIMIT, &format!("round {round}"), async {
            create_db(&app, &token, &db).await;
            let mut puts = tokio::task::JoinSet::new();
            for i in 0..20 {
                let request = app
                    .client
                    .put(app.url(&format!("/db/{db}/{i}")))
                    .bearer_auth(&token)
                    .json(&json!({"a": 1}));
                puts.spawn(async move { request.send().await.map(|r| r.status()) });
            }
            while let Some(done) = puts.join_next().await {
                let status = done.expect("task").expect("PUT answered");
                assert_eq!(status, 201, "round {round}");
            }
            assert_eq!(health(&app).await, 200, "round {round}");
        })
        .await;
    }
    eprintln!(
        "{rounds} rounds of 20 parallel writes in {:?}",
        started.elapsed()
    );
}

/// A `_bulk_docs` body of `leaves` conflicting branches of one document.
fn conflicting_leaves(id: &str, tag: &str, leaves: usize) -> Value {
    let docs: Vec<Value> = (0..leaves)
        .map(|i| {
            let hash = format!("{tag}{i:05}");
            json!({"_id": id, "_rev": format!("2-{hash}"), "n": i,
                   "_revisions": {"start": 2, "ids": [hash, "root"]}})
        })
        .collect();
    json!({"docs": docs, "new_edits": false})
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99).div_ceil(100) - 1]
}

#[tokio::test]
async fn a_heavy_write_to_one_region_leaves_health_and_another_region_answering_quickly() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_on_own_runtime().await;
    let token = admin(&app).await;
    create_db(&app, &token, "heavy").await;
    create_db(&app, &token, "light").await;
    // Warm up the connection pool and the light database.
    for i in 0..3 {
        let response = app
            .client
            .put(app.url(&format!("/db/light/warm-{i}")))
            .bearer_auth(&token)
            .json(&json!({"a": i}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    // The heavy side, for as long as the sampling runs: a document with hundreds of
    // conflicting branches (new ones each time), and big batches of new documents.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let heavy = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/db/heavy/_bulk_docs"),
            token.clone(),
        );
        tokio::spawn(async move {
            let mut writes = 0usize;
            let mut round = 0usize;
            while !*stop_rx.borrow_and_update() {
                // The case (one inspector's 1,000 conflicting leaves on one document
                // took 29.8 s and stalled everything), alternating with a big ordinary batch.
                let body = if round % 2 == 0 {
                    conflicting_leaves(&format!("many-{round}"), "h", MAX_LEAVES)
                } else {
                    let docs: Vec<Value> = (0..1000)
                        .map(|i| json!({"_id": format!("batch-{round}-{i}"), "notes": "x".repeat(200)}))
                        .collect();
                    json!({"docs": docs})
                };
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("heavy write");
                assert_eq!(
                    response.status(),
                    201,
                    "{}",
                    response.text().await.unwrap_or_default()
                );
                writes += 1;
                round += 1;
            }
            writes
        })
    };
    // Let the first heavy write get going.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut health_times = Vec::new();
    let mut write_times = Vec::new();
    within(Duration::from_secs(120), "sampling", async {
        for i in 0..150 {
            let started = Instant::now();
            assert_eq!(health(&app).await, 200);
            health_times.push(started.elapsed());
            let started = Instant::now();
            let response = app
                .client
                .put(app.url(&format!("/db/light/small-{i}")))
                .bearer_auth(&token)
                .json(&json!({"a": i}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            write_times.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    stop_tx.send(true).unwrap();
    let heavy_writes = within(Duration::from_secs(120), "the heavy writer", heavy)
        .await
        .expect("heavy writer");
    let (health_p99, write_p99) = (p99(health_times), p99(write_times));
    eprintln!(
        "{heavy_writes} heavy writes meanwhile; p99 health {health_p99:?}, p99 small write \
         to another region {write_p99:?}"
    );
    assert!(
        heavy_writes >= 1,
        "the heavy side wrote something while sampling"
    );
    assert!(
        health_p99 <= Duration::from_millis(100),
        "health p99 {health_p99:?}"
    );
    assert!(
        write_p99 <= Duration::from_millis(100),
        "small write p99 {write_p99:?}"
    );
}

fn peer(app: &TestApp, token: &str, db: &str) -> HttpPeer {
    HttpPeer::new(app.url(&format!("/db/{db}")))
        .unwrap()
        .with_auth(Auth::Bearer(token.to_owned()))
}

#[tokio::test]
async fn eight_tablets_replicating_at_once_for_a_while_never_hang_the_server() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let soak = Duration::from_secs(
        std::env::var("CHASKI_SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    );
    let app = spawn_app_on_own_runtime().await;
    let token = admin(&app).await;
    let regions = [Region::Loreto, Region::MadreDeDios];
    for region in regions {
        create_db(&app, &token, region.db_name()).await;
    }
    let deadline = Instant::now() + soak;
    let local = tokio::task::LocalSet::new();
    let mut tablets = Vec::new();
    for tablet in 0..8u32 {
        let region = regions[tablet as usize % regions.len()];
        let server = peer(&app, &token, region.db_name());
        tablets.push(local.spawn_local(async move {
            let store = LocalPeer::new(format!("tablet-{tablet}"), MemoryStore::new());
            let push = Replicator::new(&store, &server, ReplicationOptions::default());
            let pull = Replicator::new(&server, &store, ReplicationOptions::default());
            let mut runs = 0u32;
            while Instant::now() < deadline {
                let docs: Vec<Document> = (0..20u64)
                    .map(|i| {
                        let n = u64::from(tablet) * 100_000 + u64::from(runs) * 20 + i;
                        fixtures::doc(fixtures::inspection_json_in(n, region))
                    })
                    .collect();
                store
                    .store()
                    .bulk_docs(docs, true)
                    .await
                    .expect("tablet write");
                within(ROUND_LIMIT, &format!("tablet {tablet} run {runs}"), async {
                    push.run_once().await.expect("push");
                    pull.run_once().await.expect("pull");
                })
                .await;
                runs += 1;
            }
            runs
        }));
    }
    // The watchdog beside the tablets: health must keep answering all along.
    let prober = local.spawn_local({
        let (client, url) = (app.client.clone(), app.url("/api/health"));
        async move {
            let mut probes = 0u32;
            while Instant::now() < deadline {
                let status = within(ROUND_LIMIT, "a health probe during the soak", async {
                    client.get(&url).send().await.expect("health").status()
                })
                .await;
                assert_eq!(status, 200);
                probes += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            probes
        }
    });
    let (runs, probes) = local
        .run_until(async {
            let mut runs = Vec::new();
            for tablet in tablets {
                runs.push(tablet.await.expect("tablet task"));
            }
            (runs, prober.await.expect("prober"))
        })
        .await;
    eprintln!("soak of {soak:?}: replication runs per tablet {runs:?}, {probes} health probes");
    assert!(
        runs.iter().all(|r| *r > 0),
        "every tablet replicated: {runs:?}"
    );
    // Everything every tablet wrote is on the server.
    let total: u32 = runs.iter().map(|r| r * 20).sum();
    let mut on_server = 0u64;
    for region in regions {
        let info: Value = app
            .client
            .get(app.url(&format!("/db/{}", region.db_name())))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        on_server += info["doc_count"].as_u64().unwrap();
    }
    assert_eq!(on_server, u64::from(total));
}
