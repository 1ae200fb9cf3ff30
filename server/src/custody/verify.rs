//! `chaski custody verify`: recomputes the custody log from the stored data, on a stopped
//! server.
//!
//! 1. Every entry is read in index order: a missing index, or a stored leaf hash that is not
//!    SHA-256(0x00 ‖ entry), is a mismatch (an entry deleted, reordered or edited).
//! 2. Every stored checkpoint must verify with the log's key and equal the root of the first
//!    `size` recomputed leaves (else it is not a prefix of the log as it stands now).
//! 3. Every revision entry is recomputed from its stored body and attachment bytes. A body
//!    that is gone is accepted only when a later entry explains it: a `compaction` of that
//!    database (compaction drops the bodies of non-leaf revisions) or the database's deletion
//!    (`db.delete`). Otherwise it is a mismatch.
//! 4. Every stored revision body must have an entry (a revision slipped in behind the log).
//! 5. The openings index (`custody_openings`) must name exactly the `identity_opened`
//!    entries; when it does not, something wrote behind the log's back: a mismatch, and the
//!    index is rebuilt from the entries (derived data; the entries are the record).

use std::collections::HashMap;

use chaski_shared::record::StoredRev;

use super::checkpoint::{self, LogKey};
use super::merkle::{self, CompactRange};
use super::{Entry, Kind, Trees};

/// The outcome, in lines a person reads; `Err` when anything does not match.
pub fn verify(db: &sled::Db) -> Result<Vec<String>, Vec<String>> {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    let fail = |e: sled::Error| vec![format!("cannot read the data store: {e}")];
    let trees = Trees::open(db).map_err(fail)?;
    let key = LogKey::load_or_create(&trees).map_err(fail)?;

    // Pass 1: the log's own structure.
    let mut entries: Vec<(u64, Entry)> = Vec::new();
    let mut range = CompactRange::default();
    let mut roots: HashMap<u64, merkle::Hash> = HashMap::new();
    let mut structure_broken = false;
    for item in trees.entries.iter() {
        let (k, value) = item.map_err(fail)?;
        let index = k
            .as_ref()
            .try_into()
            .map(u64::from_be_bytes)
            .unwrap_or(u64::MAX);
        if index != range.size && !structure_broken {
            problems.push(format!(
                "entry {} is missing (the next stored entry is {index}): the log was cut",
                range.size
            ));
            structure_broken = true;
        }
        let Some((leaf, bytes)) = super::split_stored(&value) else {
            problems.push(format!("entry {index} is unreadable"));
            structure_broken = true;
            continue;
        };
        let recomputed = merkle::leaf_hash(&bytes);
        if recomputed != leaf && !structure_broken {
            problems.push(format!(
                "entry {index}: its stored leaf hash does not match its bytes (edited)"
            ));
            structure_broken = true;
        }
        // The recomputed tree is built from the bytes, never from the stored hashes.
        range.push(recomputed);
        roots.insert(range.size, range.root());
        match serde_json::from_slice::<Entry>(&bytes) {
            Ok(entry) => entries.push((index, entry)),
            Err(e) => problems.push(format!("entry {index} is not an entry: {e}")),
        }
    }
    let stored_range = trees.range().map_err(fail)?;
    if stored_range.size != range.size || stored_range.root() != range.root() {
        problems.push(format!(
            "the log's state says {} entries, {} are stored and recomputed",
            stored_range.size, range.size
        ));
    }
    report.push(format!(
        "{} entries, root {}",
        range.size,
        super::hex(&range.root())
    ));

    // Pass 2: the checkpoints.
    let mut checked = 0;
    for item in trees.checkpoints.iter() {
        let (_, note) = item.map_err(fail)?;
        let note = String::from_utf8_lossy(&note).into_owned();
        let first = note.lines().take(3).collect::<Vec<_>>().join(" ");
        let Some(parsed) = checkpoint::verify(&note, &key.verifying_key(), &key.name) else {
            problems.push(format!(
                "checkpoint [{first}]: its signature does not verify"
            ));
            continue;
        };
        let root = if parsed.size == 0 {
            Some(merkle::empty_root())
        } else {
            roots.get(&parsed.size).copied()
        };
        match root {
            Some(root) if root == parsed.root => checked += 1,
            _ => problems.push(format!(
                "checkpoint of size {} is not a prefix of the current log (the history was rewritten)",
                parsed.size
            )),
        }
    }
    report.push(format!("{checked} checkpoints consistent with the log"));

    // Pass 3: revisions against the stored documents.
    let mut explained_after: HashMap<String, u64> = HashMap::new();
    for (index, entry) in &entries {
        let explains = match entry.kind {
            Kind::Compaction => entry.db.clone(),
            Kind::Admin if entry.action.as_deref() == Some("db.delete") => entry.id.clone(),
            _ => None,
        };
        if let Some(db) = explains {
            explained_after.insert(db, *index);
        }
    }
    let mut out_of_scope = 0u64;
    let mut matched = 0u64;
    let mut first_bad: Option<String> = None;
    let mut logged: HashMap<String, std::collections::HashSet<Vec<u8>>> = HashMap::new();
    // Each database's bodies and attachments trees, opened once, not once per revision.
    // (`None`: the database's trees are gone.)
    let mut open: HashMap<String, Option<(sled::Tree, sled::Tree)>> = HashMap::new();
    let existing = db.tree_names();
    for (index, entry) in &entries {
        if entry.kind != Kind::Revision {
            continue;
        }
        let (Some(dbname), Some(id), Some(rev)) = (&entry.db, &entry.id, &entry.rev) else {
            first_bad.get_or_insert(format!("entry {index}: a revision entry without db/id/rev"));
            continue;
        };
        let body_key = {
            let mut k = id.as_bytes().to_vec();
            k.push(0);
            k.extend_from_slice(rev.as_bytes());
            k
        };
        logged
            .entry(dbname.clone())
            .or_default()
            .insert(body_key.clone());
        let trees = match open.get(dbname) {
            Some(trees) => trees,
            None => {
                // A deleted database's trees are not made again (sled's open_tree creates):
                // a check does not leave empty trees behind.
                let bodies = crate::db::sled_store::tree_name(dbname, "bodies");
                let trees = if existing.iter().any(|t| t == bodies.as_bytes()) {
                    Some((
                        db.open_tree(bodies).map_err(fail)?,
                        db.open_tree(crate::db::sled_store::tree_name(dbname, "atts"))
                            .map_err(fail)?,
                    ))
                } else {
                    None
                };
                open.entry(dbname.clone()).or_insert(trees)
            }
        };
        let found = match trees {
            Some((bodies, atts)) => bodies.get(&body_key).map_err(fail)?.map(|b| (b, atts)),
            None => None,
        };
        let Some((bytes, atts)) = found else {
            if explained_after.get(dbname).is_some_and(|at| at > index) {
                out_of_scope += 1;
            } else {
                first_bad.get_or_insert(format!(
                    "entry {index}: {dbname}/{id} revision {rev} is logged but its body is gone"
                ));
            }
            continue;
        };
        let stored: StoredRev = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(_) => {
                first_bad.get_or_insert(format!(
                    "entry {index}: {dbname}/{id} revision {rev}: the stored body is unreadable"
                ));
                continue;
            }
        };
        if entry.body_sha256.as_deref() != Some(super::body_sha256(&stored.body).as_str()) {
            first_bad.get_or_insert(format!(
                "entry {index}: {dbname}/{id} revision {rev}: the stored body no longer matches the log"
            ));
            continue;
        }
        let mut att_ok = stored.attachments.len() == entry.attachments.len();
        for (name, meta) in &stored.attachments {
            let now = atts
                .get(meta.digest.as_bytes())
                .map_err(fail)?
                .map(|b| super::sha256_hex(&b));
            if now.is_none() || now.as_ref() != entry.attachments.get(name) {
                att_ok = false;
                first_bad.get_or_insert(format!(
                    "entry {index}: {dbname}/{id} revision {rev}: attachment {name} no longer matches the log"
                ));
            }
        }
        if att_ok {
            matched += 1;
        }
    }
    if let Some(bad) = first_bad {
        problems.push(bad);
    }
    report.push(format!(
        "{matched} revisions match their stored bodies and attachments; {out_of_scope} bodies removed by a logged compaction or database deletion"
    ));

    // Pass 4: bodies with no entry.
    for name in db.tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        let Some(dbname) = name
            .strip_prefix("couch:")
            .and_then(|n| n.strip_suffix(":bodies"))
        else {
            continue;
        };
        let bodies = db.open_tree(&name).map_err(fail)?;
        let known = logged.get(dbname);
        for item in bodies.iter().keys() {
            let k = item.map_err(fail)?;
            if !known.is_some_and(|set| set.contains(k.as_ref())) {
                let text = String::from_utf8_lossy(&k).replace('\0', " revision ");
                problems.push(format!(
                    "{dbname}/{text} is stored but not in the log (written behind the log's back)"
                ));
                break;
            }
        }
    }

    // Pass 5: the openings index.
    match trees.check_openings_index().map_err(fail)? {
        Ok(count) => report.push(format!("{count} openings indexed")),
        Err(problem) => problems.push(problem),
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        report.extend(problems);
        Err(report)
    }
}

/// `chaski custody verify` on the data folder `dir`.
pub fn run(dir: &std::path::Path) -> Result<(), String> {
    let db = crate::storage::open_sled(dir).map_err(|e| {
        format!(
            "cannot open {} (is the server running?): {e}",
            dir.display()
        )
    })?;
    match verify(&db) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            println!("custody log verified");
            Ok(())
        }
        Err(lines) => {
            for line in &lines {
                println!("{line}");
            }
            Err("the custody log does not match the stored data (see above)".into())
        }
    }
}
