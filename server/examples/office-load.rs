//! Loads a region with realistic inspections and case events for the office benchmarks, and
//! (with `--bench`) measures the server's inbox index against a plain scan in the same run.
//!
//! ```text
//! # 50,000 inspections (plus their events) into a data folder, and a supervisor account:
//! cargo run --release -p chaski-server --example office-load -- \
//!     --data /tmp/chaski-office --db loreto --inspections 50000
//! # then serve it: cargo run --release -p chaski-server -- --data-dir /tmp/chaski-office
//!
//! # the same, then the index figures (build and filters) against the floor:
//! cargo run --release -p chaski-server --example office-load -- \
//!     --data /tmp/chaski-office-bench --db loreto --inspections 50000 --bench
//! ```
//!
//! The supervisor it creates is `supervisora.<db>` with the password
//! `Chaski office benchmark 2026!` (printed at the end), a supervisor of that region only.
//!
//! Everything is written through the real store (`SledStore::bulk_docs`, batches of 1,000,
//! `new_edits=true`), and every document is first checked with the domain's own
//! `validate_for_database`, so the data is exactly what tablets and the office could have
//! written. The data is deterministic (a fixed seed), varied in sector, district, dates,
//! findings, indicators, people and workers; events follow a realistic mix: about 45%
//! awaiting review, 20% reviewed, 8% with issues, 5% corrected and resubmitted, and the rest
//! referred (with referral updates), in prosecution or closed (conviction, acquittal,
//! archived).
//!
//! `--skip-load --bench` measures a folder loaded earlier (loading twice into one folder fails:
//! the ids are deterministic, so the second run's inspections conflict with the first's). The
//! server must not be running on the folder (sled allows one process).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chaski_server::auth::{Accounts, Role};
use chaski_server::db::{Databases, DbName, SledStore};
use chaski_server::office::{InboxQuery, RegionIndex};
use chaski_server::storage::Storage;
use chaski_shared::domain::fixtures;
use chaski_shared::domain::time::Timestamp;
use chaski_shared::domain::{reason_en, validate_for_database, Region};
use chaski_shared::store::{ChangesOptions, ChangesStyle};
use chaski_shared::{Document, Store};
use serde_json::{json, Value};

const PASSWORD: &str = "Chaski office benchmark 2026!";
const BATCH: usize = 1_000;
const DAY_MS: i64 = 86_400_000;

struct Args {
    data: PathBuf,
    db: String,
    inspections: u64,
    bench: bool,
    /// Only measure (`--bench`) what an earlier run loaded.
    skip_load: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::new(),
        db: "loreto".into(),
        inspections: 50_000,
        bench: false,
        skip_load: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--data" => args.data = PathBuf::from(value("--data")?),
            "--db" => args.db = value("--db")?,
            "--inspections" => {
                args.inspections = value("--inspections")?
                    .parse()
                    .map_err(|_| "--inspections must be a whole number".to_owned())?
            }
            "--bench" => args.bench = true,
            "--skip-load" => args.skip_load = true,
            "-h" | "--help" => {
                return Err(
                    "usage: office-load --data DIR [--db loreto] [--inspections 50000] \
                            [--bench]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}; see --help")),
        }
    }
    if args.data.as_os_str().is_empty() {
        return Err("--data DIR is required (a new or existing data folder)".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(message) = run(args).await {
        eprintln!("office-load: {message}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let region = Region::from_db_name(&args.db)
        .ok_or_else(|| format!("{} is not a region database (loreto, cusco, …)", args.db))?;
    let storage = Storage::open(&args.data).map_err(|e| format!("open {:?}: {e}", args.data))?;
    let databases = Databases::open(storage.sled()).map_err(|e| e.to_string())?;
    let name = DbName::parse(&args.db).map_err(|e| e.to_string())?;
    databases.ensure(&name).await.map_err(|e| e.to_string())?;
    let store = databases.require(&args.db).map_err(|e| e.to_string())?;

    if args.skip_load {
        bench(&store);
        return Ok(());
    }
    let started = Instant::now();
    let (inspections, events) = load(&store, region, args.inspections).await?;
    let took = started.elapsed();
    println!(
        "loaded {inspections} inspections and {events} case events into {} ({}) in {:.1} s \
         ({:.0} documents/s)",
        args.db,
        args.data.display(),
        took.as_secs_f64(),
        (inspections + events) as f64 / took.as_secs_f64().max(1e-9)
    );

    let accounts =
        Accounts::open(&storage, Duration::from_secs(30 * 24 * 3600)).map_err(|e| e.to_string())?;
    let user = format!("supervisora.{}", args.db);
    match accounts
        .create_user(&user, PASSWORD, Role::Supervisor, [args.db.as_str()])
        .await
    {
        Ok(_) => println!(
            "supervisor account: {user} / {PASSWORD} (region {})",
            args.db
        ),
        Err(e) => println!("supervisor account {user} not created ({e}); it may exist already"),
    }
    if args.bench {
        bench(&store);
    }
    storage.flush().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// splitmix64: deterministic, good enough to vary benchmark data, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const SECTORS: [(&str, &str); 8] = [
    ("gold_mining", "Campamento minero"),
    ("logging", "Campamento forestal"),
    ("agriculture", "Fundo"),
    ("brick_making", "Ladrillera"),
    ("domestic_work", "Vivienda"),
    ("bars_and_nightclubs", "Bar"),
    ("fishing", "Embarcación pesquera"),
    ("textile", "Taller textil"),
];

fn districts(region: Region) -> &'static [&'static str] {
    match region {
        Region::Loreto => &[
            "Iquitos",
            "Punchana",
            "Belén",
            "San Juan Bautista",
            "Nauta",
            "Yurimaguas",
            "Requena",
            "Contamana",
            "Caballococha",
            "San Lorenzo",
            "Indiana",
            "Mazán",
            "Pebas",
            "Trompeteros",
            "Andoas",
        ],
        Region::MadreDeDios => &[
            "Tambopata",
            "Inambari",
            "Laberinto",
            "Las Piedras",
            "Huepetuhe",
            "Madre de Dios",
            "Fitzcarrald",
            "Manu",
            "Iñapari",
            "Tahuamanu",
            "Iberia",
        ],
        _ => &[
            "Distrito Centro",
            "Distrito Norte",
            "Distrito Sur",
            "Distrito Este",
            "Distrito Oeste",
        ],
    }
}

const INDICATORS: [&str; 11] = [
    "abuse_of_vulnerability",
    "deception",
    "restriction_of_movement",
    "isolation",
    "physical_and_sexual_violence",
    "intimidation_and_threats",
    "retention_of_identity_documents",
    "withholding_of_wages",
    "debt_bondage",
    "abusive_working_and_living_conditions",
    "excessive_overtime",
];

/// Inspection `n`: the fixture (valid by construction) varied by the seed.
fn inspection(n: u64, region: Region, now_ms: i64, rng: &mut Rng) -> Value {
    let mut doc = fixtures::inspection_json_in(n, region);
    let (sector, kind) = *rng.pick(&SECTORS);
    let district = *rng.pick(districts(region));
    let start_ms = now_ms - (rng.below(720) as i64 + 1) * DAY_MS - rng.below(DAY_MS as u64) as i64;
    let end_ms = start_ms + (1 + rng.below(8) as i64) * 3_600_000;
    let (start, end) = (
        Timestamp::from_utc_ms(start_ms),
        Timestamp::from_utc_ms(end_ms),
    );
    doc["sector"] = json!(sector);
    doc["district"] = json!(district);
    doc["locality"] = json!(format!("Sector {}", rng.below(40) + 1));
    doc["site_name"] = json!(format!("{kind} {district} {}", rng.below(900) + 100));
    doc["visit_start"] = json!(start.as_str());
    doc["visit_end"] = json!(end.as_str());
    doc["created_at"] = json!(start.as_str());
    doc["updated_at"] = json!(end.as_str());
    doc["created_by"] = json!(format!("inspector-{:02}", rng.below(40) + 1));
    doc["team"] = json!([{"id": doc["created_by"].clone()}, {"name": "Equipo de apoyo"}]);
    doc["gps"] = json!({
        "lat": -3.0 - rng.below(9000) as f64 / 1000.0,
        "lon": -70.0 - rng.below(6000) as f64 / 1000.0,
        "accuracy_m": 5.0 + rng.below(40) as f64
    });

    // Workers: counts that add up.
    let women = rng.below(30);
    let men = rng.below(60);
    let total = women + men;
    let minors = rng.below(total.min(10) + 1);
    let under_14 = rng.below(minors + 1);
    let foreign = rng.below(total.min(8) + 1);
    let mut workers = json!({
        "total": total, "women": women, "men": men, "other_or_unknown": 0,
        "minors_under_18": minors, "minors_under_14": under_14,
        "indigenous": rng.below(total + 1), "foreign": foreign
    });
    if foreign > 0 {
        workers["nationalities"] =
            json!([{"country": *rng.pick(&["VE", "CO", "EC", "BO", "BR"]), "count": foreign}]);
    }
    doc["workers"] = workers;

    // Indicators seen, then findings consistent with them.
    let mut indicators = serde_json::Map::new();
    let seen_count = rng.below(5);
    for _ in 0..seen_count {
        let name = *rng.pick(&INDICATORS);
        indicators.insert(
            name.to_owned(),
            json!({"seen": true, "stages": ["during_work"],
                   "evidence": "Observado y confirmado en entrevistas con los trabajadores."}),
        );
    }
    let any_seen = !indicators.is_empty();
    doc["indicators"] = Value::Object(indicators);
    let mut findings = Vec::new();
    if any_seen && rng.chance(60) {
        findings.push("forced_labour");
    }
    if minors > 0 && rng.chance(50) {
        findings.push("child_labour");
    }
    if sector == "bars_and_nightclubs" && rng.chance(60) {
        findings.push("sexual_exploitation");
    }
    if any_seen && rng.chance(25) {
        findings.push("trafficking_suspected");
    }
    doc["findings"] = json!(findings);

    // People found: 0 to 4, varied.
    let people: Vec<Value> = (1..=rng.below(5) as u32)
        .map(|i| {
            let mut person = fixtures::person_json(i);
            person["sex"] = json!(*rng.pick(&["female", "male", "female", "unknown"]));
            let age = *rng.pick(&["14_17", "18_24", "25_39", "40_59", "unknown"]);
            person["age_band"] = json!(age);
            if age == "14_17" {
                person["consent"]["given_by"] = json!("guardian");
            }
            person["nationality"] = json!(*rng.pick(&["PE", "PE", "PE", "VE", "CO", "BO"]));
            person["sealed"]["recipient_key_id"] =
                json!(format!("{}-0123456789abcdef", region.db_name()));
            person
        })
        .collect();
    doc["people"] = json!(people);
    doc
}

/// What happens to inspection `n` after it was submitted.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    Waiting,
    Reviewed,
    HasIssues,
    Resubmitted,
    Referred,
    Prosecuted,
    Closed,
}

fn path(rng: &mut Rng) -> Path {
    match rng.below(100) {
        0..=44 => Path::Waiting,
        45..=64 => Path::Reviewed,
        65..=72 => Path::HasIssues,
        73..=77 => Path::Resubmitted,
        78..=89 => Path::Referred,
        90..=95 => Path::Prosecuted,
        _ => Path::Closed,
    }
}

fn check(doc: Value, db: &str) -> Result<Document, String> {
    let doc = Document::from_json(doc).map_err(|e| e.to_string())?;
    validate_for_database(&doc, db)
        .map_err(|errors| format!("generated {} is invalid: {}", doc.id, reason_en(&errors)))?;
    Ok(doc)
}

async fn write(store: &SledStore, docs: Vec<Document>) -> Result<Vec<String>, String> {
    let results = store
        .bulk_docs(docs, true)
        .await
        .map_err(|e| e.to_string())?;
    results
        .into_iter()
        .map(|r| match (r.error, r.rev) {
            (None, Some(rev)) => Ok(rev.to_string()),
            (Some(e), _) => Err(format!("{}: {e}", r.id)),
            (None, None) => Err(format!("{}: no revision", r.id)),
        })
        .collect()
}

/// Writes the inspections, then their events (reviews need the revision they looked at).
/// Returns how many of each.
async fn load(store: &SledStore, region: Region, count: u64) -> Result<(u64, u64), String> {
    let db = region.db_name();
    let now_ms = chaski_server::auth::accounts::now_secs() as i64 * 1000;
    let mut rng = Rng(0xC4A5_0FF1_CE00_2026);
    let mut events_written = 0u64;
    let mut first = 0u64;
    while first < count {
        let last = (first + BATCH as u64).min(count);
        let mut docs = Vec::with_capacity(BATCH);
        let mut plans = Vec::with_capacity(BATCH);
        for n in first..last {
            let doc = inspection(n, region, now_ms, &mut rng);
            plans.push((n, path(&mut rng), doc.clone()));
            docs.push(check(doc, db)?);
        }
        let revs = write(store, docs).await?;

        // Events, and second revisions of the resubmitted ones.
        let mut events = Vec::new();
        let mut second = Vec::new();
        for ((n, plan, doc), rev) in plans.into_iter().zip(revs) {
            if plan == Path::Waiting {
                continue;
            }
            let visit_end = doc["visit_end"]
                .as_str()
                .and_then(Timestamp::parse)
                .map_or(now_ms, |t| t.utc_ms());
            let mut at = visit_end;
            let mut step = |rng: &mut Rng| {
                at = (at + (1 + rng.below(20) as i64) * DAY_MS).min(now_ms);
                Timestamp::from_utc_ms(at)
            };
            let by = format!("supervisora.{db}");
            let event = |value: Value, when: Timestamp| {
                let mut value = value;
                value["at"] = json!(when.as_str());
                value["by"] = json!(by);
                value
            };
            let codes: Vec<String> = doc["people"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(|p| p["code"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            match plan {
                Path::HasIssues | Path::Resubmitted => {
                    let note = "Falta la evidencia de la retención de documentos; adjunte fotos.";
                    events.push(event(
                        fixtures::has_issues_json(n, 1, &rev, note),
                        step(&mut rng),
                    ));
                    if plan == Path::Resubmitted {
                        let mut fixed = doc.clone();
                        fixed["_rev"] = json!(rev);
                        fixed["notes"] = json!("Corregido: se agregó la evidencia pedida.");
                        fixed["updated_at"] = json!(step(&mut rng).as_str());
                        second.push(check(fixed, db)?);
                    }
                }
                _ => {
                    events.push(event(fixtures::reviewed_json(n, 1, &rev), step(&mut rng)));
                }
            }
            if matches!(plan, Path::Referred | Path::Prosecuted | Path::Closed) && !codes.is_empty()
            {
                let people: Vec<&str> = codes.iter().map(String::as_str).collect();
                events.push(event(
                    fixtures::referred_json(n, 2, &people),
                    step(&mut rng),
                ));
                if rng.chance(70) {
                    let status = *rng.pick(&["received", "attended", "attended", "declined"]);
                    let update =
                        fixtures::referral_update_json(n, 3, &fixtures::event_id(n, 2), status);
                    events.push(event(update, step(&mut rng)));
                }
            }
            if matches!(plan, Path::Prosecuted | Path::Closed) {
                events.push(event(fixtures::prosecution_json(n, 4), step(&mut rng)));
            }
            if plan == Path::Closed {
                let mut outcome = fixtures::conviction_json(n, 5);
                match rng.below(3) {
                    0 => {}
                    1 => {
                        outcome = json!({
                            "_id": fixtures::event_id(n, 5).as_str(), "type": "case_event",
                            "inspection": fixtures::inspection_id(n).as_str(), "kind": "outcome",
                            "outcome": "acquittal"
                        })
                    }
                    _ => {
                        outcome = json!({
                            "_id": fixtures::event_id(n, 5).as_str(), "type": "case_event",
                            "inspection": fixtures::inspection_id(n).as_str(), "kind": "outcome",
                            "outcome": "archived", "reason": "El fiscal archivó por falta de pruebas."
                        })
                    }
                }
                events.push(event(outcome, step(&mut rng)));
            }
        }
        let events: Vec<Document> = events
            .into_iter()
            .map(|e| check(e, db))
            .collect::<Result<_, _>>()?;
        events_written += events.len() as u64;
        write(store, events).await?;
        write(store, second).await?;
        first = last;
    }
    Ok((count, events_written))
}

/// The median of `runs` timings of `work`.
fn median(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            work();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The index figures against the floor, printed.
fn bench(store: &SledStore) {
    println!("\n# inbox index of {} (median of runs)", store.name());
    // The floor of a build: every winning revision's stored bytes copied once into a Vec,
    // parsing nothing: what any index of every document must at least read.
    let floor_build = median(3, || {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        if let Err(e) = store.scan_changes_raw(0, usize::MAX, |change| {
            if let Some(body) = change.body {
                bodies.push(body.to_vec());
            }
        }) {
            eprintln!("scan failed: {e}");
        }
        std::hint::black_box(bodies.len());
    });
    // For comparison: the changes feed with whole documents (`include_docs`), what an index
    // built from `_changes?include_docs=true` would read.
    let whole_docs = median(3, || {
        let mut since = 0;
        let mut docs = Vec::new();
        loop {
            let Ok(page) = store.changes_page_now(&ChangesOptions {
                since,
                limit: Some(5_000),
                style: ChangesStyle::MainOnly,
                include_docs: true,
                ..ChangesOptions::default()
            }) else {
                return;
            };
            let done = page.pending == 0;
            since = page.last_seq;
            docs.extend(page.results.into_iter().filter_map(|r| r.doc));
            if done {
                break;
            }
        }
        std::hint::black_box(docs.len());
    });
    let mut index = RegionIndex::default();
    let build = median(3, || {
        index = RegionIndex::default();
        if let Err(e) = index.catch_up(store) {
            eprintln!("index build failed: {e}");
        }
        std::hint::black_box(index.sorted().rows.len());
    });
    let inbox = index.sorted();
    let rows = inbox.rows.clone();
    println!(
        "build: index {:>8.1} ms   floor (every stored body copied into a Vec) {:>8.1} ms   \
         ({} inbox rows, {} inspections)",
        build.as_secs_f64() * 1e3,
        floor_build.as_secs_f64() * 1e3,
        rows.len(),
        index.inspection_count()
    );
    println!(
        "       (reading whole documents through the changes feed instead: {:.1} ms)",
        whole_docs.as_secs_f64() * 1e3
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let memory: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .collect();
    println!(
        "memory of this process (store caches included): {}",
        memory.join("  ")
    );
    let catch_up = median(5, || {
        let _ = index.catch_up(store);
    });
    println!(
        "catch-up with nothing new: {:.3} ms",
        catch_up.as_secs_f64() * 1e3
    );

    // The floor of a filter: one pass over the same rows in a plain Vec, comparing one field.
    let plain: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.summary.sector.map(|s| s.to_string()).unwrap_or_default(),
                r.summary.search.clone(),
                r.state.to_string(),
            )
        })
        .collect();
    let now = chaski_server::auth::accounts::now_secs() as i64 * 1000;
    for (query, floor) in [
        ("", None),
        ("sector=logging", Some("logging")),
        ("state=has_issues", None),
        (
            "state=resubmitted&state=has_issues&sector=gold_mining",
            None,
        ),
        (
            "indicator=debt_bondage&finding=forced_labour&from=2026-01-01",
            None,
        ),
        ("q=iquitos", None),
        ("q=no-such-site", None),
        ("sector=logging&offset=1000&limit=200", None),
    ] {
        let Ok(parsed) = InboxQuery::parse(&pairs(query)) else {
            eprintln!("bad benchmark query {query}");
            continue;
        };
        let mut total = 0;
        let took = median(15, || {
            let page = parsed.run(&inbox, now);
            total = page.total;
            std::hint::black_box(page.rows.len());
        });
        let floor_took = median(15, || {
            let hits = plain
                .iter()
                .filter(|(sector, search, state)| match floor {
                    Some(s) => sector == s,
                    None => !search.is_empty() && !state.is_empty(),
                })
                .count();
            std::hint::black_box(hits);
        });
        println!(
            "filter {:<62} {:>7.2} ms  ({total:>6} rows)   floor (one pass over a Vec) {:>6.2} ms",
            if query.is_empty() {
                "(none: first page)"
            } else {
                query
            },
            took.as_secs_f64() * 1e3,
            floor_took.as_secs_f64() * 1e3,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smoke version `cargo test` runs: a few hundred inspections, every one valid, the
    /// index sees them all, and the bench runs to the end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_load_is_valid_and_the_index_sees_every_submitted_inspection() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let databases = Databases::open(storage.sled()).unwrap();
        let store = databases
            .create(&DbName::parse("loreto").unwrap())
            .await
            .unwrap();
        let (inspections, events) = load(&store, Region::Loreto, 300).await.unwrap();
        assert_eq!(inspections, 300);
        assert!(events > 100, "{events}");
        let mut index = RegionIndex::default();
        index.catch_up(&store).unwrap();
        assert_eq!(index.sorted().rows.len(), 300);
        let states: std::collections::BTreeSet<String> = index
            .sorted()
            .rows
            .iter()
            .map(|r| r.state.to_string())
            .collect();
        for state in [
            "awaiting_review",
            "reviewed",
            "has_issues",
            "resubmitted",
            "closed",
        ] {
            assert!(states.contains(state), "{state} missing from {states:?}");
        }
        bench(&store);
    }
}
