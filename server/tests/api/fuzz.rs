//! A bounded HTTP fuzz smoke test: a few thousand requests mutated from a fixed seed (so a
//! failure replays exactly) against the real server, authenticated and not, over every kind of
//! route, with odd ids, methods, query strings, headers and bodies. Nothing may answer 5xx or
//! drop the connection (what a panicking handler does), and the server must be healthy after.
//!
//! `CHASKI_FUZZ_SEED` and `CHASKI_FUZZ_REQUESTS` replay or widen a run by hand.

use chaski_server::auth::Role;
use chaski_shared::domain::fixtures;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{basic_auth, spawn_app_with, TestApp};

const REGION: &str = "madre-de-dios";
const OTHER: &str = "protocol-test";
const SEED: u64 = 0x00C4_A5C1_F022_2026;
const REQUESTS: usize = 4000;

/// SplitMix64: tiny, good enough to pick from lists, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The credentials a request may carry.
struct Keys {
    admin: String,
    inspector: String,
    session_cookie: String,
}

/// One request, kept whole so that a failure can be printed.
struct Case {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path: String = self.path.chars().take(160).collect();
        write!(f, "{} {path} {:?}", self.method, self.headers)?;
        if let Some(body) = &self.body {
            let text = String::from_utf8_lossy(&body[..body.len().min(160)]);
            write!(f, " body({} bytes): {text}", body.len())?;
        }
        Ok(())
    }
}

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "PUT", "PUT", "POST", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS",
    "COPY", "PROPFIND", "TRACE",
];

const DBS: &[&str] = &[
    REGION,
    REGION,
    OTHER,
    "loreto",
    "nonexistent-db",
    "_users",
    "_replicator",
    "Bad%20Name",
    "..",
    "%2e%2e",
    "a%00b",
    "%ff%fe",
    "db%2Fslash",
];

const IDS: &[&str] = &[
    "inspection:fuzz-1",
    "inspection:fuzz-2",
    "event:inspection:fuzz-1:a",
    "plain",
    "_design/app",
    "_local/ckpt",
    "_design",
    "_local",
    "_bogus",
    "%00",
    "%2e%2e",
    "a%2Fb",
    "%C3%B1and%C3%BA",
    "%ED%A0%80",
    "%ff",
    "",
    ".",
    "..",
    "x%20y",
    "id?with=query",
];

const QUERY_KEYS: &[&str] = &[
    "rev",
    "revs",
    "revs_info",
    "open_revs",
    "latest",
    "conflicts",
    "deleted_conflicts",
    "meta",
    "attachments",
    "atts_since",
    "att_encoding_info",
    "new_edits",
    "since",
    "limit",
    "style",
    "include_docs",
    "descending",
    "feed",
    "heartbeat",
    "timeout",
    "doc_ids",
    "filter",
    "seq_interval",
    "keys",
    "key",
    "startkey",
    "endkey",
    "start_key",
    "inclusive_end",
    "skip",
    "update_seq",
    "user",
    "batch",
    "w",
];

const QUERY_VALUES: &[&str] = &[
    "",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "3",
    "now",
    "all",
    "all_docs",
    "normal",
    "continuous",
    "eventsource",
    "longpoll",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "NaN",
    "%5B%5D",
    "%5B%221-abc%22%5D",
    "%5B%2218446744073709551615-a%22%5D",
    "%5B1%2C2%5D",
    "%7B%7D",
    "%22x%22",
    "%22",
    "%5B",
    "1-abc",
    "1-",
    "-1-a",
    "0-0",
    "18446744073709551615-ff",
    "abc",
    "%ZZ",
    "%",
    "_view",
    "ddoc%2Fname",
    "%00",
    "%E2%82%AC",
];

fn pick_id(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => "x".repeat(600),
        1 => format!("inspection:{}", rng.next()),
        _ => rng.pick(IDS).to_owned(),
    }
}

fn pick_path(rng: &mut Rng) -> String {
    let db = rng.pick(DBS).to_owned();
    let id = pick_id(rng);
    let mut path = match rng.below(34) {
        0 => "/".to_owned(),
        1 => "/index.html".to_owned(),
        2 => "/sw.js/x".to_owned(),
        3 => "/icons/icon-192.png/a/b".to_owned(),
        4 => "/a".repeat(1 + rng.below(2500)),
        5 => format!("/{}", "n".repeat(200 + rng.below(200))),
        6 => "/api/health".to_owned(),
        7 => "/api/login".to_owned(),
        8 => "/api/me".to_owned(),
        9 => "/api/tokens".to_owned(),
        10 => format!("/api/tokens/{id}"),
        11 => "/api/logout".to_owned(),
        12 => format!("/api/{id}"),
        13 => "/db".to_owned(),
        14 => "/db/".to_owned(),
        15 => "/db/_all_dbs".to_owned(),
        16 => "/db/_session".to_owned(),
        17 => format!("/db/{db}"),
        18 => format!("/db/{db}/"),
        19 => format!("/db/{db}/_changes"),
        20 => format!("/db/{db}/_bulk_docs"),
        21 => format!("/db/{db}/_bulk_get"),
        22 => format!("/db/{db}/_revs_diff"),
        23 => format!("/db/{db}/_all_docs"),
        24 => format!("/db/{db}/_ensure_full_commit"),
        25 => format!("/db/{db}/_local/{id}"),
        26 => format!("/db/{db}/_design/{id}"),
        27 => format!("/db/{db}/_design/{id}/att.txt"),
        28 => format!("/db/{db}/_compact"),
        29 => format!("/db/{db}/{id}/photo.jpg"),
        30 => format!("/db/{db}/{id}/a/b/%2F/c"),
        31 => format!("/db/{db}/_{id}"),
        _ => format!("/db/{db}/{id}"),
    };
    if rng.chance(40) {
        let pairs = 1 + rng.below(4);
        for i in 0..pairs {
            path.push(if i == 0 { '?' } else { '&' });
            let key = rng.pick(QUERY_KEYS);
            // A longpoll waits for a write (at most the configured second): keep them rare.
            let value = match rng.pick(QUERY_VALUES) {
                "longpoll" | "continuous" | "eventsource" if !rng.chance(10) => "normal",
                value => value,
            };
            path.push_str(key);
            if !rng.chance(10) {
                path.push('=');
                path.push_str(value);
            }
        }
    }
    if rng.chance(3) {
        path.push_str(rng.pick(&["#frag", "?", "&&", "?=", "?a=1&a=2"]));
    }
    path
}

/// A document-ish JSON body: valid documents, replication shapes, and type confusion.
fn json_body(rng: &mut Rng) -> Value {
    let inspection = fixtures::inspection_json(rng.next() % 5);
    match rng.below(26) {
        0 => inspection,
        1 => fixtures::inspection_with_photo_json(rng.next() % 5, 64),
        2 => json!({"docs": [inspection, {"_id": "plain", "a": 1}, 1, null, "x"]}),
        3 => json!({"docs": [{"_id": "inspection:r", "_rev": "3-abc", "_deleted": true,
            "_revisions": {"start": 3, "ids": ["abc", "def"]}, "dni": "45678912"}],
            "new_edits": false}),
        4 => json!({"docs": [{"_id": "a", "_rev": "18446744073709551615-a",
            "_revisions": {"start": 18446744073709551615_u64, "ids": ["a"]}}], "new_edits": false}),
        5 => json!({"docs": [{"_id": "a", "_revisions": {"start": -1, "ids": []}}],
            "new_edits": "false"}),
        6 => json!({"docs": 5}),
        7 => json!({"docs": {"a": 1}}),
        8 => json!({"docs": [[], [[]], {"_id": 7}, {"_id": ""}, {"_id": "_local/x"}]}),
        9 => json!({"inspection:fuzz-1": ["1-abc", 2, null], "plain": "1-a", "x": []}),
        10 => json!({"docs": [{"id": "plain"}, {"id": 5, "rev": []}, {"rev": "1-a"}, 1]}),
        11 => json!({"keys": ["plain", 1, null, {"a": 1}], "startkey": "a"}),
        12 => json!({"name": "admin", "password": "wrong password here", "device": "x"}),
        13 => json!({"name": 1, "password": ["x"]}),
        14 => json!({"_id": "plain", "_attachments": {"a.html": {"content_type": "text/html",
            "data": "PHNjcmlwdD4="}, "b": {"stub": true}, "c": {"data": "!!!"}, "d": 5}}),
        15 => json!({"_id": "plain", "_rev": "1-", "_deleted": "yes", "_conflicts": 1}),
        16 => json!({"_id": "plain", "_unknown": 1, "_revisions": "x"}),
        17 => json!({"type": "case_event", "kind": "outcome", "sentence": {"years": -1e300}}),
        18 => json!({"type": "inspection", "people": [{"code": "P-1", "name": "X"}],
            "workers": {"total": 1.5e308, "minors_under_14": -0.0}}),
        19 => json!([1, 2, 3]),
        20 => json!(null),
        21 => json!("just a string"),
        22 => json!(12345678901234567890_u64),
        23 => {
            json!({"docs": (0..200).map(|i| json!({"_id": format!("bulk-{i}"), "v": i})).collect::<Vec<_>>()})
        }
        24 => json!({"a": "é\u{0}\u{ffff}", "nested": {"deep": [[[[[[[[[[{"x": {}}]]]]]]]]]]}}),
        _ => json!({}),
    }
}

fn body(rng: &mut Rng) -> Option<Vec<u8>> {
    let bytes = match rng.below(14) {
        0 => return None,
        1 => Vec::new(),
        // Deeper than any parser should recurse.
        2 => {
            let depth = 1000 + rng.below(20_000);
            let mut b = "[".repeat(depth).into_bytes();
            b.extend("]".repeat(depth).into_bytes());
            b
        }
        3 => format!("{{\"big\": \"{}\"}}", "x".repeat(rng.below(300_000))).into_bytes(),
        4 => (0..rng.below(512)).map(|_| rng.next() as u8).collect(),
        5 => b"{\"a\": \"\\ud800\"}".to_vec(),
        6 => b"{\"a\": 1e999999, \"b\": -}".to_vec(),
        7 => b"\xef\xbb\xbf{\"_id\": \"bom\"}".to_vec(),
        _ => {
            let mut b = serde_json::to_vec(&json_body(rng)).unwrap_or_default();
            // Cut it, or flip a few bytes.
            match rng.below(4) {
                0 if !b.is_empty() => b.truncate(rng.below(b.len())),
                1 => {
                    for _ in 0..1 + rng.below(4) {
                        if !b.is_empty() {
                            let at = rng.below(b.len());
                            b[at] = rng.pick(&[b'"', b'{', b'}', b'\\', b'0', 0xFF, b',']);
                        }
                    }
                }
                _ => {}
            }
            b
        }
    };
    Some(bytes)
}

fn headers(rng: &mut Rng, keys: &Keys) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let auth = match rng.below(12) {
        0..=2 => Some(format!("Bearer {}", keys.inspector)),
        3..=4 => Some(format!("Bearer {}", keys.admin)),
        5 => Some("Bearer not.a-token".to_owned()),
        6 => Some(format!("Bearer {}", keys.session_cookie)),
        // Basic runs argon2: rare, and the limiter soon answers 429 instead.
        7 if rng.chance(15) => Some(basic_auth("fuzz-admin", "wrong")),
        8 => Some(
            rng.pick(&[
                "Basic",
                "Basic %%%",
                "Basic Og==",
                "Digest x",
                "Bearer",
                "bearer  ",
            ])
            .to_owned(),
        ),
        _ => None,
    };
    if let Some(auth) = auth {
        out.push(("authorization".to_owned(), auth));
    }
    if rng.chance(10) {
        let cookie = rng.pick(&[
            "AuthSession=",
            "AuthSession=x.y",
            "a=b; AuthSession",
            "AuthSession=;;;",
        ]);
        let cookie = if rng.chance(50) {
            format!("AuthSession={}", keys.session_cookie)
        } else {
            cookie.to_owned()
        };
        out.push(("cookie".to_owned(), cookie));
    }
    if rng.chance(70) {
        let content_type = rng.pick(&[
            "application/json",
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "image/jpeg",
            "application/x-msdownload",
            "multipart/related; boundary=xyz",
            "application/x-www-form-urlencoded",
            "",
            ";;;",
        ]);
        out.push(("content-type".to_owned(), content_type.to_owned()));
    }
    for (name, values) in [
        (
            "if-match",
            &["\"1-abc\"", "1-abc", "*", "\"\"", "W/\"x\""][..],
        ),
        ("if-none-match", &["*", "\"1-abc\"", "garbage"]),
        (
            "accept-encoding",
            &["gzip, br", "br;q=0", "*", "identity;q=0", "zstd"],
        ),
        (
            "accept",
            &[
                "application/json",
                "multipart/mixed",
                "text/html",
                "*/*;q=x",
            ],
        ),
        ("content-encoding", &["gzip", "br", "identity"]),
        (
            "origin",
            &["https://evil.example", "null", "http://127.0.0.1"],
        ),
        ("x-forwarded-proto", &["https", "gopher"]),
        ("x-forwarded-for", &["1.2.3.4", "not an address"]),
        ("range", &["bytes=0-1", "bytes=-5", "bytes=x"]),
        ("destination", &["other", "../x"]),
        ("expect", &["100-continue"]),
    ] {
        if rng.chance(6) {
            out.push((name.to_owned(), rng.pick(values).to_owned()));
        }
    }
    out
}

/// A method the path takes, most of the time, so that most requests reach a handler; any
/// method otherwise.
fn pick_method(rng: &mut Rng, path: &str) -> Method {
    let route = path.split('?').next().unwrap_or_default();
    let natural: &[&str] = if [
        "_bulk_docs",
        "_bulk_get",
        "_revs_diff",
        "_ensure_full_commit",
        "_compact",
        "/api/login",
        "/api/logout",
    ]
    .iter()
    .any(|p| route.ends_with(p))
    {
        &["POST"]
    } else if route.ends_with("_session") {
        &["GET", "POST", "DELETE"]
    } else if route.ends_with("_changes") || route.ends_with("_all_docs") {
        &["GET", "POST"]
    } else if route.starts_with("/db/") && route.len() > 4 && !route.ends_with("_all_dbs") {
        &["GET", "GET", "PUT", "PUT", "POST", "DELETE", "HEAD"]
    } else {
        &["GET", "GET", "HEAD", "DELETE"]
    };
    let name = if rng.chance(75) {
        rng.pick(natural)
    } else {
        rng.pick(METHODS)
    };
    Method::from_bytes(name.as_bytes()).unwrap_or(Method::GET)
}

fn make_case(rng: &mut Rng, keys: &Keys) -> Case {
    let path = pick_path(rng);
    let method = pick_method(rng, &path);
    let headers = headers(rng, keys);
    let body = if matches!(method, Method::GET | Method::HEAD) && !rng.chance(10) {
        None
    } else {
        body(rng)
    };
    Case {
        method,
        path,
        headers,
        body,
    }
}

#[tokio::test]
async fn thousands_of_mutated_requests_never_get_a_5xx_and_leave_the_server_healthy() {
    let app = spawn_app_with(|c| c.max_longpoll_secs = 1).await;
    app.token_for("fuzz-admin", Role::Admin, &[]).await;
    app.token_for("fuzz-inspector", Role::Inspector, &[REGION])
        .await;
    let mut keys = renew(&app).await;

    let seed = std::env::var("CHASKI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let requests = std::env::var("CHASKI_FUZZ_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(REQUESTS);
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    // A few requests at a time, as several tablets would send them.
    let mut batch = Vec::new();
    for i in 0..requests {
        // The fuzz logs out, revokes tokens and deletes databases like anyone may: renew
        // them now and then, so that most requests still reach something.
        if i % 200 == 199 {
            keys = renew(&app).await;
        }
        batch.push((i, make_case(&mut rng, &keys)));
        if batch.len() == 4 || i + 1 == requests {
            let results = futures_join(&app, &batch).await;
            for ((i, case), result) in batch.drain(..).zip(results) {
                match result {
                    Ok(status) if status < 500 => *statuses.entry(status).or_default() += 1,
                    Ok(status) => failures.push(format!("#{i}: {status} for {case}")),
                    Err(e) => failures.push(format!("#{i}: {e} for {case}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} requests (seed {seed:#x}) failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("fuzz: {requests} requests from seed {seed:#x}, statuses {statuses:?}");
    // Most requests must have reached a handler, or the fuzz tests nothing.
    let answered_ok: usize = statuses.range(200..300).map(|(_, n)| n).sum();
    assert!(answered_ok > requests / 20, "{statuses:?}");

    // Healthy afterwards: health answers, and a normal write and read work (with new tokens
    // and the database there again: the fuzz may well have removed them).
    let Keys { inspector, .. } = renew(&app).await;
    let health = app.get("/api/health").await;
    assert_eq!(health.status(), 200);
    let doc = fixtures::inspection_json(99);
    let id = doc["_id"].as_str().unwrap().to_owned();
    let put = app
        .client
        .put(app.url(&format!("/db/{REGION}/{id}")))
        .bearer_auth(&inspector)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.status(),
        201,
        "{}",
        put.text().await.unwrap_or_default()
    );
    let got: Value = app
        .client
        .get(app.url(&format!("/db/{REGION}/{id}")))
        .bearer_auth(&inspector)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["site_name"], doc["site_name"]);
}

/// New tokens and session for the fuzz's users, and its databases there (again).
async fn renew(app: &TestApp) -> Keys {
    let accounts = &app.state.accounts;
    let token = |user: &'static str| async move {
        accounts
            .issue_token(user, "fuzz")
            .await
            .expect("token")
            .token
    };
    let keys = Keys {
        admin: token("fuzz-admin").await,
        inspector: token("fuzz-inspector").await,
        session_cookie: accounts
            .issue_session(
                "fuzz-inspector",
                "CouchDB session",
                std::time::Duration::from_secs(600),
            )
            .await
            .expect("session")
            .token,
    };
    for db in [REGION, OTHER] {
        let created = app
            .client
            .put(app.url(&format!("/db/{db}")))
            .bearer_auth(&keys.admin)
            .send()
            .await
            .expect("create database");
        assert!(matches!(created.status().as_u16(), 201 | 412));
    }
    keys
}

/// Sends a batch concurrently and answers in order.
async fn futures_join(app: &TestApp, batch: &[(usize, Case)]) -> Vec<Result<u16, String>> {
    let mut set = tokio::task::JoinSet::new();
    for (slot, (_, case)) in batch.iter().enumerate() {
        let client = app.client.clone();
        let url = app.url(&case.path);
        let method = case.method.clone();
        let headers = case.headers.clone();
        let body = case.body.clone();
        set.spawn(async move {
            let mut request = client.request(method, url);
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            if let Some(body) = body {
                request = request.body(body);
            }
            let result = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(_) => Ok(status),
                        Err(e) => Err(format!("{status}, then the body broke off: {e:?}")),
                    }
                }
                Err(e) => Err(format!("no answer: {e:?}")),
            };
            (slot, result)
        });
    }
    let mut results: Vec<Result<u16, String>> = vec![Ok(0); batch.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((slot, result)) => results[slot] = result,
            Err(e) => results[0] = Err(format!("the client task failed: {e}")),
        }
    }
    results
}
