//! The custody log on the real `chaski` binary: every write is logged, the proofs verify with
//! an implementation written here from RFC 9162 (not the server's), the checkpoint's signature
//! verifies with ed25519-dalek, and tampering with the data folder is caught by
//! `chaski custody verify` or by the consistency check.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chaski_shared::domain::fixtures;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[path = "support/binary.rs"]
mod binary;
use binary::{run, start_server};

const PASSWORD: &str = "una clave bastante larga";
const DB: &str = "madre-de-dios";

// ---- An independent implementation of RFC 9162 §2.1.3.2 and §2.1.4.2. ----

type Hash = [u8; 32];

fn node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 9162 §2.1.3.2: verifying an inclusion proof.
fn verify_inclusion(index: u64, size: u64, leaf: Hash, path: &[Hash], root: Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

/// RFC 9162 §2.1.4.2: verifying a consistency proof.
fn verify_consistency(
    first: u64,
    second: u64,
    first_hash: Hash,
    second_hash: Hash,
    proof: &[Hash],
) -> bool {
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    if proof.is_empty() || first == 0 || first > second {
        return false;
    }
    let mut path = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, first_hash);
    }
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == first_hash && sr == second_hash && s == 0
}

fn leaf(bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

fn b64_hash(v: &Value) -> Hash {
    B64.decode(v.as_str().expect("base64 string"))
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

// ---- The server. ----

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn admin(data: &Path, args: &[&str]) {
    let out = run(data, args, Some(PASSWORD));
    assert!(
        out.status.success(),
        "chaski {args:?}: {}",
        text(&out.stderr)
    );
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A data folder with database `madre-de-dios`, an administrator `lima` and an inspector `ines`.
fn data_folder(root: &Path) -> PathBuf {
    let data = root.join("data");
    admin(&data, &["db", "create", DB]);
    admin(&data, &["user", "add", "lima", "--role", "admin"]);
    admin(
        &data,
        &[
            "user",
            "add",
            "ines",
            "--role",
            "inspector",
            "--region",
            "loreto",
        ],
    );
    data
}

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str, user: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .basic_auth(user, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path, "lima").await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn put(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .put(format!("{}{path}", self.base))
            .basic_auth("lima", Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert!(status < 300, "{path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .basic_auth("lima", Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert!(status < 300, "{path}: {status} {body}");
        body
    }

    /// The checkpoint: (note, size, root).
    async fn checkpoint(&self) -> (String, u64, Hash) {
        let (status, note) = self.get("/api/log/checkpoint", "lima").await;
        assert_eq!(status, 200, "{note}");
        let mut lines = note.lines();
        lines.next();
        let size = lines.next().unwrap().parse().unwrap();
        let root = B64
            .decode(lines.next().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        (note, size, root)
    }

    /// Writes through every path: PUT, `_bulk_docs` (both `new_edits`), an attachment, a
    /// deletion. Returns the (id, rev) written. Region databases validate every document:
    /// these are fixture inspections with extra fields (the domain tolerates them).
    async fn write_some(&self, tag: &str) -> Vec<(String, String)> {
        let inspection = |name: &str, extra: Value| {
            let mut doc = fixtures::inspection_json(1);
            doc["_id"] = json!(format!("inspection:custody-{tag}-{name}"));
            for (k, v) in extra.as_object().unwrap() {
                doc[k] = v.clone();
            }
            doc
        };
        let id = |name: &str| format!("inspection:custody-{tag}-{name}");
        let mut out = Vec::new();
        let a = self
            .put(
                &format!("/db/{DB}/{}", id("a")),
                inspection("a", json!({"n": 1, "who": "ñandú"})),
            )
            .await;
        let rev_a = a["rev"].as_str().unwrap().to_owned();
        out.push((id("a"), rev_a.clone()));
        let a2 = self
            .put(
                &format!("/db/{DB}/{}", id("a")),
                inspection("a", json!({"_rev": rev_a, "n": 2})),
            )
            .await;
        out.push((id("a"), a2["rev"].as_str().unwrap().to_owned()));
        let bulk = self
            .post(
                &format!("/db/{DB}/_bulk_docs"),
                json!({"docs": [inspection("b", json!({"x": [1, {"z": 2, "y": 3}]}))]}),
            )
            .await;
        assert!(bulk[0]["rev"].is_string(), "{bulk}");
        out.push((id("b"), bulk[0]["rev"].as_str().unwrap().to_owned()));
        let replicated = self
            .post(
                &format!("/db/{DB}/_bulk_docs"),
                json!({"new_edits": false, "docs": [inspection("c", json!({"_rev": "1-abcdef0123456789abcdef0123456789"}))]}),
            )
            .await;
        assert!(
            replicated
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r.get("error").is_none()),
            "{replicated}"
        );
        out.push((id("c"), "1-abcdef0123456789abcdef0123456789".to_owned()));
        let mut photo = fixtures::inspection_with_photo_json(1, 64);
        photo["_id"] = json!(id("p"));
        let photo = self.put(&format!("/db/{DB}/{}", id("p")), photo).await;
        out.push((id("p"), photo["rev"].as_str().unwrap().to_owned()));
        let r = self
            .client
            .delete(format!(
                "{}/db/{DB}/{}?rev={}",
                self.base,
                id("b"),
                out[2].1
            ))
            .basic_auth("lima", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        let deleted: Value = r.json().await.unwrap();
        assert!(deleted["rev"].is_string(), "{deleted}");
        out.push((id("b"), deleted["rev"].as_str().unwrap().to_owned()));
        out
    }
}

/// `chaski custody verify`: (passed, what it printed); `chaski log verify`, the name
/// for it, must give the same verdict and report.
fn verify(data: &Path) -> (bool, String) {
    let custody = verify_with(data, &["custody", "verify"]);
    let log = verify_with(data, &["log", "verify"]);
    // The same verdict and findings; the log lines' timestamps differ.
    let findings = |(ok, report): &(bool, String)| {
        let lines: Vec<String> = report
            .lines()
            .filter(|l| !l.contains(" ERROR ") && !l.contains(" INFO "))
            .map(str::to_owned)
            .collect();
        (*ok, lines)
    };
    assert_eq!(findings(&log), findings(&custody));
    custody
}

/// One verifying command: retried while the folder's lock is still held by a sled this test
/// process just dropped (its flusher lets go at its next tick).
fn verify_with(data: &Path, args: &[&str]) -> (bool, String) {
    for _ in 0..50 {
        let out = run(data, args, None);
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        if !report.contains("cannot open") {
            return (out.status.success(), report);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the data folder stayed locked");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn every_write_is_logged_and_its_proofs_and_signature_verify_independently() {
    let temp = tempfile::tempdir().unwrap();
    let data = data_folder(temp.path());
    let (server, base, _) = start_server(&data, &temp.path().join("dist"));
    let api = Api::new(base);

    let (_, first_size, first_root) = api.checkpoint().await;
    // The command line's administration changes were logged before the start.
    assert!(first_size >= 3, "{first_size}");
    let written = api.write_some("uno").await;
    let (note, size, root) = api.checkpoint().await;
    assert_eq!(size, first_size + written.len() as u64);

    // The signature, with ed25519-dalek, against the note text and the published key.
    let (_, vkey) = api.get("/api/log/key", "lima").await;
    // `<name>+<key id hex>+<base64(0x01 ‖ key)>`: a name never holds `+`, base64 may.
    let parts: Vec<&str> = vkey.trim().splitn(3, '+').collect();
    let (name, raw) = (parts[0].to_owned(), B64.decode(parts[2]).unwrap());
    assert_eq!(raw[0], 1);
    let key = ed25519_dalek::VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).unwrap();
    let (body, sig_line) = note.split_once("\n\n").unwrap();
    assert_eq!(body.lines().next(), Some(name.as_str()));
    let sig_b64 = sig_line
        .strip_prefix(&format!("\u{2014} {name} "))
        .unwrap()
        .trim_end();
    let sig = B64.decode(sig_b64).unwrap();
    let mut id = Sha256::new();
    id.update(name.as_bytes());
    id.update([0x0a, 0x01]);
    id.update(&raw[1..]);
    assert_eq!(&sig[..4], &id.finalize()[..4]);
    let signature = ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap();
    key.verify_strict(format!("{body}\n").as_bytes(), &signature)
        .expect("the checkpoint's signature verifies");

    // Every revision written has an entry whose inclusion proof verifies against the root.
    let entries = api
        .json(&format!("/api/log/entries?start={first_size}&end={size}"))
        .await;
    for (id, rev) in &written {
        let proof = api
            .json(&format!(
                "/api/log/proof/inclusion?db={DB}&id={id}&rev={rev}&tree_size={size}"
            ))
            .await;
        let index = proof["index"].as_u64().unwrap();
        let row = &entries["entries"][(index - first_size) as usize];
        assert_eq!(row["entry"]["id"], json!(id));
        assert_eq!(row["entry"]["rev"], json!(rev));
        assert_eq!(row["entry"]["user"], json!("lima"));
        // The leaf hash is recomputed here from the entry's bytes.
        let leaf_hash = leaf(row["bytes"].as_str().unwrap().as_bytes());
        let path: Vec<Hash> = proof["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(b64_hash)
            .collect();
        assert!(
            verify_inclusion(index, size, leaf_hash, &path, root),
            "{id} {rev}"
        );
        assert!(!verify_inclusion(index, size, leaf(b"other"), &path, root));
    }
    let deletion = &entries["entries"][written.len() - 1]["entry"];
    assert_eq!(deletion["deleted"], json!(true));
    let photo = &entries["entries"][written.len() - 2]["entry"];
    assert_eq!(
        photo["attachments"]["photo-1.jpg"],
        json!(format!("{:x}", Sha256::digest(fixtures::jpeg_bytes(64))))
    );

    // Consistency between every earlier size and now.
    for first in 1..=size {
        let p = api
            .json(&format!(
                "/api/log/proof/consistency?first={first}&second={size}"
            ))
            .await;
        let proof: Vec<Hash> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(b64_hash)
            .collect();
        assert_eq!(b64_hash(&p["second_root"]), root);
        assert!(
            verify_consistency(first, size, b64_hash(&p["first_root"]), root, &proof),
            "{first} → {size}"
        );
    }
    let p = api
        .json(&format!(
            "/api/log/proof/consistency?first={first_size}&second={size}"
        ))
        .await;
    let proof: Vec<Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_hash)
        .collect();
    assert!(verify_consistency(
        first_size, size, first_root, root, &proof
    ));

    // Bad input is a 4xx with a reason, never a 500; inspectors may not read the log.
    for path in [
        "/api/log/entries?start=5&end=2".to_owned(),
        format!("/api/log/entries?start=0&end={}", size + 1),
        "/api/log/entries?start=-1".to_owned(),
        "/api/log/entries?start=0&end=5000".to_owned(),
        "/api/log/proof/consistency?first=0".to_owned(),
        format!("/api/log/proof/consistency?first=2&second={}", size + 5),
        "/api/log/proof/consistency".to_owned(),
        format!("/api/log/proof/inclusion?db={DB}"),
        format!("/api/log/proof/inclusion?index={size}"),
        format!("/api/log/proof/inclusion?db={DB}&id=nope&rev=1-x"),
    ] {
        let (status, body) = api.get(&path, "lima").await;
        assert!((400..500).contains(&status), "{path}: {status} {body}");
        assert!(body.contains("reason"), "{path}: {body}");
    }
    let (status, _) = api.get("/api/log/checkpoint", "ines").await;
    assert_eq!(status, 403);

    // Compaction drops old bodies; the log records it, and verification still passes.
    api.post(&format!("/db/{DB}/_compact"), json!({})).await;
    stop(server);
    let (ok, report) = verify(&data);
    assert!(ok, "{report}");
    assert!(
        report.contains("removed by a logged compaction"),
        "{report}"
    );
}

/// Stops the server after some writes and returns the data folder.
async fn folder_with_writes(root: &Path) -> (PathBuf, Vec<(String, String)>) {
    let data = data_folder(root);
    let (server, base, _) = start_server(&data, &root.join("dist"));
    let api = Api::new(base);
    let written = api.write_some("uno").await;
    api.checkpoint().await;
    stop(server);
    (data, written)
}

#[tokio::test]
async fn a_body_edited_straight_in_sled_is_named_by_verify() {
    let temp = tempfile::tempdir().unwrap();
    let (data, written) = folder_with_writes(temp.path()).await;
    assert!(verify(&data).0);
    {
        let db = sled::open(&data).unwrap();
        let bodies = db.open_tree(format!("couch:{DB}:bodies")).unwrap();
        let (id, rev) = &written[1];
        let key = [id.as_bytes(), b"\0", rev.as_bytes()].concat();
        let stored = bodies.get(&key).unwrap().expect("the body is stored");
        let edited = String::from_utf8(stored.to_vec())
            .unwrap()
            .replace("\"n\":2", "\"n\":3");
        assert_ne!(edited.as_bytes(), stored.as_ref());
        bodies.insert(key, edited.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let (ok, report) = verify(&data);
    assert!(!ok, "{report}");
    let (id, rev) = &written[1];
    assert!(
        report.contains(&format!("{DB}/{id} revision {rev}"))
            && report.contains("no longer matches"),
        "{report}"
    );
}

#[tokio::test]
async fn a_deleted_or_reordered_log_entry_is_caught() {
    let temp = tempfile::tempdir().unwrap();
    let (data, _) = folder_with_writes(temp.path()).await;
    assert!(verify(&data).0);

    let deleted = temp.path().join("deleted");
    copy_dir(&data, &deleted);
    {
        let db = sled::open(&deleted).unwrap();
        let entries = db.open_tree("custody_entries").unwrap();
        entries.remove(4u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let (ok, report) = verify(&deleted);
    assert!(!ok, "{report}");
    assert!(report.contains("entry 4 is missing"), "{report}");

    let reordered = temp.path().join("reordered");
    copy_dir(&data, &reordered);
    {
        let db = sled::open(&reordered).unwrap();
        let entries = db.open_tree("custody_entries").unwrap();
        let (a, b) = (
            entries.get(4u64.to_be_bytes()).unwrap().unwrap(),
            entries.get(5u64.to_be_bytes()).unwrap().unwrap(),
        );
        entries.insert(4u64.to_be_bytes(), b).unwrap();
        entries.insert(5u64.to_be_bytes(), a).unwrap();
        db.flush().unwrap();
    }
    let (ok, report) = verify(&reordered);
    assert!(!ok, "{report}");
    assert!(report.contains("not a prefix"), "{report}");
}

#[tokio::test]
async fn a_checkpoint_from_before_a_rewrite_fails_the_consistency_check() {
    let temp = tempfile::tempdir().unwrap();
    let data = data_folder(temp.path());
    let (server, base, _) = start_server(&data, &temp.path().join("dist"));
    let api = Api::new(base);
    api.write_some("uno").await;
    let (_, old_size, old_root) = api.checkpoint().await;
    stop(server);

    rewrite_entry_1(&data);

    let (server, base, _) = start_server(&data, &temp.path().join("dist"));
    let api = Api::new(base);
    api.write_some("dos").await;
    let (_, new_size, new_root) = api.checkpoint().await;
    let p = api
        .json(&format!(
            "/api/log/proof/consistency?first={old_size}&second={new_size}"
        ))
        .await;
    stop(server);
    let proof: Vec<Hash> = p["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_hash)
        .collect();
    assert!(
        !verify_consistency(old_size, new_size, old_root, new_root, &proof),
        "the rewritten log must not prove consistent with the checkpoint from before"
    );
    // The server's proof is consistent with its own (rewritten) past, not with ours.
    assert!(verify_consistency(
        old_size,
        new_size,
        b64_hash(&p["first_root"]),
        new_root,
        &proof
    ));
    assert_ne!(b64_hash(&p["first_root"]), old_root);
}

/// A thorough rewrite of a stopped server's log: entry 1 changed, every leaf hash and the
/// state recomputed, the stored checkpoints dropped, so the server's own state is
/// self-consistent.
fn rewrite_entry_1(data: &Path) {
    {
        let db = sled::open(data).unwrap();
        let entries = db.open_tree("custody_entries").unwrap();
        let value = entries.get(1u64.to_be_bytes()).unwrap().unwrap();
        let bytes = String::from_utf8(value[32..].to_vec()).unwrap();
        let forged = bytes.replacen("\"user\":\"", "\"user\":\"x", 1);
        assert_ne!(forged, bytes);
        let mut stored = leaf(forged.as_bytes()).to_vec();
        stored.extend_from_slice(forged.as_bytes());
        entries.insert(1u64.to_be_bytes(), stored).unwrap();
        // The compact range rebuilt from the leaf hashes, as the server encodes it.
        let mut peaks: Vec<(u8, Hash)> = Vec::new();
        let mut size = 0u64;
        for item in entries.iter() {
            let (_, v) = item.unwrap();
            let mut n = (0u8, <Hash>::try_from(&v[..32]).unwrap());
            while peaks.last().is_some_and(|(h, _)| *h == n.0) {
                let (h, left) = peaks.pop().unwrap();
                n = (h + 1, node(&left, &n.1));
            }
            peaks.push(n);
            size += 1;
        }
        let mut state = size.to_be_bytes().to_vec();
        for (h, hash) in &peaks {
            state.push(*h);
            state.extend_from_slice(hash);
        }
        db.open_tree("custody_state")
            .unwrap()
            .insert("range", state)
            .unwrap();
        db.open_tree("custody_checkpoints")
            .unwrap()
            .clear()
            .unwrap();
        db.flush().unwrap();
    }
}

#[tokio::test]
async fn the_national_server_flags_a_region_whose_new_checkpoint_does_not_extend_the_last() {
    let temp = tempfile::tempdir().unwrap();
    let region = data_folder(&temp.path().join("region"));
    let national = data_folder(&temp.path().join("national"));
    admin(
        &national,
        &["user", "add", "relay-md", "--role", "relay", "--region", DB],
    );
    let (nserver, nbase, _) = start_server(&national, &temp.path().join("dist"));
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let (client, url) = (client.clone(), format!("{nbase}/api/log/witness"));
        async move {
            let r = client
                .post(url)
                .basic_auth("relay-md", Some(PASSWORD))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // What the region's relay sends: its checkpoint, its key and a proof from `from`.
    async fn submission(api: &Api, from: Option<u64>) -> Value {
        let (note, size, _) = api.checkpoint().await;
        let (_, key) = api.get("/api/log/key", "lima").await;
        let proof = match from {
            Some(from) if from < size => api
                .json(&format!(
                    "/api/log/proof/consistency?first={from}&second={size}"
                ))
                .await["proof"]
                .clone(),
            _ => json!([]),
        };
        json!({"checkpoint": note, "key": key, "from": from, "proof": proof})
    }

    let (rserver, rbase, _) = start_server(&region, &temp.path().join("dist"));
    let api = Api::new(rbase);
    let (status, first) = post(submission(&api, None).await).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["flagged"], Value::Null);
    api.write_some("uno").await;
    // Without a proof the national server says from which size it needs one.
    let (status, answer) = post(submission(&api, None).await).await;
    assert_eq!(status, 409, "{answer}");
    let from = answer["from"].as_u64().unwrap();
    assert_eq!(Some(from), first["size"].as_u64());
    let (status, second) = post(submission(&api, Some(from)).await).await;
    assert_eq!(
        (status, &second["flagged"]),
        (200, &Value::Null),
        "{second}"
    );
    stop(rserver);

    rewrite_entry_1(&region);
    let (rserver, rbase, _) = start_server(&region, &temp.path().join("dist"));
    let api = Api::new(rbase);
    api.write_some("dos").await;
    let (status, third) = post(submission(&api, second["size"].as_u64()).await).await;
    stop(rserver);
    assert_eq!(status, 200, "{third}");
    assert!(
        third["flagged"]
            .as_str()
            .is_some_and(|r| r.contains("history rewritten")),
        "{third}"
    );
    let list = client
        .get(format!("{nbase}/api/log/witness"))
        .basic_auth("lima", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let (status, bad) = post(json!({"checkpoint": "garbage", "key": "x+y+z"})).await;
    stop(nserver);
    assert!(list[0]["flagged"].is_string(), "{list}");
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn a_region_posts_its_checkpoints_to_the_national_server_it_relays_to() {
    let temp = tempfile::tempdir().unwrap();
    let national = data_folder(&temp.path().join("national"));
    admin(
        &national,
        &["user", "add", "relay-md", "--role", "relay", "--region", DB],
    );
    let (nserver, nbase, _) = start_server(&national, &temp.path().join("dist"));
    let region = data_folder(&temp.path().join("region"));
    let config = temp.path().join("chaski.toml");
    std::fs::write(
        &config,
        format!(
            "[[relay]]\nname = \"lima\"\ndatabases = [\"{DB}\"]\ntarget = \"{nbase}/db\"\n\
             direction = \"push\"\ncredentials_env = \"CUSTODY_TEST_RELAY\"\n"
        ),
    )
    .unwrap();
    let mut cmd = binary::chaski(&region, &["--bind", "127.0.0.1:0", "--config"]);
    cmd.arg(&config)
        .env("CUSTODY_TEST_RELAY", format!("relay-md:{PASSWORD}"));
    let (rserver, _, _) = binary::spawn_listening(cmd);
    let client = reqwest::Client::new();
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = client
            .get(format!("{nbase}/api/log/witness"))
            .basic_auth("lima", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if seen.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop(rserver);
    stop(nserver);
    let rows = seen.as_array().expect("a list");
    assert_eq!(rows.len(), 1, "{seen}");
    assert!(rows[0]["origin"]
        .as_str()
        .unwrap()
        .starts_with("chaski-custody/"));
    assert_eq!(rows[0]["flagged"], Value::Null);
}
