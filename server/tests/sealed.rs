//! Sealed identities and photos (issue 11) on the real `chaski` binary: region keys made with
//! `chaski keys create`, served to the region's people and to no other office, rotated;
//! openings in the custody log; and a record with a sealed identity and a sealed photo that
//! leaves neither the name, nor the identity number, nor the photo in clear in the data folder
//! on disk or in the server's log (at debug level), while records in clear are refused.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chaski_shared::domain::fixtures;
use serde_json::{json, Value};

// Only `chaski` and `run`: this file keeps every line of the server's log (`Server`).
#[allow(dead_code)]
#[path = "support/binary.rs"]
mod binary;
use binary::{chaski, run};

const PASSWORD: &str = "una clave bastante larga";
const PASSPHRASE: &str = "ribera tambor quinua lancha nublado";
/// The passphrase of the key made through the running server (`keys create --server`).
const ROTATION_PASSPHRASE: &str = "otra frase larga para la clave nueva de la oficina";
const DB: &str = "madre-de-dios";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server whose every log line (standard output and error, at debug level) is kept.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// A test that fails before [`Server::stop`] still stops its server.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = chaski(data, &["--bind", "127.0.0.1:0", "--static-dir"])
            .arg(data.with_file_name("dist"))
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chaski");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let out_log = log.clone();
        let out_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                out_log.lock().unwrap().extend_from_slice(line.as_bytes());
                out_log.lock().unwrap().push(b'\n');
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let err_log = log.clone();
        let err_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err_log.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            log,
            readers: vec![out_reader, err_reader],
        };
        // On a timeout the `expect` drops the server, which stops it.
        server.url = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the server says where it listens");
        server
    }

    /// Stops it with SIGTERM and returns everything it logged.
    fn stop(mut self) -> Vec<u8> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // The reader threads finish with the pipes, having read every line.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let log = self.log.lock().unwrap().clone();
        log
    }
}

fn setup(data: &Path) {
    let users: [&[&str]; 4] = [
        &["user", "add", "root", "--role", "admin"],
        &["user", "add", "ines", "--role", "inspector", "--region", DB],
        &[
            "user",
            "add",
            "sara",
            "--role",
            "supervisor",
            "--region",
            DB,
        ],
        &[
            "user",
            "add",
            "omar",
            "--role",
            "supervisor",
            "--region",
            "cusco",
        ],
    ];
    for args in users {
        let out = run(data, args, Some(PASSWORD));
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = run(data, &["db", "create", DB, "cusco"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn create_key(data: &Path, passphrase_file: &Path) -> std::process::Output {
    run(
        data,
        &[
            "keys",
            "create",
            "--region",
            DB,
            "--passphrase-file",
            passphrase_file.to_str().unwrap(),
        ],
        None,
    )
}

/// Logs `name` in; returns the token and the token's id.
async fn login(http: &reqwest::Client, url: &str, name: &str) -> (String, String) {
    let answer: Value = http
        .post(format!("{url}/api/login"))
        .json(&json!({"name": name, "password": PASSWORD, "device": format!("tablet of {name}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        answer["token"].as_str().expect("a token").to_owned(),
        answer["token_id"].as_str().expect("a token id").to_owned(),
    )
}

/// Sends `request` with `token`: (status, JSON answer or null).
async fn send(request: reqwest::RequestBuilder, token: &str) -> (u16, Value) {
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The custody log's entry at `index`, as `GET /api/log/entries` gives it.
async fn log_entry(http: &reqwest::Client, url: &str, token: &str, index: u64) -> Value {
    let path = format!("/api/log/entries?start={index}&end={}", index + 1);
    let (status, page) = get(http, url, token, &path).await;
    assert_eq!(status, 200, "{page}");
    page["entries"][0]["entry"].clone()
}

async fn get(http: &reqwest::Client, url: &str, token: &str, path: &str) -> (u16, Value) {
    send(http.get(format!("{url}{path}")), token).await
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    send(http.post(format!("{url}{path}")).json(body), token).await
}

/// `PUT`s `doc` (at its own `_id`) and expects a 400 whose reason says `because`; returns the
/// reason.
async fn put_refused(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    doc: &Value,
    because: &str,
) -> String {
    let id = doc["_id"].as_str().expect("the test's document has an id");
    let (status, answer) = put(http, url, token, &format!("/db/{DB}/{id}"), doc).await;
    assert_eq!(status, 400, "{answer}");
    let reason = answer["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains(because), "{answer}");
    reason
}

async fn put(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    send(http.put(format!("{url}{path}")).json(body), token).await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, read whole.
fn every_file(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

#[tokio::test]
async fn region_keys_made_on_the_command_line_reach_the_region_and_no_other_office_and_rotate() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    setup(&data);

    // A weak passphrase is refused with the reason, and never repeated.
    let weak = temp.path().join("weak");
    std::fs::write(&weak, "madre-de-dios 2026\n").unwrap();
    let refused = create_key(&data, &weak);
    assert!(!refused.status.success());
    let said = text(&refused.stderr) + &text(&refused.stdout);
    assert!(said.contains("too easy to guess"), "{said}");
    assert!(!said.contains("madre-de-dios 2026"), "{said}");

    let file = temp.path().join("passphrase");
    std::fs::write(&file, format!("{PASSPHRASE}\n")).unwrap();
    let created = create_key(&data, &file);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let said = text(&created.stdout);
    assert!(said.contains(&format!("created key {DB}-")), "{said}");
    assert!(said.contains("BACK UP THE PASSPHRASE"), "{said}");
    assert!(!said.contains(PASSPHRASE) && !text(&created.stderr).contains(PASSPHRASE));
    let first_id = said
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{DB}-")))
        .unwrap()
        .to_owned();
    let listed = text(&run(&data, &["keys", "list", "--region", DB], None).stdout);
    assert!(
        listed.contains(&format!("{DB}\t{first_id}\t")) && listed.contains("\tcurrent"),
        "{listed}"
    );

    let server = Server::start(&data);
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let (ines, _) = login(&http, &url, "ines").await;
    let (sara, sara_token_id) = login(&http, &url, "sara").await;
    let (omar, _) = login(&http, &url, "omar").await;
    let (root, _) = login(&http, &url, "root").await;

    // The inspector's profile carries the region's current public key.
    let (status, me) = get(&http, &url, &ines, "/api/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["seal_keys"][0]["region"], DB, "{me}");
    assert_eq!(me["seal_keys"][0]["key_id"], first_id.as_str(), "{me}");
    assert_eq!(me["seal_keys"].as_array().unwrap().len(), 1, "{me}");
    let (_, me) = get(&http, &url, &omar, "/api/me").await;
    assert_eq!(me["seal_keys"], json!([]), "cusco has no key yet: {me}");

    // The region's supervisor gets the wrapped key, which her passphrase unwraps.
    let keys_path = format!("/api/keys?region={DB}");
    let (status, keys) = get(&http, &url, &sara, &keys_path).await;
    assert_eq!(status, 200, "{keys}");
    let wrapped: chaski_seal::WrappedKey =
        serde_json::from_value(keys["keys"][0]["wrapped"].clone()).unwrap();
    let secret = chaski_seal::unwrap(&wrapped, PASSPHRASE).expect("the passphrase unwraps it");
    assert_eq!(
        secret.public().to_b64(),
        me_key(&http, &url, &ines).await.1,
        "the key the tablet seals to is the one the office unwraps"
    );
    assert!(matches!(
        chaski_seal::unwrap(&wrapped, "not the passphrase at all"),
        Err(chaski_seal::SealError::WrongPassphrase)
    ));
    // Another region's supervisor, and the inspector, may not have it.
    let (status, body) = get(&http, &url, &omar, &keys_path).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("cusco"), "{body}");
    let (status, _) = get(&http, &url, &ines, &keys_path).await;
    assert_eq!(status, 403);
    let (status, body) = get(&http, &url, &sara, "/api/keys?region=atlantis").await;
    assert_eq!(status, 400, "{body}");

    // On the data folder while the server holds it: said before any passphrase is asked.
    let busy = run(&data, &["keys", "create", "--region", DB], None);
    assert!(!busy.status.success());
    let said = text(&busy.stderr);
    assert!(
        said.contains("running chaski server") && said.contains("--server"),
        "{said}"
    );

    // Rotation through the running server (`--server`, as an administrator).
    let rotated = chaski(
        &data,
        &[
            "keys", "create", "--region", DB, "--server", &url, "--as", "root",
        ],
    )
    .env("CHASKI_ADMIN_PASSWORD", PASSWORD)
    .env("CHASKI_KEY_PASSPHRASE", ROTATION_PASSPHRASE)
    .output()
    .unwrap();
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let said = text(&rotated.stdout);
    assert!(said.contains("1 older key"), "{said}");
    let (new_id, _) = me_key(&http, &url, &ines).await;
    assert_ne!(new_id, first_id);
    let (_, keys) = get(&http, &url, &sara, &keys_path).await;
    let ids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [new_id.as_str(), first_id.as_str()], "newest first");

    // A key that is not what it claims is refused with the reason; only admins add keys.
    let mut forged = keys["keys"][1].clone();
    forged["wrapped"]["key_id"] = json!("cusco-0123456789abcdef");
    let body = json!({"region": DB, "public_key_b64": forged["public_key_b64"],
                      "wrapped": forged["wrapped"]});
    let (status, answer) = post(&http, &url, &root, "/api/admin/keys", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["reason"]
        .as_str()
        .unwrap()
        .contains("wrapped.key_id"));
    let (status, _) = post(&http, &url, &sara, "/api/admin/keys", &body).await;
    assert_eq!(status, 403);
    let again = json!({"region": DB, "public_key_b64": keys["keys"][1]["public_key_b64"],
                       "wrapped": keys["keys"][1]["wrapped"]});
    let (status, _) = post(&http, &url, &root, "/api/admin/keys", &again).await;
    assert_eq!(status, 409);

    // An opening is in the custody log, with the supervisor's device token id, before 201.
    let opening = json!({"db": DB, "doc_id": "inspection:x", "person_code": "P-001",
                         "key_id": first_id});
    let (status, answer) = post(&http, &url, &sara, "/api/log/opening", &opening).await;
    assert_eq!(status, 201, "{answer}");
    let index = answer["index"].as_u64().unwrap();
    let entry = &log_entry(&http, &url, &sara, index).await;
    assert_eq!(entry["kind"], "identity_opened", "{entry}");
    assert_eq!(entry["user"], "sara");
    assert_eq!(entry["token_id"], sara_token_id.as_str());
    assert_eq!(entry["person"], "P-001");
    assert_eq!(entry["key_id"], first_id.as_str());
    assert_eq!(entry["id"], "inspection:x");
    assert!(entry.get("device").is_none(), "{entry}");
    for (who, token) in [("omar", &omar), ("ines", &ines)] {
        let (status, body) = post(&http, &url, token, "/api/log/opening", &opening).await;
        assert_eq!(status, 403, "{who}: {body}");
    }
    // The role is decided before the body is read: an inspector's oversized body is 403.
    let huge = json!({"db": DB, "doc_id": "x".repeat(20 * 1024), "key_id": first_id});
    let (status, body) = post(&http, &url, &ines, "/api/log/opening", &huge).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(&http, &url, &sara, "/api/log/opening", &huge).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("few fields"),
        "{body}"
    );
    let bad = json!({"db": DB, "doc_id": "inspection:x", "key_id": first_id});
    let (status, body) = post(&http, &url, &sara, "/api/log/opening", &bad).await;
    assert_eq!(status, 400, "{body}");
    let other = json!({"db": DB, "doc_id": "inspection:x", "person_code": "P-001",
                       "key_id": "cusco-0123456789abcdef"});
    let (status, body) = post(&http, &url, &sara, "/api/log/opening", &other).await;
    assert_eq!(status, 400, "{body}");

    // The openings of one document, newest first, as /api/log/entries gives each entry.
    let photo = json!({"db": DB, "doc_id": "inspection:x", "attachment": "p1",
                       "key_id": first_id});
    let (status, answer) = post(&http, &url, &sara, "/api/log/opening", &photo).await;
    assert_eq!(status, 201, "{answer}");
    let photo_index = answer["index"].as_u64().unwrap();
    let elsewhere = json!({"db": DB, "doc_id": "inspection:y", "person_code": "P-002",
                           "key_id": first_id});
    let (status, answer) = post(&http, &url, &sara, "/api/log/opening", &elsewhere).await;
    assert_eq!(status, 201, "{answer}");
    let openings_path = format!("/api/log/openings?db={DB}&id=inspection:x");
    for token in [&sara, &root] {
        let (status, answer) = get(&http, &url, token, &openings_path).await;
        assert_eq!(status, 200, "{answer}");
        let listed = answer["openings"].as_array().expect("a list");
        let indexes: Vec<u64> = listed
            .iter()
            .map(|o| o["index"].as_u64().unwrap())
            .collect();
        assert_eq!(
            indexes,
            [photo_index, index],
            "newest first, only inspection:x"
        );
        assert_eq!(
            listed[1]["entry"],
            log_entry(&http, &url, &sara, index).await
        );
        assert_eq!(listed[0]["entry"]["attachment"], "p1");
    }
    for (who, token, because) in [
        (
            "omar",
            &omar,
            ["database madre-de-dios", "their regions (cusco)"],
        ),
        ("ines", &ines, ["supervisors", "is a inspector"]),
    ] {
        let (status, body) = get(&http, &url, token, &openings_path).await;
        assert_eq!(status, 403, "{who}: {body}");
        let reason = body["reason"].as_str().unwrap();
        assert!(because.iter().all(|b| reason.contains(b)), "{who}: {body}");
    }
    let (status, body) = get(&http, &url, &sara, "/api/log/openings?db=madre-de-dios").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("which document"),
        "{body}"
    );
    let (status, body) = get(&http, &url, &root, "/api/log/openings?db=nowhere&id=a").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("no database nowhere"),
        "{body}"
    );
    let (status, body) = get(
        &http,
        &url,
        &sara,
        &format!("/api/log/openings?db={DB}&id="),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["reason"].as_str().unwrap().starts_with("id:"),
        "{body}"
    );

    // The key added through the admin API is an admin action in the custody log.
    let (_, entries) = get(&http, &url, &sara, "/api/log/entries?start=0").await;
    let added = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entry"]["action"] == "key.add" && e["entry"]["id"] == new_id.as_str());
    assert!(added.is_some(), "{entries}");
    // Through the admin API: with the administrator's device token id (the command's login).
    assert!(added.unwrap()["entry"]["token_id"].is_string(), "{entries}");

    let log = server.stop();
    // Neither passphrase reached the server's log; the rotation's went through the server.
    assert!(!contains(&log, PASSPHRASE.as_bytes()));
    assert!(!contains(&log, ROTATION_PASSPHRASE.as_bytes()));

    // The keys are in a backup like every tree, and come back with a restore.
    let backup = temp.path().join("chaski.backup");
    let out = run(&data, &["backup", backup.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fresh = temp.path().join("fresh");
    let out = run(&fresh, &["restore", backup.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&run(&fresh, &["keys", "list"], None).stdout);
    assert!(
        listed.contains(&format!("{DB}\t{new_id}\t"))
            && listed.contains(&format!("{DB}\t{first_id}\t")),
        "{listed}"
    );
    assert_eq!(listed.matches("\tcurrent").count(), 1, "{listed}");
}

async fn me_key(http: &reqwest::Client, url: &str, token: &str) -> (String, String) {
    let (_, me) = get(http, url, token, "/api/me").await;
    (
        me["seal_keys"][0]["key_id"].as_str().unwrap().to_owned(),
        me["seal_keys"][0]["public_key_b64"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// A JPEG-shaped photo holding `marker` many times: found on disk if stored in clear.
fn photo(marker: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    for _ in 0..50 {
        bytes.extend_from_slice(marker.as_bytes());
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

#[tokio::test]
async fn a_sealed_record_leaves_no_name_number_or_photo_in_clear_on_disk_or_in_the_log() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    setup(&data);
    let file = temp.path().join("passphrase");
    std::fs::write(&file, PASSPHRASE).unwrap();
    let created = create_key(&data, &file);
    assert!(created.status.success(), "{}", text(&created.stderr));

    // What must never be found in clear, and a control that is stored in clear.
    let name = "Yolanda Huamanchumo Quispe";
    let number = "47281936";
    let marker = "PHOTO-OF-A-PERSON-3f9a";
    let clear_name = "Rosalinda Ccori Mamani";
    let clear_number = "40918273";
    let site = "Campamento Sealtest km 77";

    let server = Server::start(&data);
    let url = server.url.clone();
    let http = reqwest::Client::new();
    let (ines, ines_token_id) = login(&http, &url, "ines").await;
    let (sara, _) = login(&http, &url, "sara").await;
    let (key_id, public_b64) = me_key(&http, &url, &ines).await;
    let public = chaski_seal::PublicKey::from_b64(&public_b64).unwrap();

    // The tablet's part: seal the identity and the photo, bound to their places.
    let mut doc = fixtures::inspection_json(1);
    let doc_id = doc["_id"].as_str().unwrap().to_owned();
    doc["site_name"] = json!(site);
    let identity = chaski_seal::Identity {
        given_names: name.into(),
        document_type: "dni".into(),
        document_number: number.into(),
        ..Default::default()
    };
    let sealed = identity.seal(&public, &key_id, &doc_id, "P-001").unwrap();
    let mut person = fixtures::person_json(1);
    person["sealed"] = serde_json::to_value(&sealed).unwrap();
    doc["people"] = json!([person]);
    let envelope = chaski_seal::seal_bytes(
        &public,
        &key_id,
        &photo(marker),
        &chaski_seal::photo_aad(&doc_id, "p1.sealed"),
    )
    .unwrap();
    doc["photos"] = json!([{"attachment": "p1.sealed", "shows_people": true},
                           {"attachment": "place.jpg"}]);
    doc["_attachments"] = json!({
        "p1.sealed": {"content_type": chaski_shared::sealed::SEALED_CONTENT_TYPE,
                      "data": B64.encode(&envelope)},
        "place.jpg": {"content_type": "image/jpeg",
                      "data": B64.encode(fixtures::jpeg_bytes(500))},
    });
    let (status, answer) = put(&http, &url, &ines, &format!("/db/{DB}/{doc_id}"), &doc).await;
    assert_eq!(status, 201, "{answer}");
    let rev = answer["rev"].as_str().unwrap().to_owned();

    // A second sealed photo by the standalone attachment route.
    let envelope2 = chaski_seal::seal_bytes(
        &public,
        &key_id,
        &photo(marker),
        &chaski_seal::photo_aad(&doc_id, "p2.sealed"),
    )
    .unwrap();
    let response = http
        .put(format!("{url}/db/{DB}/{doc_id}/p2.sealed?rev={rev}"))
        .bearer_auth(&ines)
        .header("content-type", chaski_shared::sealed::SEALED_CONTENT_TYPE)
        .body(envelope2)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    let rev = answer["rev"].as_str().unwrap().to_owned();

    // A stub is judged by the label stored with it: the JPEG of a place cannot become a photo
    // of people by calling its stub sealed.
    let (_, mut edit) = get(&http, &url, &ines, &format!("/db/{DB}/{doc_id}")).await;
    assert_eq!(edit["_rev"], rev.as_str());
    edit["photos"][1]["shows_people"] = json!(true);
    edit["_attachments"]["place.jpg"]["content_type"] =
        json!(chaski_shared::sealed::SEALED_CONTENT_TYPE);
    let (status, answer) = put(&http, &url, &ines, &format!("/db/{DB}/{doc_id}"), &edit).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("photos[1].attachment"),
        "{answer}"
    );
    // Nor by a replicated revision (new_edits=false) that says so.
    let (_, mut replicated) =
        get(&http, &url, &ines, &format!("/db/{DB}/{doc_id}?revs=true")).await;
    let generation = rev.split('-').next().unwrap().parse::<u64>().unwrap();
    let parent_hash = rev.split('-').nth(1).unwrap().to_owned();
    let child = "0123456789abcdef0123456789abcdef";
    replicated["_rev"] = json!(format!("{}-{child}", generation + 1));
    replicated["_revisions"] = json!({"start": generation + 1, "ids": [child, parent_hash]});
    replicated["photos"][1]["shows_people"] = json!(true);
    replicated["_attachments"]["place.jpg"]["content_type"] =
        json!(chaski_shared::sealed::SEALED_CONTENT_TYPE);
    let mut fine = fixtures::inspection_json(9);
    let fine_id = fine["_id"].as_str().unwrap().to_owned();
    fine["_rev"] = json!(format!("1-{child}"));
    let (status, answer) = post(
        &http,
        &url,
        &ines,
        &format!("/db/{DB}/_bulk_docs"),
        &json!({"docs": [{"_id": "_local/checkpoint", "n": 1}, fine, replicated],
                "new_edits": false}),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    // Each answer in its document's place: the batch's labels are read together.
    assert!(answer[1].get("error").is_none(), "{answer}");
    assert_eq!(answer[1]["id"], fine_id.as_str(), "{answer}");
    assert_eq!(answer[2]["error"], "forbidden", "{answer}");
    let reason = answer[2]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("photos[1].attachment"), "{answer}");
    // The same edit without the lie about place.jpg is fine (stubs of sealed photos pass).
    edit["photos"][1]["shows_people"] = json!(false);
    edit["_attachments"]["place.jpg"]["content_type"] = json!("image/jpeg");
    let (status, answer) = put(&http, &url, &ines, &format!("/db/{DB}/{doc_id}"), &edit).await;
    assert_eq!(status, 201, "{answer}");

    // The revision's custody entry names the inspector's device token id, not its name.
    let (_, log) = get(
        &http,
        &url,
        &sara,
        &format!("/api/log/proof/inclusion?db={DB}&id={doc_id}&rev={rev}"),
    )
    .await;
    let index = log["index"].as_u64().unwrap();
    let entry = &log_entry(&http, &url, &sara, index).await;
    assert_eq!(entry["token_id"], ines_token_id.as_str(), "{entry}");
    assert!(entry.get("device").is_none(), "{entry}");

    // The office opens what was stored: it is a real sealed identity, bound to its place.
    let (_, keys) = get(&http, &url, &sara, &format!("/api/keys?region={DB}")).await;
    let wrapped: chaski_seal::WrappedKey =
        serde_json::from_value(keys["keys"][0]["wrapped"].clone()).unwrap();
    let held = vec![(
        key_id.clone(),
        chaski_seal::unwrap(&wrapped, PASSPHRASE).unwrap(),
    )];
    let (_, stored) = get(&http, &url, &sara, &format!("/db/{DB}/{doc_id}")).await;
    let stored_sealed: chaski_seal::Sealed =
        serde_json::from_value(stored["people"][0]["sealed"].clone()).unwrap();
    let opened = chaski_seal::Identity::open(&held, &stored_sealed, &doc_id, "P-001").unwrap();
    assert_eq!(opened.document_number, number);

    // Identity fields in clear are refused, and their values appear nowhere.
    let mut clear = fixtures::inspection_json(2);
    let mut person = fixtures::person_json(1);
    person["nombre"] = json!(clear_name);
    person["dni"] = json!(clear_number);
    clear["people"] = json!([person]);
    let reason = put_refused(&http, &url, &ines, &clear, "people[0].dni").await;
    assert!(!reason.contains(clear_number) && !reason.contains(clear_name));
    let (status, answer) = post(
        &http,
        &url,
        &ines,
        &format!("/db/{DB}/_bulk_docs"),
        &json!({"docs": [clear]}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(answer[0]["error"], "forbidden", "{answer}");
    let reason = answer[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("people[0].dni"), "{answer}");
    assert!(!reason.contains(clear_number) && !reason.contains(clear_name));

    // Truncated or garbage ciphertext is refused with a reason.
    let mut truncated = fixtures::inspection_json(3);
    let mut person = fixtures::person_json(1);
    let mut short = sealed.clone();
    short.ciphertext_b64 = B64.encode(&B64.decode(&sealed.ciphertext_b64).unwrap()[..40]);
    person["sealed"] = serde_json::to_value(&short).unwrap();
    truncated["people"] = json!([person]);
    put_refused(&http, &url, &ines, &truncated, "truncated").await;
    let mut garbage = fixtures::inspection_json(4);
    garbage["photos"] = json!([{"attachment": "p1", "shows_people": true}]);
    garbage["_attachments"] = json!({"p1": {
        "content_type": chaski_shared::sealed::SEALED_CONTENT_TYPE,
        "data": B64.encode(b"CHASKI-SEALED-1\nnot a key\nshort")}});
    put_refused(&http, &url, &ines, &garbage, "sealed envelope").await;

    // A photo of people in clear is refused by every route bytes arrive by.
    let mut unsealed = fixtures::inspection_json(5);
    unsealed["photos"] = json!([{"attachment": "p1.jpg", "shows_people": true}]);
    unsealed["_attachments"] = json!({"p1.jpg": {"content_type": "image/jpeg",
                                                 "data": B64.encode(photo(marker))}});
    put_refused(&http, &url, &ines, &unsealed, "shows people").await;
    for new_edits in [true, false] {
        let mut doc = unsealed.clone();
        if !new_edits {
            doc["_rev"] = json!("1-0123456789abcdef0123456789abcdef");
        }
        let (status, answer) = post(
            &http,
            &url,
            &ines,
            &format!("/db/{DB}/_bulk_docs"),
            &json!({"docs": [doc], "new_edits": new_edits}),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(
            answer[0]["error"], "forbidden",
            "new_edits={new_edits}: {answer}"
        );
        let reason = answer[0]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("shows people"),
            "new_edits={new_edits}: {answer}"
        );
    }
    // Standalone: the record says the photo shows people, the photo comes as a JPEG.
    let mut listed = fixtures::inspection_json(6);
    let listed_id = listed["_id"].as_str().unwrap().to_owned();
    listed["photos"] = json!([{"attachment": "p1.sealed", "shows_people": true}]);
    let sealed_first = chaski_seal::seal_bytes(
        &public,
        &key_id,
        &photo(marker),
        &chaski_seal::photo_aad(&listed_id, "p1.sealed"),
    )
    .unwrap();
    listed["_attachments"] = json!({"p1.sealed": {
        "content_type": chaski_shared::sealed::SEALED_CONTENT_TYPE,
        "data": B64.encode(&sealed_first)}});
    let (status, answer) = put(
        &http,
        &url,
        &ines,
        &format!("/db/{DB}/{listed_id}"),
        &listed,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let response = http
        .put(format!(
            "{url}/db/{DB}/{listed_id}/p1.sealed?rev={}",
            answer["rev"].as_str().unwrap()
        ))
        .bearer_auth(&ines)
        .header("content-type", "image/jpeg")
        .body(photo(marker))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Multipart bodies are not taken at all.
    let response = http
        .put(format!("{url}/db/{DB}/{}", unsealed["_id"].as_str().unwrap()))
        .bearer_auth(&ines)
        .header("content-type", "multipart/related; boundary=abc")
        .body(format!(
            "--abc\r\ncontent-type: application/json\r\n\r\n{{}}\r\n--abc\r\n\r\n{marker}\r\n--abc--"
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());

    let log = server.stop();
    let mut files = Vec::new();
    every_file(&data, &mut files);
    let disk: Vec<u8> = files.iter().flat_map(|(_, b)| b.clone()).collect();
    // The scan sees what is stored in clear (the control), so it would see a name too.
    assert!(
        contains(&disk, site.as_bytes()),
        "the control is not on disk"
    );
    // And attachment bytes: the photo of a place is stored in clear, so a person's would be
    // found too. (The name and number above were sealed by this test before they were sent:
    // what checks the server are the refused values and the refused photo.)
    assert!(
        contains(&disk, &fixtures::jpeg_bytes(500)),
        "the photo of a place is not on disk in clear"
    );
    assert!(contains(&log, b"request"), "the log was not captured");
    for (what, needle) in [
        ("the name", name),
        ("the identity number", number),
        ("the photo", marker),
        ("a refused name", clear_name),
        ("a refused identity number", clear_number),
        ("the passphrase", PASSPHRASE),
    ] {
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, needle.as_bytes()),
                "{what} is in clear in {path}"
            );
        }
        assert!(
            !contains(&log, needle.as_bytes()),
            "{what} is in the server's log"
        );
    }
}
