//! The continuous relay with real binaries: a tablet (the shared replicator over a memory
//! store, as the app runs it over IndexedDB), a regional `chaski` relaying `loreto` to a
//! national `chaski` set in a configuration file, and what the relay says when its target
//! is unreachable, refuses its password or is not CouchDB.
//!
//! The latency figure (`the_latency_from_a_tablets_push_to_the_national_server`) is ignored by
//! default: `cargo test -p chaski-server --test relay -- --ignored --nocapture latency`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaski_shared::domain::{fixtures, Region};
use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::store::GetOptions;
use chaski_shared::{Document, LocalPeer, MemoryStore, ReplicationOptions, Replicator, Store};
use serde_json::{json, Value};

#[path = "support/binary.rs"]
#[allow(dead_code)]
mod binary;
use binary::{chaski, run};

const DB: &str = "loreto";
const PASSWORD: &str = "selva verde 2026 relay";

/// A `chaski` server started from the real binary on a fixed port (so that it can be stopped
/// and started again where its peers expect it).
struct Server {
    child: Option<Child>,
    data: PathBuf,
    port: u16,
    config: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn start(data: &Path, config: Option<&Path>, env: &[(&str, &str)]) -> Server {
        let mut server = Server {
            child: None,
            data: data.to_owned(),
            port: free_port(),
            config: config.map(Path::to_owned),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        server.restart();
        server
    }

    /// Starts the binary (again) and waits until it listens.
    fn restart(&mut self) {
        let mut cmd = chaski(&self.data, &["--bind", &format!("127.0.0.1:{}", self.port)]);
        cmd.arg("--static-dir").arg(self.data.join("no-dist"));
        if let Some(config) = &self.config {
            cmd.arg("--config").arg(config);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let (child, _, _) = binary::spawn_listening(cmd);
        self.child = Some(child);
    }

    /// SIGTERM, then waits for it to flush and exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn admin(data: &Path, args: &[&str]) {
    let out = run(data, args, Some(PASSWORD));
    assert!(
        out.status.success(),
        "chaski {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A national data folder: `loreto`, its relay account and a supervisor who records
/// prosecutions there.
fn national_data(root: &Path) -> PathBuf {
    let data = root.join("national");
    admin(&data, &["db", "create", DB]);
    admin(
        &data,
        &[
            "user",
            "add",
            "relay-loreto",
            "--role",
            "relay",
            "--region",
            DB,
        ],
    );
    admin(
        &data,
        &[
            "user",
            "add",
            "fiscal",
            "--role",
            "supervisor",
            "--region",
            DB,
        ],
    );
    admin(&data, &["user", "add", "lima", "--role", "admin"]);
    data
}

/// A regional data folder: `loreto`, an inspector and an administrator.
fn region_data(root: &Path) -> PathBuf {
    let data = root.join("region");
    admin(&data, &["db", "create", DB]);
    admin(
        &data,
        &["user", "add", "ines", "--role", "inspector", "--region", DB],
    );
    admin(&data, &["user", "add", "ana", "--role", "admin"]);
    data
}

/// The region's configuration: `loreto` relayed to `target` in both directions.
fn relay_config(root: &Path, relays: &[(&str, String, &str)]) -> PathBuf {
    let mut text =
        String::from("# chaski.toml of the Loreto regional office\nmax_longpoll_secs = 60\n");
    for (name, target, credentials_env) in relays {
        text.push_str(&format!(
            "\n[[relay]]\nname = \"{name}\"\ndatabases = [\"{DB}\"]\ntarget = \"{target}\"\n\
             direction = \"both\"\ncredentials_env = \"{credentials_env}\"\n"
        ));
    }
    let path = root.join("chaski.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(url: &str, user: &str) -> (u16, Value) {
    let response = client()
        .get(url)
        .basic_auth(user, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn put_json(url: &str, user: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .put(url)
        .basic_auth(user, Some(PASSWORD))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `check` every 20 ms until it is true or `within` passes.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every leaf revision of `id` at `db_url`, sorted.
async fn leaves(db_url: &str, user: &str, id: &str) -> Vec<String> {
    let (status, body) = get_json(&format!("{db_url}/{id}?open_revs=all"), user).await;
    assert_eq!(status, 200, "{body}");
    let mut revs: Vec<String> = body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["ok"]["_rev"].as_str().map(str::to_owned))
        .collect();
    revs.sort();
    revs
}

struct Tablet {
    local: LocalPeer<MemoryStore>,
    region: HttpPeer,
}

impl Tablet {
    fn new(region: &Server) -> Self {
        Tablet {
            local: LocalPeer::new("tablet-07", MemoryStore::new()),
            region: HttpPeer::new(region.url(&format!("/db/{DB}")))
                .unwrap()
                .with_auth(Auth::Basic {
                    user: "ines".into(),
                    password: PASSWORD.into(),
                }),
        }
    }

    async fn record(&self, n: u64) {
        let doc = fixtures::doc(fixtures::inspection_json_in(n, Region::Loreto));
        let written = self.local.store().bulk_docs(vec![doc], true).await.unwrap();
        assert!(written[0].is_ok(), "{written:?}");
    }

    async fn push(&self) {
        let report = Replicator::new(&self.local, &self.region, ReplicationOptions::default())
            .run_once()
            .await
            .unwrap();
        assert_eq!(report.doc_write_failures, 0, "{:?}", report.failures);
    }

    async fn pull(&self) {
        Replicator::new(&self.region, &self.local, ReplicationOptions::default())
            .run_once()
            .await
            .unwrap();
    }
}

/// The region's relay status rows.
async fn relay_status(region: &Server) -> Vec<Value> {
    let (status, body) = get_json(&region.url("/api/relay"), "ana").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tiers_tablet_region_and_national_stay_in_step_with_no_manual_step() {
    let temp = tempfile::tempdir().unwrap();
    let national_dir = national_data(temp.path());
    let region_dir = region_data(temp.path());
    let mut national = Server::start(&national_dir, None, &[]);
    let config = relay_config(
        temp.path(),
        &[("lima", national.url("/db"), "CHASKI_RELAY_LIMA")],
    );
    let credentials = format!("relay-loreto:{PASSWORD}");
    let mut region = Server::start(
        &region_dir,
        Some(&config),
        &[("CHASKI_RELAY_LIMA", &credentials)],
    );
    let national_db = national.url(&format!("/db/{DB}"));
    let region_db = region.url(&format!("/db/{DB}"));
    let tablet = Tablet::new(&region);

    // The status lists a push and a pull row for `loreto`.
    let rows = relay_status(&region).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["name"], "lima");
    assert_eq!(rows[0]["db"], DB);
    assert_eq!(rows[0]["target"], national_db.as_str());
    assert_eq!(rows[0]["direction"], "push");
    assert_eq!(rows[1]["direction"], "pull");

    // (1) A record from the tablet reaches the national server without any manual step.
    for n in 0..5 {
        tablet.record(n).await;
    }
    tablet.push().await;
    let first = fixtures::inspection_id(0);
    eventually(
        Duration::from_secs(15),
        "the tablet's records at national",
        || async { get_json(&national_db, "lima").await.1["doc_count"] == 5 },
    )
    .await;
    let (status, at_national) = get_json(&format!("{national_db}/{first}"), "lima").await;
    assert_eq!(status, 200, "{at_national}");
    assert_eq!(at_national["site_name"], "Campamento km 100");
    eventually(
        Duration::from_secs(10),
        "an idle push with a last success",
        || async {
            let rows = relay_status(&region).await;
            rows[0]["state"] == "idle"
                && rows[0]["last_success"].is_string()
                && rows[0]["pending"] == 0
        },
    )
    .await;

    // (2) National stops while the region keeps receiving; once it is back, everything arrives
    // once, with no duplicate revision.
    // The region's pull waits in a longpoll on national: a graceful stop answers it at once
    // instead of waiting out its timeout.
    let stopping = Instant::now();
    national.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "national took {:?} to stop",
        stopping.elapsed()
    );
    for n in 5..25 {
        tablet.record(n).await;
    }
    tablet.push().await;
    assert_eq!(get_json(&region_db, "ana").await.1["doc_count"], 25);
    eventually(
        Duration::from_secs(15),
        "the push says national is unreachable",
        || async {
            let rows = relay_status(&region).await;
            rows[0]["state"] == "backing_off"
                && rows[0]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("unreachable"))
                && rows[0]["pending"] == 20
        },
    )
    .await;
    national.restart();
    eventually(
        Duration::from_secs(30),
        "the 20 records at national after its restart",
        || async { get_json(&national_db, "lima").await.1["doc_count"] == 25 },
    )
    .await;
    let (_, changes) = get_json(&format!("{national_db}/_changes?style=all_docs"), "lima").await;
    let rows = changes["results"].as_array().unwrap();
    assert_eq!(rows.len(), 25, "each document once in national's changes");
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let revs = leaves(&national_db, "lima", id).await;
        assert_eq!(revs.len(), 1, "{id}: {revs:?}");
        assert!(revs[0].starts_with("1-"), "{id}: {revs:?}");
        let (_, doc) = get_json(&format!("{national_db}/{id}?revs=true"), "lima").await;
        assert_eq!(
            doc["_revisions"]["ids"].as_array().unwrap().len(),
            1,
            "{doc}"
        );
    }
    eventually(
        Duration::from_secs(10),
        "the push caught up, nothing pending",
        || async {
            let rows = relay_status(&region).await;
            rows[0]["state"] == "idle" && rows[0]["pending"] == 0 && rows[0]["last_error"].is_null()
        },
    )
    .await;

    // (3) A prosecution recorded at the national office reaches the tablet.
    let mut prosecution = fixtures::prosecution_json(0, 1);
    prosecution["by"] = json!("fiscal");
    let event_id = fixtures::event_id(0, 1);
    let (status, body) =
        put_json(&format!("{national_db}/{event_id}"), "fiscal", &prosecution).await;
    assert_eq!(status, 201, "{body}");
    eventually(
        Duration::from_secs(15),
        "the prosecution at the region",
        || async { get_json(&format!("{region_db}/{event_id}"), "ana").await.0 == 200 },
    )
    .await;
    tablet.pull().await;
    let on_tablet = tablet
        .local
        .store()
        .get(&event_id, &GetOptions::default())
        .await
        .expect("the prosecution on the tablet");
    assert_eq!(on_tablet.body["kind"], "prosecution_opened");
    assert_eq!(on_tablet.body["by"], "fiscal");

    // (4) A conflict made at two tiers (the tablet offline, the national office) is the same
    // conflict everywhere.
    let id = fixtures::inspection_id(1);
    let mut mine: Document = tablet
        .local
        .store()
        .get(&id, &GetOptions::default())
        .await
        .unwrap();
    mine.body
        .insert("notes".into(), json!("Corrected on the tablet, offline."));
    tablet
        .local
        .store()
        .bulk_docs(vec![mine], true)
        .await
        .unwrap();
    let (_, mut theirs) = get_json(&format!("{national_db}/{id}"), "fiscal").await;
    theirs["notes"] = json!("Corrected at the national office.");
    let (status, body) = put_json(&format!("{national_db}/{id}"), "fiscal", &theirs).await;
    assert_eq!(status, 201, "{body}");
    tablet.push().await;
    eventually(
        Duration::from_secs(20),
        "both branches at region and national",
        || async {
            leaves(&region_db, "ana", id.as_str()).await.len() == 2
                && leaves(&national_db, "lima", id.as_str()).await.len() == 2
        },
    )
    .await;
    tablet.pull().await;
    let at_region = leaves(&region_db, "ana", id.as_str()).await;
    assert_eq!(at_region, leaves(&national_db, "lima", id.as_str()).await);
    let with_conflicts = GetOptions {
        conflicts: true,
        ..GetOptions::default()
    };
    let on_tablet = tablet
        .local
        .store()
        .get(&id, &with_conflicts)
        .await
        .unwrap();
    let mut tablet_leaves: Vec<String> = on_tablet
        .conflicts
        .iter()
        .map(ToString::to_string)
        .chain(on_tablet.rev.iter().map(ToString::to_string))
        .collect();
    tablet_leaves.sort();
    assert_eq!(tablet_leaves, at_region);
    let winner = on_tablet.rev.unwrap().to_string();
    for (db_url, user) in [(&region_db, "ana"), (&national_db, "lima")] {
        let (_, doc) = get_json(&format!("{db_url}/{id}?conflicts=true"), user).await;
        assert_eq!(doc["_rev"], winner.as_str(), "{db_url}: the same winner");
        assert_eq!(doc["_conflicts"].as_array().map(Vec::len), Some(1), "{doc}");
    }

    // (5) The region restarts: its relay resumes from the checkpoints and asks national about
    // nothing it carried before.
    region.stop();
    region.restart();
    tablet.record(30).await;
    tablet.push().await;
    let newest = fixtures::inspection_id(30);
    eventually(
        Duration::from_secs(15),
        "a record after the region's restart",
        || async { get_json(&format!("{national_db}/{newest}"), "lima").await.0 == 200 },
    )
    .await;
    let checkpoint =
        chaski_shared::replicate::replication_id(&format!("chaski-local:{DB}"), &national_db, None);
    let (status, checkpoint) =
        get_json(&format!("{national_db}/_local/{checkpoint}"), "lima").await;
    assert_eq!(status, 200, "{checkpoint}");
    let session = &checkpoint["history"][0];
    assert!(
        session["start_last_seq"].as_u64().unwrap() > 25,
        "{session}"
    );
    // Only the changes since the checkpoint are checked: the new record, and possibly a
    // document the pull leg brought into the region (it gets a region sequence of its own,
    // before or after the checkpoint depending on timing), which national already has.
    let since =
        session["end_last_seq"].as_u64().unwrap() - session["start_last_seq"].as_u64().unwrap();
    let checked = session["missing_checked"].as_u64().unwrap();
    assert!((1..=since).contains(&checked), "{session}");
    assert_eq!(session["docs_written"], 1, "{session}");

    // The relay account carries, and does nothing else.
    relay_account_may_only_carry(&national, &national_db).await;
}

/// What the national server lets its relay account do.
async fn relay_account_may_only_carry(national: &Server, national_db: &str) {
    let login = client()
        .post(national.url("/api/login"))
        .json(&json!({"name": "relay-loreto", "password": PASSWORD, "device": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    let reason = login.json::<Value>().await.unwrap()["reason"].to_string();
    assert!(reason.contains("relay account"), "{reason}");
    let session = client()
        .post(national.url("/db/_session"))
        .json(&json!({"name": "relay-loreto", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 403);

    // No edits of its own, even a valid inspection.
    let mut new = fixtures::inspection_json_in(900, Region::Loreto);
    let id = new["_id"].as_str().unwrap().to_owned();
    new.as_object_mut().unwrap().remove("_id");
    let (status, body) = put_json(&format!("{national_db}/{id}"), "relay-loreto", &new).await;
    assert_eq!(status, 403, "{body}");
    // Only its regions.
    let (status, _) = get_json(&national.url("/db/cusco"), "relay-loreto").await;
    assert!(status == 403 || status == 404, "{status}");
    // Not the office, not the relay status.
    let (status, _) = get_json(
        &national.url(&format!("/api/office/{DB}/inbox")),
        "relay-loreto",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = get_json(&national.url("/api/relay"), "relay-loreto").await;
    assert_eq!(status, 403);
    // A server with no relay configured says so with an empty list.
    let (status, body) = get_json(&national.url("/api/relay"), "lima").await;
    assert_eq!((status, body), (200, json!([])));

    // A second revision of an event that exists is refused: a stolen relay credential cannot
    // turn a real prosecution into another.
    let event_id = fixtures::event_id(0, 1);
    let mut forged = fixtures::prosecution_json(0, 1);
    forged["by"] = json!("fiscal");
    forged["case_number"] = json!("CF-0000-FORGED");
    forged["_rev"] = json!("1-ffffffffffffffffffffffffffffffff");
    let response = client()
        .post(format!("{national_db}/_bulk_docs"))
        .basic_auth("relay-loreto", Some(PASSWORD))
        .json(&json!({"docs": [forged], "new_edits": false}))
        .send()
        .await
        .unwrap();
    let results: Value = response.json().await.unwrap();
    assert_eq!(results[0]["error"], "forbidden", "{results}");
    assert_eq!(
        leaves(national_db, "lima", event_id.as_str()).await.len(),
        1
    );
}

/// A one-page HTTP server that is not CouchDB: every request gets an HTML page.
fn not_couchdb() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<html><body>Router login</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_says_in_words_why_it_fails_and_the_server_keeps_serving() {
    let temp = tempfile::tempdir().unwrap();
    let national_dir = national_data(temp.path());
    let region_dir = region_data(temp.path());
    let national = Server::start(&national_dir, None, &[]);
    let html = not_couchdb();
    let config = relay_config(
        temp.path(),
        &[
            (
                "down",
                format!("http://127.0.0.1:{}/db", free_port()),
                "CHASKI_RELAY_OK",
            ),
            ("badpass", national.url("/db"), "CHASKI_RELAY_BAD"),
            (
                "html",
                format!("http://127.0.0.1:{html}/db"),
                "CHASKI_RELAY_OK",
            ),
        ],
    );
    let good = format!("relay-loreto:{PASSWORD}");
    let region = Server::start(
        &region_dir,
        Some(&config),
        &[
            ("CHASKI_RELAY_OK", good.as_str()),
            ("CHASKI_RELAY_BAD", "relay-loreto:not the password at all"),
        ],
    );
    let expect = [
        ("down", "unreachable"),
        ("badpass", "401 bad credentials"),
        ("html", "not CouchDB"),
    ];
    eventually(
        Duration::from_secs(20),
        "every relay's error in words",
        || async {
            let rows = relay_status(&region).await;
            expect.iter().all(|(name, words)| {
                let row = rows
                    .iter()
                    .find(|r| r["name"] == *name && r["direction"] == "push");
                row.is_some_and(|r| {
                    r["last_error"]
                        .as_str()
                        .is_some_and(|e| e.starts_with(words))
                        && (r["state"] == "error" || r["state"] == "backing_off")
                })
            })
        },
    )
    .await;
    let rows = relay_status(&region).await;
    let state = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name && r["direction"] == "push")
            .map(|r| r["state"].clone())
    };
    assert_eq!(state("down"), Some(json!("backing_off")), "{rows:?}");
    assert_eq!(state("badpass"), Some(json!("error")), "{rows:?}");
    assert_eq!(state("html"), Some(json!("error")), "{rows:?}");

    // The region keeps serving: health, and a tablet's record written and read back.
    let health = client()
        .get(region.url("/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let tablet = Tablet::new(&region);
    tablet.record(1).await;
    tablet.push().await;
    let id = fixtures::inspection_id(1);
    let (status, _) = get_json(&region.url(&format!("/db/{DB}/{id}")), "ines").await;
    assert_eq!(status, 200);
    // Only administrators see the status.
    let (status, _) = get_json(&region.url("/api/relay"), "ines").await;
    assert_eq!(status, 403);

    // The relays stop with the server: SIGTERM ends it at once, backing off or not.
    let mut region = region;
    let stopping = Instant::now();
    region.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "the region took {:?} to stop",
        stopping.elapsed()
    );
}

#[test]
fn a_relay_to_an_unknown_database_or_a_bad_key_stops_start_up_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let data = region_data(temp.path());
    let config = temp.path().join("chaski.toml");
    std::fs::write(
        &config,
        "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\", \"lorto\"]\n\
         target = \"http://127.0.0.1:9/db\"\n",
    )
    .unwrap();
    let out = chaski(&data, &["--config"])
        .arg(&config)
        .args(["--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("\"lorto\"") && stderr.contains("line 2"),
        "{stderr}"
    );
    assert!(stderr.contains("chaski.toml"), "{stderr}");

    std::fs::write(&config, "bind = \"127.0.0.1:0\"\nmax_conections = 5\n").unwrap();
    let out = chaski(&data, &["--config"]).arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 2")
            && stderr.contains("max_conections")
            && stderr.contains("chaski.toml"),
        "{stderr}"
    );

    // Credentials are read when the server starts: administration commands need none.
    std::fs::write(
        &config,
        "[[relay]]\nname = \"lima\"\ndatabases = [\"loreto\"]\n\
         target = \"http://127.0.0.1:9/db\"\ncredentials_env = \"CHASKI_RELAY_UNSET\"\n",
    )
    .unwrap();
    let out = chaski(&data, &["--config"])
        .arg(&config)
        .args(["user", "list"])
        .env_remove("CHASKI_RELAY_UNSET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = chaski(&data, &["--config"])
        .arg(&config)
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("CHASKI_RELAY_UNSET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("CHASKI_RELAY_UNSET") && stderr.contains("line 2"),
        "{stderr}"
    );

    // CHASKI_CONFIG names the file too, for the administration commands as for the server.
    std::fs::write(&config, "bind = \"not an address\"\n").unwrap();
    let out = chaski(&data, &["user", "list"])
        .env("CHASKI_CONFIG", &config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("bind"), "{stderr}");
}

/// Median latency from a tablet's push (one record, the shared replicator) to the record
/// being readable on the national server, over 100 records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo test -p chaski-server --test relay -- --ignored --nocapture latency"]
async fn the_latency_from_a_tablets_push_to_the_national_server() {
    let temp = tempfile::tempdir().unwrap();
    let national = Server::start(&national_data(temp.path()), None, &[]);
    let config = relay_config(
        temp.path(),
        &[("lima", national.url("/db"), "CHASKI_RELAY_LIMA")],
    );
    let credentials = format!("relay-loreto:{PASSWORD}");
    let region = Server::start(
        &region_data(temp.path()),
        Some(&config),
        &[("CHASKI_RELAY_LIMA", &credentials)],
    );
    let national_db = national.url(&format!("/db/{DB}"));
    let tablet = Tablet::new(&region);
    let mut latencies = Vec::new();
    let mut pushes = Vec::new();
    for n in 0..100 {
        tablet.record(n).await;
        let start = Instant::now();
        tablet.push().await;
        pushes.push(start.elapsed());
        let url = format!("{national_db}/{}", fixtures::inspection_id(n));
        loop {
            if get_json(&url, "lima").await.0 == 200 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "record {n} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    pushes.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "tablet push -> national, 100 records: median {:.0} ms, p90 {:.0} ms, max {:.0} ms \
         (the tablet's own push to the region: median {:.0} ms)",
        ms(latencies[49]),
        ms(latencies[89]),
        ms(latencies[99]),
        ms(pushes[49])
    );
}

/// Stock `pouchdb-server` 4.2 from npm, in memory (`tests/e2e/pouchdb-server.mjs` runs it), on
/// a free port: a third-party CouchDB-compatible target. Missing Node or packages is a failure,
/// never a skip: `npm ci` at the repository root installs them (`package.json`).
struct PouchServer {
    child: Child,
    port: u16,
}

impl PouchServer {
    fn start(folder: &Path) -> PouchServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let script = root.join("tests/e2e/pouchdb-server.mjs");
        assert!(
            root.join("node_modules/pouchdb-server").exists(),
            "node_modules/pouchdb-server is missing: run `npm ci` at the repository root \
             (package.json lists it)"
        );
        let port = free_port();
        std::fs::create_dir_all(folder).unwrap();
        let mut child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .current_dir(folder)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the PouchDB server (is Node.js installed?)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the PouchDB server's first line");
        assert!(
            line.contains("listening on"),
            "the PouchDB server said {line:?}"
        );
        PouchServer { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PouchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET` with Basic auth for `user`, or none (pouchdb-server runs as an open "admin party").
async fn get_as(url: &str, user: Option<&str>) -> (u16, Value) {
    let mut request = client().get(url).header("Accept", "application/json");
    if let Some(user) = user {
        request = request.basic_auth(user, Some(PASSWORD));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A document's whole revision tree as the server shows it: each leaf with its ancestry, its
/// deletion flag, and its attachments' digests, sorted by leaf.
async fn revision_tree(db_url: &str, user: Option<&str>, id: &str) -> Vec<Value> {
    let (status, body) = get_as(&format!("{db_url}/{id}?open_revs=all&revs=true"), user).await;
    assert_eq!(status, 200, "{db_url}/{id}: {body}");
    let mut leaves: Vec<Value> = body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row.get("ok"))
        .map(|doc| {
            let digests: Value = doc["_attachments"]
                .as_object()
                .map(|atts| {
                    atts.iter()
                        .map(|(name, a)| (name.clone(), a["digest"].clone()))
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                })
                .unwrap_or(Value::Null);
            json!({
                "rev": doc["_rev"],
                "revisions": doc["_revisions"],
                "deleted": doc["_deleted"].as_bool().unwrap_or(false),
                "attachments": digests,
                "notes": doc["notes"],
            })
        })
        .collect();
    leaves.sort_by_key(|leaf| leaf["rev"].as_str().unwrap_or_default().to_owned());
    leaves
}

/// Every document id of a database, deleted ones included (from `_changes`).
async fn every_id(db_url: &str, user: Option<&str>) -> Vec<String> {
    let (_, changes) = get_as(&format!("{db_url}/_changes?style=all_docs"), user).await;
    let mut ids: Vec<String> = changes["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_into_a_stock_pouchdb_server_every_document_revision_tree_and_conflict() {
    let temp = tempfile::tempdir().unwrap();
    let pouch = PouchServer::start(&temp.path().join("pouchdb-server"));
    let created = client()
        .put(pouch.url(&format!("/{DB}")))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let config = temp.path().join("chaski.toml");
    std::fs::write(
        &config,
        format!(
            "[[relay]]\nname = \"archive\"\ndatabases = [\"{DB}\"]\ntarget = \"{}\"\n",
            pouch.url("")
        ),
    )
    .unwrap();
    let region = Server::start(&region_data(temp.path()), Some(&config), &[]);
    let region_db = region.url(&format!("/db/{DB}"));
    let pouch_db = pouch.url(&format!("/{DB}"));
    let tablet = Tablet::new(&region);

    // 30 inspections, 5 of them with a photo; some edited twice at the region, conflicts
    // made between the tablet (offline) and the region, and one deleted.
    for n in 0..30 {
        let mut value = fixtures::inspection_json_in(n, Region::Loreto);
        if n % 6 == 0 {
            value = fixtures::inspection_with_photo_json(n, 4000 + n as usize);
            value["region"] = json!(DB);
        }
        let written = tablet
            .local
            .store()
            .bulk_docs(vec![fixtures::doc(value)], true)
            .await
            .unwrap();
        assert!(written[0].is_ok(), "{written:?}");
    }
    tablet.push().await;
    for n in [1, 2, 3] {
        let url = format!("{region_db}/{}", fixtures::inspection_id(n));
        for round in 0..2 {
            let (_, mut doc) = get_as(&url, Some("ines")).await;
            doc["notes"] = json!(format!("Edited at the region, round {round}."));
            let (status, body) = put_json(&url, "ines", &doc).await;
            assert_eq!(status, 201, "{body}");
        }
    }
    for n in [4, 5, 6] {
        let id = fixtures::inspection_id(n);
        let mut mine = tablet
            .local
            .store()
            .get(&id, &GetOptions::default())
            .await
            .unwrap();
        mine.body
            .insert("notes".into(), json!("Edited on the tablet."));
        tablet
            .local
            .store()
            .bulk_docs(vec![mine], true)
            .await
            .unwrap();
        let url = format!("{region_db}/{id}");
        let (_, mut doc) = get_as(&url, Some("ines")).await;
        doc["notes"] = json!("Edited at the region.");
        let (status, body) = put_json(&url, "ines", &doc).await;
        assert_eq!(status, 201, "{body}");
    }
    tablet.push().await;
    let gone = fixtures::inspection_id(7);
    let (_, doc) = get_as(&format!("{region_db}/{gone}"), Some("ines")).await;
    let deleted = client()
        .delete(format!(
            "{region_db}/{gone}?rev={}",
            doc["_rev"].as_str().unwrap()
        ))
        .basic_auth("ines", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);

    let ids = every_id(&region_db, Some("ines")).await;
    assert_eq!(ids.len(), 30);
    eventually(
        Duration::from_secs(30),
        "every document at pouchdb-server",
        || async { every_id(&pouch_db, None).await == ids },
    )
    .await;
    // Every revision tree, leaf by leaf with its ancestry, deletion and attachments.
    let mut conflicts = 0;
    for id in &ids {
        let ours = revision_tree(&region_db, Some("ines"), id).await;
        let mut theirs = revision_tree(&pouch_db, None, id).await;
        let start = Instant::now();
        while theirs != ours && start.elapsed() < Duration::from_secs(15) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            theirs = revision_tree(&pouch_db, None, id).await;
        }
        assert_eq!(theirs, ours, "{id}");
        if ours.len() > 1 {
            conflicts += 1;
        }
    }
    assert_eq!(conflicts, 3, "the three conflicts arrived as conflicts");
    let with_photo = fixtures::inspection_id(0);
    let photo = client()
        .get(pouch.url(&format!("/{DB}/{with_photo}/photo-1.jpg")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(photo.len(), 4000);

    // A conflict made at the third-party server comes back (direction `both`): the same tree
    // on both sides.
    let id = fixtures::inspection_id(8);
    let (_, mut doc) = get_as(&format!("{pouch_db}/{id}"), None).await;
    doc["notes"] = json!("Edited at the archive.");
    let edited = client()
        .put(format!("{pouch_db}/{id}"))
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 201);
    let url = format!("{region_db}/{id}");
    let (_, mut doc) = get_as(&url, Some("ines")).await;
    doc["notes"] = json!("Edited at the region meanwhile.");
    let (status, _) = put_json(&url, "ines", &doc).await;
    assert!(status == 201 || status == 409, "{status}");
    eventually(
        Duration::from_secs(20),
        "the archive's edit at the region",
        || async {
            let ours = revision_tree(&region_db, Some("ines"), id.as_str()).await;
            ours.iter()
                .any(|leaf| leaf["notes"] == "Edited at the archive.")
                && ours == revision_tree(&pouch_db, None, id.as_str()).await
        },
    )
    .await;
    let rows = relay_status(&region).await;
    assert!(rows.iter().all(|r| r["last_error"].is_null()), "{rows:?}");
}

/// `tests/e2e/tls-proxy.mjs`: HTTPS on a free port in front of `target_port`, with the test
/// certificate for `localhost` and `127.0.0.1` (signed by `server/tests/fixtures/tls/ca.pem`).
fn tls_proxy(target_port: u16) -> (Child, u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let port = free_port();
    let mut child = Command::new("node")
        .arg(root.join("tests/e2e/tls-proxy.mjs"))
        .arg(port.to_string())
        .arg(target_port.to_string())
        .arg(tls.join("server.pem"))
        .arg(tls.join("server.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the TLS proxy (is Node.js installed?)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the TLS proxy's first line");
    assert!(line.contains("listening on"), "the TLS proxy said {line:?}");
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_reaches_an_https_national_server_and_refuses_an_untrusted_certificate() {
    let temp = tempfile::tempdir().unwrap();
    let national = Server::start(&national_data(temp.path()), None, &[]);
    let (mut proxy, port) = tls_proxy(national.port);
    let config = relay_config(
        temp.path(),
        &[(
            "lima",
            format!("https://localhost:{port}/db"),
            "CHASKI_RELAY_LIMA",
        )],
    );
    let credentials = format!("relay-loreto:{PASSWORD}");
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    let ca = ca.to_str().unwrap();
    let mut region = Server::start(
        &region_data(temp.path()),
        Some(&config),
        &[("CHASKI_RELAY_LIMA", &credentials), ("SSL_CERT_FILE", ca)],
    );
    let tablet = Tablet::new(&region);
    tablet.record(1).await;
    tablet.push().await;
    let url = national.url(&format!("/db/{DB}/{}", fixtures::inspection_id(1)));
    eventually(
        Duration::from_secs(15),
        "the record at national over https",
        || async { get_json(&url, "lima").await.0 == 200 },
    )
    .await;

    // Without the authority that signed the certificate, the relay says so in words.
    region.stop();
    region.env.retain(|(k, _)| k != "SSL_CERT_FILE");
    region.env.push((
        "SSL_CERT_FILE".to_owned(),
        temp.path().join("no-such-ca.pem").display().to_string(),
    ));
    region.restart();
    tablet.record(2).await;
    tablet.push().await;
    eventually(
        Duration::from_secs(15),
        "the untrusted certificate in words",
        || async {
            relay_status(&region).await.first().is_some_and(|row| {
                row["state"] == "error"
                    && row["last_error"]
                        .as_str()
                        .is_some_and(|e| e.starts_with("TLS: ") && e.contains("not trusted"))
            })
        },
    )
    .await;
    // While it waits to retry, the push still counts the record waiting.
    eventually(Duration::from_secs(5), "one record pending", || async {
        relay_status(&region).await[0]["pending"] == 1
    })
    .await;
    let _ = proxy.kill();
    let _ = proxy.wait();
}
