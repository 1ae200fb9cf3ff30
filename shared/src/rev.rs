//! Revision ids (`N-hash`) and per-document revision trees with CouchDB's semantics.
//!
//! A [`RevTree`] is the set of revisions a replica knows for one document, each with its parent.
//! Leaves are the current heads; more than one leaf is a conflict, which is kept until a person
//! resolves it. Every rule here is deterministic, so that two replicas holding the same set of
//! revisions agree on the winner without talking to each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::sort;

/// CouchDB's default `_revs_limit`: how many ancestors each leaf keeps.
pub const DEFAULT_REV_LIMIT: usize = 1000;

/// Longest revision hash accepted from outside; CouchDB and PouchDB emit 32.
const MAX_HASH_LEN: usize = 128;

/// Highest revision generation accepted: 2^53 - 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
/// PouchDB reads generations as JavaScript numbers, so a higher one would not round-trip
/// through a tablet anyway; refusing it at parse time also leaves every `generation + 1` in
/// the engine far from `u64` overflow. No honest document gets near it: a revision a second
/// for a million years is about 2^45.
pub const MAX_GENERATION: u64 = (1 << 53) - 1;

/// A revision id, `N-hash`: the generation `N` (1 for a new document, parent + 1 after) and a
/// hash of the edit.
///
/// Ordering is by generation, then by hash string, which is CouchDB's tie-break for the winner.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RevId {
    generation: u64,
    hash: String,
}

impl RevId {
    /// Parses `N-hash`; `N` from 1 to [`MAX_GENERATION`], the hash non-empty printable ASCII.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_up_to(s, MAX_GENERATION)
    }

    /// Like [`parse`](Self::parse) with another highest generation: stored trees are read with
    /// `u64::MAX`, so that a document stored before [`MAX_GENERATION`] existed still reads
    /// (and refuses edits) instead of making its database's changes feed unreadable.
    fn parse_up_to(s: &str, max_generation: u64) -> Result<Self> {
        let bad = || Error::BadRequest(format!("Invalid rev format: {s:?}"));
        let (generation, hash) = s.split_once('-').ok_or_else(bad)?;
        let generation: u64 = generation.parse().map_err(|_| bad())?;
        if generation > max_generation {
            return Err(Error::BadRequest(format!(
                "Revision generation {generation} is above the highest this server accepts \
                 ({MAX_GENERATION}); no real document has that many edits."
            )));
        }
        if generation == 0
            || hash.is_empty()
            || hash.len() > MAX_HASH_LEN
            || !hash.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(bad());
        }
        Ok(RevId {
            generation,
            hash: hash.to_string(),
        })
    }

    /// Builds a revision id from its parts; `hash` must satisfy the same rules as [`parse`](Self::parse).
    pub fn new(generation: u64, hash: &str) -> Result<Self> {
        Self::parse(&format!("{generation}-{hash}"))
    }

    /// The generation `N`.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A 400 when this revision's generation is above [`MAX_GENERATION`] (possible only for
    /// one read from storage or through serde): such a revision is never merged.
    pub fn check_generation(&self) -> Result<()> {
        if self.generation > MAX_GENERATION {
            return Err(Error::BadRequest(format!(
                "Revision generation {} is above the highest this server accepts \
                 ({MAX_GENERATION}); no real document has that many edits.",
                self.generation
            )));
        }
        Ok(())
    }

    /// The generation of a child of this revision, or a 400 when it would pass
    /// [`MAX_GENERATION`] (so that an edit of the highest revision is refused, not wrapped).
    pub fn child_generation(&self) -> Result<u64> {
        self.generation
            .checked_add(1)
            .filter(|g| *g <= MAX_GENERATION)
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "Revision {self} is at the highest generation this server accepts \
                     ({MAX_GENERATION}); it cannot be edited further."
                ))
            })
    }

    /// The part after the dash.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

impl fmt::Display for RevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.generation, self.hash)
    }
}

impl FromStr for RevId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        RevId::parse(s)
    }
}

impl Serialize for RevId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RevId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        RevId::parse_up_to(&s, u64::MAX).map_err(serde::de::Error::custom)
    }
}

/// Computes the deterministic id of an edit: the same edit of the same parent gives the same id on
/// every device, so two replicas that make the identical change do not conflict with each other.
///
/// The digest covers the parent revision, the deleted flag, the body as canonical JSON (keys
/// sorted, whatever the `serde_json` map order) and each attachment's name and digest.
pub fn compute_rev<'a>(
    parent: Option<&RevId>,
    deleted: bool,
    body: &Map<String, Value>,
    attachments: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> RevId {
    let mut encoded = String::new();
    encoded.push_str("parent:");
    if let Some(p) = parent {
        encoded.push_str(&p.to_string());
    }
    encoded.push_str(if deleted {
        "\ndeleted:1\n"
    } else {
        "\ndeleted:0\n"
    });
    write_canonical_object(&mut encoded, body);
    let mut atts: Vec<(&str, &str)> = attachments.into_iter().collect();
    sort::sort(&mut atts);
    for (name, digest) in atts {
        encoded.push('\n');
        encoded.push_str(&canonical_string(name));
        encoded.push(':');
        encoded.push_str(digest);
    }
    let digest = Md5::digest(encoded.as_bytes());
    let mut hash = String::with_capacity(32);
    for byte in digest {
        hash.push_str(&format!("{byte:02x}"));
    }
    RevId {
        // Saturating: callers check [`RevId::child_generation`] first; should one not, the
        // edit is refused by `add_child` rather than wrapping around.
        generation: parent.map_or(1, |p| p.generation.saturating_add(1)),
        hash,
    }
}

fn canonical_string(s: &str) -> String {
    // serde_json's string escaping is fixed, so it is canonical enough.
    Value::String(s.to_string()).to_string()
}

fn write_canonical_object(out: &mut String, map: &Map<String, Value>) {
    let mut keys: Vec<&String> = map.keys().collect();
    sort::sort(&mut keys);
    out.push('{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&canonical_string(key));
        out.push(':');
        if let Some(v) = map.get(key) {
            write_canonical(out, v);
        }
    }
    out.push('}');
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => write_canonical_object(out, map),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A leaf of a revision tree: a current head of the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// The leaf's revision.
    pub rev: RevId,
    /// Whether the leaf is a deletion (a tombstone).
    pub deleted: bool,
}

impl Leaf {
    /// CouchDB's winner order: non-deleted first, then higher generation, then higher hash.
    fn winner_key(&self) -> (bool, &RevId) {
        (!self.deleted, &self.rev)
    }
}

/// A revision's ancestry as CouchDB puts it in `_revisions`: the newest generation and the hashes,
/// newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revisions {
    /// Generation of the first id in `ids`.
    pub start: u64,
    /// Revision hashes, newest first, generations `start`, `start - 1`, …
    pub ids: Vec<String>,
}

impl Revisions {
    /// The full revision ids, newest first.
    pub fn rev_ids(&self) -> Result<Vec<RevId>> {
        if self.ids.is_empty() || (self.ids.len() as u64) > self.start {
            return Err(Error::BadRequest(
                "_revisions must list between 1 and `start` ids".into(),
            ));
        }
        self.ids
            .iter()
            .enumerate()
            .map(|(i, hash)| RevId::new(self.start - i as u64, hash))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    parent: Option<RevId>,
    deleted: bool,
}

/// All revisions a replica knows of one document, each with its parent.
///
/// A revision whose parent was stemmed away (or never received) has no parent; the tree may then
/// be a forest, as in CouchDB.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevTree {
    nodes: BTreeMap<RevId, Node>,
}

/// The serialised form of one tree node, for stores that persist a [`RevTree`].
#[derive(Serialize, Deserialize)]
struct NodeRepr {
    rev: RevId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<RevId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

impl Serialize for RevTree {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.nodes.iter().map(|(rev, node)| NodeRepr {
            rev: rev.clone(),
            parent: node.parent.clone(),
            deleted: node.deleted,
        }))
    }
}

impl<'de> Deserialize<'de> for RevTree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let reprs = Vec::<NodeRepr>::deserialize(deserializer)?;
        let mut tree = RevTree::default();
        for r in reprs {
            tree.nodes.insert(
                r.rev,
                Node {
                    parent: r.parent,
                    deleted: r.deleted,
                },
            );
        }
        // A parent that is not in the tree would make ancestry walks stop early; drop the link so
        // the tree stays a valid forest whatever was stored.
        // The map's keys come sorted: a binary search finds them.
        let known: Vec<RevId> = tree.nodes.keys().cloned().collect();
        for node in tree.nodes.values_mut() {
            if node
                .parent
                .as_ref()
                .is_some_and(|p| known.binary_search(p).is_err())
            {
                node.parent = None;
            }
        }
        tree.normalise_inner_nodes();
        Ok(tree)
    }
}

impl RevTree {
    /// An empty tree (a document this replica has never seen).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the tree has no revision.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// How many revisions the tree holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree holds `rev`.
    pub fn contains(&self, rev: &RevId) -> bool {
        self.nodes.contains_key(rev)
    }

    /// Every revision in the tree, in [`RevId`] order.
    pub fn revs(&self) -> impl Iterator<Item = &RevId> {
        self.nodes.keys()
    }

    /// The parent of `rev`, if the tree holds both.
    pub fn parent(&self, rev: &RevId) -> Option<&RevId> {
        self.nodes.get(rev).and_then(|n| n.parent.as_ref())
    }

    /// Whether `rev` is in the tree and marked deleted.
    pub fn is_deleted(&self, rev: &RevId) -> bool {
        self.nodes.get(rev).is_some_and(|n| n.deleted)
    }

    /// Every revision that is some node's parent, sorted, once each (search it with
    /// `binary_search`). A sorted list rather than a set: one sort compiled for the whole
    /// program keeps the browser app small (see [`crate::sort`]).
    pub(crate) fn parents(&self) -> Vec<&RevId> {
        let mut parents: Vec<&RevId> = self
            .nodes
            .values()
            .filter_map(|n| n.parent.as_ref())
            .collect();
        sort::sort_dedup(&mut parents);
        parents
    }

    /// Whether `rev` is a current head (in the tree with no child).
    pub fn is_leaf(&self, rev: &RevId) -> bool {
        self.nodes.contains_key(rev) && !self.nodes.values().any(|n| n.parent.as_ref() == Some(rev))
    }

    /// The current heads, winner first, then in descending winner order.
    pub fn leaves(&self) -> Vec<Leaf> {
        let parents = self.parents();
        let mut leaves: Vec<Leaf> = self
            .nodes
            .iter()
            .filter(|(rev, _)| parents.binary_search(rev).is_err())
            .map(|(rev, node)| Leaf {
                rev: rev.clone(),
                deleted: node.deleted,
            })
            .collect();
        sort::sort_by(&mut leaves, |a, b| b.winner_key().cmp(&a.winner_key()));
        leaves
    }

    /// The winning revision by CouchDB's rule: non-deleted leaves first, then the highest
    /// generation, then the highest hash. `None` for an empty tree.
    pub fn winner(&self) -> Option<Leaf> {
        self.leaves().into_iter().next()
    }

    /// Non-deleted leaves other than the winner (`_conflicts`), in descending winner order.
    pub fn conflicts(&self) -> Vec<RevId> {
        self.leaves()
            .into_iter()
            .skip(1)
            .filter(|l| !l.deleted)
            .map(|l| l.rev)
            .collect()
    }

    /// Deleted leaves other than the winner (`_deleted_conflicts`), in descending winner order.
    pub fn deleted_conflicts(&self) -> Vec<RevId> {
        self.leaves()
            .into_iter()
            .skip(1)
            .filter(|l| l.deleted)
            .map(|l| l.rev)
            .collect()
    }

    /// `rev` and its known ancestors, newest first; empty when `rev` is not in the tree.
    pub fn ancestry(&self, rev: &RevId) -> Vec<RevId> {
        let mut out = Vec::new();
        let mut cursor = self.nodes.get_key_value(rev);
        while let Some((r, node)) = cursor {
            out.push(r.clone());
            cursor = node
                .parent
                .as_ref()
                .and_then(|p| self.nodes.get_key_value(p));
        }
        out
    }

    /// `_revisions` for `rev`, or `None` when `rev` is not in the tree.
    pub fn revisions(&self, rev: &RevId) -> Option<Revisions> {
        let path = self.ancestry(rev);
        if path.is_empty() {
            return None;
        }
        Some(Revisions {
            start: rev.generation,
            ids: path.into_iter().map(|r| r.hash).collect(),
        })
    }

    /// The leaves that descend from `rev` (itself when it is a leaf): what `latest=true` answers.
    pub fn leaves_descending_from(&self, rev: &RevId) -> Vec<Leaf> {
        self.leaves()
            .into_iter()
            .filter(|leaf| self.ancestry(&leaf.rev).contains(rev))
            .collect()
    }

    /// Merges a revision with its ancestry, as `new_edits=false` does: `path` is newest first
    /// with consecutive generations, `deleted` applies to its first element. Known revisions are
    /// left as they are, so merging twice changes nothing. Returns whether the tree changed.
    pub fn merge_path(&mut self, path: &[RevId], deleted: bool) -> Result<bool> {
        let Some(newest) = path.first() else {
            return Err(Error::BadRequest("empty revision path".into()));
        };
        for pair in path.windows(2) {
            if pair[1].generation.checked_add(1) != Some(pair[0].generation) {
                return Err(Error::BadRequest(
                    "revision path generations must be consecutive".into(),
                ));
            }
        }
        let mut changed = false;
        // Oldest first, so every parent is in the tree before its child.
        for (i, rev) in path.iter().enumerate().rev() {
            let parent = path.get(i + 1).cloned();
            match self.nodes.get_mut(rev) {
                Some(node) => {
                    // A stemmed root gets its parent back if the sender still knows it.
                    if node.parent.is_none() && parent.is_some() {
                        node.parent = parent;
                        changed = true;
                    }
                }
                None => {
                    self.nodes.insert(
                        rev.clone(),
                        Node {
                            parent,
                            deleted: deleted && rev == newest,
                        },
                    );
                    changed = true;
                }
            }
        }
        self.normalise_inner_nodes();
        Ok(changed)
    }

    /// Which leaf a new edit (`new_edits=true`) builds on, given the `_rev` the writer sent.
    ///
    /// - no `_rev` on a document this tree has never seen: a first revision (`None`);
    /// - no `_rev` while the winner is deleted: the edit recreates the document on top of the
    ///   winning tombstone, as CouchDB does;
    /// - no `_rev` while the document exists, or a `_rev` that is not a current leaf: conflict.
    pub fn edit_parent(&self, rev: Option<&RevId>) -> Result<Option<RevId>> {
        match rev {
            Some(rev) if self.is_leaf(rev) => Ok(Some(rev.clone())),
            Some(_) => Err(Error::conflict()),
            None => match self.winner() {
                None => Ok(None),
                Some(w) if w.deleted => Ok(Some(w.rev)),
                Some(_) => Err(Error::conflict()),
            },
        }
    }

    /// Adds a new edit as a child of `parent` (which [`edit_parent`](Self::edit_parent) chose).
    pub fn add_child(&mut self, parent: Option<&RevId>, rev: RevId, deleted: bool) -> Result<()> {
        if let Some(p) = parent {
            if !self.nodes.contains_key(p) {
                return Err(Error::conflict());
            }
            if p.generation.checked_add(1) != Some(rev.generation) {
                return Err(Error::BadRequest(
                    "a child revision's generation is its parent's plus one".into(),
                ));
            }
        }
        if self.nodes.contains_key(&rev) {
            return Err(Error::conflict());
        }
        self.nodes.insert(
            rev,
            Node {
                parent: parent.cloned(),
                deleted,
            },
        );
        self.normalise_inner_nodes();
        Ok(())
    }

    /// Deletion is a property of leaves. A replica that learned an inner revision through a
    /// descendant's `_revisions` cannot know whether it was a tombstone, so the flag is cleared
    /// on every inner node; otherwise replicas holding the same revisions would differ.
    fn normalise_inner_nodes(&mut self) {
        let inner: Vec<RevId> = self.parents().into_iter().cloned().collect();
        for rev in inner {
            if let Some(node) = self.nodes.get_mut(&rev) {
                node.deleted = false;
            }
        }
    }

    /// How many leaves the tree would have after [`merge_path`](Self::merge_path) of `path`
    /// (newest first), without merging it: one linear pass, so that a store can refuse a
    /// merge over [`MAX_LEAVES`](crate::record::MAX_LEAVES) before touching the tree.
    pub fn leaf_count_after_merge(&self, path: &[RevId]) -> usize {
        let parents = self.parents();
        let leaves = self
            .nodes
            .keys()
            .filter(|r| parents.binary_search(r).is_err())
            .count();
        let Some(newest) = path.first() else {
            return leaves;
        };
        if self.nodes.contains_key(newest) {
            return leaves;
        }
        // The new revision is a leaf; every current leaf on its path stops being one.
        let covered = path[1..]
            .iter()
            .filter(|r| self.nodes.contains_key(*r) && !parents.contains(r))
            .count();
        leaves + 1 - covered
    }

    /// Every revision that is some node's parent: the inner nodes.
    pub fn inner_revs(&self) -> BTreeSet<&RevId> {
        self.parents().into_iter().collect()
    }

    /// Keeps, for every leaf, only the `limit` newest revisions of its path (the leaf included).
    /// Leaves are never removed. Returns whether anything was removed.
    pub fn stem(&mut self, limit: usize) -> bool {
        let limit = limit.max(1);
        // No path is longer than the tree: nothing to remove, and no walk from every leaf
        // (which costs leaves × depth on a document with many conflicts).
        if self.nodes.len() <= limit {
            return false;
        }
        let mut keep = BTreeSet::new();
        for leaf in self.leaves() {
            keep.extend(self.ancestry(&leaf.rev).into_iter().take(limit));
        }
        if keep.len() == self.nodes.len() {
            return false;
        }
        self.nodes.retain(|rev, _| keep.contains(rev));
        for node in self.nodes.values_mut() {
            if node.parent.as_ref().is_some_and(|p| !keep.contains(p)) {
                node.parent = None;
            }
        }
        true
    }

    /// `_revs_diff` for this document: which of `revs` the tree lacks, and the leaves that could
    /// be their ancestors (a leaf of a lower generation than the newest missing revision).
    pub fn revs_diff(&self, revs: &[RevId]) -> (Vec<RevId>, Vec<RevId>) {
        let mut missing: Vec<RevId> = revs.iter().filter(|r| !self.contains(r)).cloned().collect();
        sort::sort_dedup(&mut missing);
        let Some(max_missing) = missing.iter().map(|r| r.generation).max() else {
            return (missing, Vec::new());
        };
        let mut ancestors: Vec<RevId> = self
            .leaves()
            .into_iter()
            .filter(|l| l.rev.generation < max_missing)
            .map(|l| l.rev)
            .collect();
        sort::sort(&mut ancestors);
        (missing, ancestors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rev(s: &str) -> RevId {
        RevId::parse(s).expect("test rev")
    }

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn tree(paths: &[(&[&str], bool)]) -> RevTree {
        let mut t = RevTree::new();
        for (path, deleted) in paths {
            let path: Vec<RevId> = path.iter().map(|r| rev(r)).collect();
            t.merge_path(&path, *deleted).expect("merge");
        }
        t
    }

    #[test]
    fn rev_ids_parse_generation_and_hash_and_print_back() {
        let r = rev("12-abc123");
        assert_eq!(r.generation(), 12);
        assert_eq!(r.hash(), "abc123");
        assert_eq!(r.to_string(), "12-abc123");
    }

    #[test]
    fn malformed_rev_ids_are_bad_requests() {
        for bad in [
            "",
            "abc",
            "0-abc",
            "-abc",
            "1-",
            "x-abc",
            "1-a b",
            "18446744073709551616-a",
        ] {
            assert!(
                matches!(RevId::parse(bad), Err(Error::BadRequest(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn generations_above_javascripts_safe_integers_are_refused_with_a_reason() {
        assert!(RevId::parse(&format!("{MAX_GENERATION}-a")).is_ok());
        for too_high in [MAX_GENERATION + 1, u64::MAX] {
            match RevId::parse(&format!("{too_high}-a")) {
                Err(Error::BadRequest(reason)) => assert!(reason.contains("highest"), "{reason}"),
                other => panic!("{too_high}: {other:?}"),
            }
        }
        let highest = rev(&format!("{MAX_GENERATION}-a"));
        assert!(matches!(
            highest.child_generation(),
            Err(Error::BadRequest(_))
        ));
        // A tree can still hold one read from storage; adding a child to it is refused.
        let stored: RevId = serde_json::from_value(json!(format!("{}-a", u64::MAX))).unwrap();
        assert!(stored.check_generation().is_err());
        let mut t = RevTree::new();
        t.nodes.insert(
            stored.clone(),
            Node {
                parent: None,
                deleted: false,
            },
        );
        let child = compute_rev(Some(&stored), false, &Map::new(), []);
        assert!(t.add_child(Some(&stored), child, false).is_err());
        assert!(t.merge_path(&[rev("1-b"), stored.clone()], false).is_err());
    }

    #[test]
    fn the_same_edit_of_the_same_parent_gets_the_same_rev_id() {
        let parent = rev("1-aaaa");
        let a = compute_rev(
            Some(&parent),
            false,
            &body(json!({"b": 1, "a": [1, {"y": 2, "x": 1}]})),
            [],
        );
        // Keys inserted in another order: the canonical encoding sorts them.
        let mut m = Map::new();
        m.insert("a".into(), json!([1, {"x": 1, "y": 2}]));
        m.insert("b".into(), json!(1));
        let b = compute_rev(Some(&parent), false, &m, []);
        assert_eq!(a, b);
        assert_eq!(a.generation(), 2);
        assert_eq!(a.hash().len(), 32);
    }

    #[test]
    fn rev_ids_differ_by_parent_deletion_body_and_attachments() {
        let b = body(json!({"a": 1}));
        let base = compute_rev(None, false, &b, []);
        assert_eq!(base.generation(), 1);
        assert_ne!(base, compute_rev(Some(&rev("1-x")), false, &b, []));
        assert_ne!(base, compute_rev(None, true, &b, []));
        assert_ne!(base, compute_rev(None, false, &body(json!({"a": 2})), []));
        assert_ne!(
            base,
            compute_rev(None, false, &b, [("photo.jpg", "md5-abc")])
        );
    }

    #[test]
    fn merging_a_path_is_idempotent() {
        let mut t = tree(&[(&["3-c", "2-b", "1-a"], false)]);
        let before = t.clone();
        assert!(!t
            .merge_path(&[rev("3-c"), rev("2-b")], false)
            .expect("merge"));
        assert_eq!(t, before);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn merging_a_branch_keeps_both_leaves_as_a_conflict() {
        let t = tree(&[(&["2-b", "1-a"], false), (&["2-c", "1-a"], false)]);
        let leaves: Vec<String> = t.leaves().iter().map(|l| l.rev.to_string()).collect();
        assert_eq!(leaves, ["2-c", "2-b"]);
        assert_eq!(t.conflicts(), vec![rev("2-b")]);
    }

    #[test]
    fn a_path_with_gaps_in_generations_is_rejected() {
        let mut t = RevTree::new();
        assert!(t.merge_path(&[rev("3-c"), rev("1-a")], false).is_err());
        assert!(t.merge_path(&[], false).is_err());
    }

    #[test]
    fn a_path_that_does_not_reach_known_revisions_starts_a_new_root() {
        let t = tree(&[(&["1-a"], false), (&["5-e", "4-d"], false)]);
        assert_eq!(t.parent(&rev("4-d")), None);
        assert_eq!(t.leaves().len(), 2);
        assert_eq!(t.winner().map(|l| l.rev), Some(rev("5-e")));
    }

    #[test]
    fn winner_prefers_non_deleted_leaves_over_higher_generations() {
        let t = tree(&[(&["3-z", "2-b", "1-a"], true), (&["2-c", "1-a"], false)]);
        let w = t.winner().expect("winner");
        assert_eq!(w.rev, rev("2-c"));
        assert!(!w.deleted);
        assert_eq!(t.deleted_conflicts(), vec![rev("3-z")]);
        assert!(t.conflicts().is_empty());
    }

    #[test]
    fn winner_prefers_the_higher_generation_then_the_higher_hash() {
        let t = tree(&[(&["3-a", "2-a", "1-a"], false), (&["2-z", "1-a"], false)]);
        assert_eq!(t.winner().map(|l| l.rev), Some(rev("3-a")));
        let t = tree(&[(&["2-a", "1-a"], false), (&["2-b", "1-a"], false)]);
        assert_eq!(t.winner().map(|l| l.rev), Some(rev("2-b")));
    }

    #[test]
    fn winner_is_the_same_whatever_the_merge_order() {
        let a = tree(&[
            (&["2-b", "1-a"], false),
            (&["2-c", "1-a"], true),
            (&["3-d", "2-b", "1-a"], false),
        ]);
        let b = tree(&[
            (&["3-d", "2-b", "1-a"], false),
            (&["2-c", "1-a"], true),
            (&["2-b", "1-a"], false),
        ]);
        assert_eq!(a, b);
        assert_eq!(a.winner(), b.winner());
    }

    #[test]
    fn when_every_leaf_is_deleted_the_highest_tombstone_wins() {
        let t = tree(&[(&["2-b", "1-a"], true), (&["3-c", "2-x", "1-a"], true)]);
        let w = t.winner().expect("winner");
        assert_eq!(w.rev, rev("3-c"));
        assert!(w.deleted);
    }

    #[test]
    fn a_new_edit_must_name_a_current_leaf() {
        let t = tree(&[(&["2-b", "1-a"], false)]);
        assert_eq!(t.edit_parent(Some(&rev("2-b"))), Ok(Some(rev("2-b"))));
        assert_eq!(t.edit_parent(Some(&rev("1-a"))), Err(Error::conflict()));
        assert_eq!(t.edit_parent(Some(&rev("2-zzz"))), Err(Error::conflict()));
    }

    #[test]
    fn a_new_edit_without_rev_conflicts_when_the_document_exists() {
        let t = tree(&[(&["1-a"], false)]);
        assert_eq!(t.edit_parent(None), Err(Error::conflict()));
        assert_eq!(RevTree::new().edit_parent(None), Ok(None));
    }

    #[test]
    fn a_new_edit_without_rev_recreates_a_deleted_document_on_its_tombstone() {
        let t = tree(&[(&["2-b", "1-a"], true)]);
        assert_eq!(t.edit_parent(None), Ok(Some(rev("2-b"))));
    }

    #[test]
    fn deleting_makes_a_tombstone_leaf() {
        let mut t = tree(&[(&["1-a"], false)]);
        let parent = t.edit_parent(Some(&rev("1-a"))).expect("parent");
        let del = compute_rev(parent.as_ref(), true, &Map::new(), []);
        t.add_child(parent.as_ref(), del.clone(), true)
            .expect("add");
        let w = t.winner().expect("winner");
        assert_eq!(w.rev, del);
        assert!(w.deleted);
        assert!(!t.is_leaf(&rev("1-a")));
    }

    #[test]
    fn ancestry_and_revisions_list_newest_first() {
        let t = tree(&[(&["3-c", "2-b", "1-a"], false)]);
        assert_eq!(
            t.ancestry(&rev("3-c")),
            vec![rev("3-c"), rev("2-b"), rev("1-a")]
        );
        assert_eq!(
            t.revisions(&rev("3-c")),
            Some(Revisions {
                start: 3,
                ids: vec!["c".into(), "b".into(), "a".into()]
            })
        );
        assert_eq!(t.revisions(&rev("9-x")), None);
    }

    #[test]
    fn revisions_round_trip_to_rev_ids() {
        let r = Revisions {
            start: 3,
            ids: vec!["c".into(), "b".into()],
        };
        assert_eq!(r.rev_ids(), Ok(vec![rev("3-c"), rev("2-b")]));
        let too_many = Revisions {
            start: 1,
            ids: vec!["b".into(), "a".into()],
        };
        assert!(too_many.rev_ids().is_err());
    }

    #[test]
    fn revs_diff_lists_missing_revisions_and_lower_leaves_as_possible_ancestors() {
        let t = tree(&[(&["2-b", "1-a"], false), (&["2-c", "1-a"], false)]);
        let (missing, ancestors) = t.revs_diff(&[rev("2-b"), rev("3-d"), rev("3-d")]);
        assert_eq!(missing, vec![rev("3-d")]);
        assert_eq!(ancestors, vec![rev("2-b"), rev("2-c")]);
        let (missing, ancestors) = t.revs_diff(&[rev("1-a"), rev("2-c")]);
        assert!(missing.is_empty() && ancestors.is_empty());
    }

    #[test]
    fn stemming_keeps_the_newest_revisions_of_every_leaf_and_never_a_leaf_less() {
        let mut t = tree(&[
            (&["5-e", "4-d", "3-c", "2-b", "1-a"], false),
            (&["2-x", "1-a"], false),
        ]);
        assert!(t.stem(2));
        let revs: Vec<String> = t.revs().map(|r| r.to_string()).collect();
        assert_eq!(revs, ["1-a", "2-x", "4-d", "5-e"]);
        assert_eq!(t.leaves().len(), 2);
        assert_eq!(t.parent(&rev("4-d")), None);
        assert!(!t.stem(2), "stemming again removes nothing");
        assert!(!t.stem(DEFAULT_REV_LIMIT));
    }

    #[test]
    fn the_leaf_count_after_a_merge_is_known_before_merging() {
        let t = tree(&[(&["2-b", "1-a"], false), (&["2-c", "1-a"], false)]);
        let count = |path: &[&str]| {
            let path: Vec<RevId> = path.iter().map(|r| rev(r)).collect();
            let predicted = t.leaf_count_after_merge(&path);
            let mut merged = t.clone();
            merged.merge_path(&path, false).expect("merge");
            assert_eq!(predicted, merged.leaves().len(), "{path:?}");
            predicted
        };
        assert_eq!(count(&["2-d", "1-a"]), 3, "a new branch");
        assert_eq!(count(&["3-e", "2-b", "1-a"]), 2, "extends a leaf");
        assert_eq!(count(&["2-b", "1-a"]), 2, "already known");
        assert_eq!(count(&["9-z", "8-y"]), 3, "a new root");
    }

    #[test]
    fn merging_a_stemmed_path_again_reattaches_its_parent() {
        let mut t = tree(&[(&["3-c", "2-b"], false)]);
        assert!(t
            .merge_path(&[rev("3-c"), rev("2-b"), rev("1-a")], false)
            .expect("merge"));
        assert_eq!(t.parent(&rev("2-b")), Some(&rev("1-a")));
    }

    #[test]
    fn latest_finds_the_leaves_descending_from_an_inner_revision() {
        let t = tree(&[(&["3-c", "2-b", "1-a"], false), (&["2-x", "1-a"], false)]);
        let from_b: Vec<RevId> = t
            .leaves_descending_from(&rev("2-b"))
            .into_iter()
            .map(|l| l.rev)
            .collect();
        assert_eq!(from_b, vec![rev("3-c")]);
        assert_eq!(t.leaves_descending_from(&rev("1-a")).len(), 2);
    }

    #[test]
    fn an_inner_tombstone_reads_the_same_on_replicas_that_only_saw_its_descendants() {
        let mut here = tree(&[(&["2-b", "1-a"], true)]);
        here.add_child(Some(&rev("2-b")), rev("3-c"), false)
            .expect("recreate");
        let there = tree(&[(&["3-c", "2-b", "1-a"], false)]);
        assert_eq!(here, there);
    }

    #[test]
    fn a_tree_survives_serialisation() {
        let t = tree(&[(&["3-c", "2-b", "1-a"], true), (&["2-x", "1-a"], false)]);
        let json = serde_json::to_string(&t).expect("serialise");
        let back: RevTree = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, t);
    }
}
