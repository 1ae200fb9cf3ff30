//! The national server as witness of the regions' custody logs: each region posts its signed
//! checkpoints (`POST /api/log/witness`), with a consistency proof from the last one the
//! national server holds; the national server keeps them and flags a region whose new
//! checkpoint does not extend the last (its history was rewritten).
//!
//! The region's key is pinned at its first checkpoint (trust on first use): a checkpoint under
//! another key is refused and flagged. Tree `custody_witness`:
//! - `c \0 origin \0 size (u64 BE)` → the checkpoint note;
//! - `k \0 origin` → the verifier key; `f \0 origin` → the reason it was flagged (JSON).

use chaski_shared::b64;
use serde::{Deserialize, Serialize};

use super::checkpoint;
use super::merkle::{self, Hash};

pub const TREE: &str = "custody_witness";

/// What a region posts.
#[derive(Debug, Deserialize)]
pub struct Submission {
    /// The signed note.
    pub checkpoint: String,
    /// The region's verifier key (`<name>+<id>+<base64(0x01 ‖ key)>`).
    pub key: String,
    /// The consistency proof from `from` (the size the national server holds) to the new size.
    #[serde(default)]
    pub from: Option<u64>,
    #[serde(default)]
    pub proof: Vec<String>,
}

/// The answer, and one row of `GET /api/log/witness`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub origin: String,
    pub size: u64,
    /// Why the region's log is not trusted any more (`None`: consistent so far).
    pub flagged: Option<String>,
}

/// Why a submission is refused without judging the region (bad input).
#[derive(Debug)]
pub enum Refusal {
    Bad(String),
    /// The national server needs a consistency proof from this size.
    NeedProof(u64),
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&0u8)
}

fn parse_vkey(text: &str) -> Option<(String, ed25519_dalek::VerifyingKey)> {
    let mut parts = text.trim().splitn(3, '+');
    let (name, _, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let raw = b64::decode(encoded)?;
    let bytes: [u8; 32] = raw.get(1..)?.try_into().ok()?;
    (raw.first() == Some(&1))
        .then(|| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
        .flatten()
        .map(|k| (name.to_owned(), k))
}

/// Checks and stores a submission. A sled call: run it on the blocking pool.
pub fn submit(tree: &sled::Tree, sub: &Submission) -> Result<Status, Refusal> {
    let store = |e: sled::Error| Refusal::Bad(format!("cannot store: {e}"));
    let (name, vkey) = parse_vkey(&sub.key)
        .ok_or_else(|| Refusal::Bad("key is not a note verifier key".into()))?;
    let cp = checkpoint::verify(&sub.checkpoint, &vkey, &name).ok_or_else(|| {
        Refusal::Bad("the checkpoint does not parse or its signature does not verify".into())
    })?;
    let origin = cp.origin.clone();
    let flag_key = key(&[b"f", origin.as_bytes()]);
    let flag = |reason: String| -> Result<Status, Refusal> {
        tracing::warn!(%origin, %reason, "a region's custody log is flagged");
        tree.insert(&flag_key, serde_json::to_vec(&reason).unwrap_or_default())
            .map_err(store)?;
        Ok(Status {
            origin: origin.clone(),
            size: cp.size,
            flagged: Some(reason),
        })
    };
    match tree.get(key(&[b"k", origin.as_bytes()])).map_err(store)? {
        Some(pinned) if pinned.as_ref() != sub.key.trim().as_bytes() => {
            return flag(format!(
                "a checkpoint of size {} came signed by another key than the region's",
                cp.size
            ));
        }
        Some(_) => {}
        None => {
            tree.insert(key(&[b"k", origin.as_bytes()]), sub.key.trim().as_bytes())
                .map_err(store)?;
        }
    }
    let prefix = key(&[b"c", origin.as_bytes(), b""]);
    let last = tree
        .scan_prefix(&prefix)
        .last()
        .transpose()
        .map_err(store)?
        .and_then(|(_, note)| checkpoint::parse(&String::from_utf8_lossy(&note)));
    if let Some(last) = &last {
        if cp.size < last.size {
            return flag(format!(
                "the log shrank from {} to {} entries",
                last.size, cp.size
            ));
        }
        if cp.size == last.size && cp.root != last.root {
            return flag(format!("two different roots for size {}", cp.size));
        }
        if cp.size > last.size {
            if sub.from != Some(last.size) {
                return Err(Refusal::NeedProof(last.size));
            }
            let proof: Option<Vec<Hash>> = sub
                .proof
                .iter()
                .map(|p| b64::decode(p).and_then(|b| b.try_into().ok()))
                .collect();
            let proof = proof.ok_or_else(|| Refusal::Bad("proof: not base64 hashes".into()))?;
            if !merkle::verify_consistency(last.size, cp.size, &last.root, &cp.root, &proof) {
                return flag(format!(
                    "the checkpoint of size {} does not extend the one of size {} (history rewritten)",
                    cp.size, last.size
                ));
            }
        }
    }
    let mut k = prefix;
    k.extend_from_slice(&cp.size.to_be_bytes());
    tree.insert(k, sub.checkpoint.as_bytes()).map_err(store)?;
    let flagged = tree
        .get(&flag_key)
        .map_err(store)?
        .and_then(|f| serde_json::from_slice(&f).ok());
    Ok(Status {
        origin,
        size: cp.size,
        flagged,
    })
}

/// Every region's last checkpoint size and flag. A sled call.
pub fn statuses(tree: &sled::Tree) -> Result<Vec<Status>, sled::Error> {
    let mut out: Vec<Status> = Vec::new();
    for item in tree.scan_prefix(b"c\0") {
        let (_, note) = item?;
        let Some(cp) = checkpoint::parse(&String::from_utf8_lossy(&note)) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.origin == cp.origin => last.size = cp.size,
            _ => out.push(Status {
                origin: cp.origin,
                size: cp.size,
                flagged: None,
            }),
        }
    }
    for status in &mut out {
        status.flagged = tree
            .get(key(&[b"f", status.origin.as_bytes()]))?
            .and_then(|f| serde_json::from_slice(&f).ok());
    }
    Ok(out)
}

/// The region's side: every `every`, posts this server's checkpoint to the target of each
/// push relay (a Chaski server: its CouchDB root ends in `/db`), with a consistency proof from
/// the size the target asks for. Runs until `stop` turns true; failures are logged and retried
/// at the next tick.
pub async fn post_to_relays(
    relays: Vec<crate::config::RelayConfig>,
    trees: super::Trees,
    key: checkpoint::LogKey,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let targets: Vec<_> = relays
        .into_iter()
        .filter(|r| r.direction.legs().contains(&crate::config::Direction::Push))
        .filter_map(|r| {
            let api = r.target.strip_suffix("/db")?.to_owned();
            Some((r.name, api, r.credentials))
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    let client = reqwest::Client::new();
    loop {
        let post_all = async {
            for (name, api, credentials) in &targets {
                if let Err(err) = post_once(&client, api, credentials.as_ref(), &trees, &key).await
                {
                    tracing::warn!(relay = %name, %err, "cannot post the custody checkpoint");
                }
            }
        };
        // A target that does not answer holds up neither the stop nor, past POST_TIMEOUT, the
        // next tick.
        tokio::select! {
            () = post_all => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The longest one checkpoint post may take, answer included.
const POST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn post_once(
    client: &reqwest::Client,
    api: &str,
    credentials: Option<&crate::config::Credentials>,
    trees: &super::Trees,
    key: &checkpoint::LogKey,
) -> Result<(), String> {
    let (t, k) = (trees.clone(), key.clone());
    let note = tokio::task::spawn_blocking(move || checkpoint::current(&t, &k))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let size = checkpoint::parse(&note).map(|p| p.size).unwrap_or(0);
    let mut from: Option<u64> = None;
    for _ in 0..2 {
        let proof = match from {
            Some(m) if m > 0 && m < size => {
                let t = trees.clone();
                tokio::task::spawn_blocking(move || {
                    t.leaf_hashes(size).map(|leaves| {
                        merkle::consistency_proof(m as usize, &leaves)
                            .iter()
                            .map(b64::encode)
                            .collect::<Vec<_>>()
                    })
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?
            }
            _ => Vec::new(),
        };
        let mut request = client
            .post(format!("{api}/api/log/witness"))
            .header("content-type", "application/json")
            .timeout(POST_TIMEOUT)
            .body(
                serde_json::json!({
                    "checkpoint": note, "key": key.verifier(), "from": from, "proof": proof,
                })
                .to_string(),
            );
        if let Some(c) = credentials {
            request = request.basic_auth(&c.name, Some(&c.password));
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        match status {
            200 => return Ok(()),
            409 => from = body["from"].as_u64(),
            _ => {
                // A proxy's or another server's answer is not our JSON: say what it was.
                let reason = body["reason"].as_str().map_or_else(
                    || String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                    str::to_owned,
                );
                return Err(format!("{status}: {reason}"));
            }
        }
    }
    Err("the target kept asking for another proof".into())
}
