//! What a store keeps per document, and the pure rules that read and edit it.
//!
//! A [`DocRecord`] is a document's revision tree, the bodies of its leaf revisions, and the
//! sequence of its latest change. Every [`Store`](crate::store::Store) implementation (memory,
//! sled, IndexedDB) loads a record, calls [`DocRecord::update`] or [`DocRecord::document`], and
//! saves it inside its own transaction, so the CouchDB semantics live here once.
//!
//! Only leaf bodies are kept, as after CouchDB's compaction: an older revision is known by id
//! (for ancestry and conflict detection) but its body is gone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::doc::{Attachment, DocId, Document};
use crate::error::{Error, Result};
use crate::rev::{compute_rev, Leaf, RevId, RevTree};
use crate::store::{ChangeRow, ChangesStyle, GetOptions};

/// The most leaves (branch heads: conflicts, and deleted branches too, since each costs the
/// same to keep and read) one document may have.
///
/// CouchDB has no such limit, but a document with thousands of concurrent branches is an
/// attack, not a record: every read, write and changes row of it costs in proportion. A
/// replicated revision that would add a leaf beyond this is refused for that document alone
/// (`forbidden`, which replicators count as denied and go past); edits of existing leaves and
/// merges that do not add a leaf are always accepted, so such a document can still be
/// resolved. Change it here: every store (sled, memory, IndexedDB) applies the same value.
pub const MAX_LEAVES: usize = 1000;

/// An attachment as stored with a revision: its metadata; the bytes live in the store by digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttachment {
    /// MIME type.
    pub content_type: String,
    /// `md5-<base64>`; the key of the bytes in the store.
    pub digest: String,
    /// Length of the bytes.
    pub length: u64,
    /// Generation of the revision that last changed this attachment.
    pub revpos: u64,
}

/// The stored content of one leaf revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredRev {
    /// The fields that do not start with `_`.
    pub body: Map<String, Value>,
    /// Attachment metadata by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attachments: BTreeMap<String, StoredAttachment>,
}

/// Everything a store keeps about one replicated document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocRecord {
    /// The document id.
    pub id: DocId,
    /// Every known revision and its parent.
    pub tree: RevTree,
    /// Bodies of the leaf revisions.
    pub leaves: BTreeMap<RevId, StoredRev>,
    /// The store sequence of this document's latest change (0 before the first write).
    pub seq: u64,
}

/// What [`DocRecord::update`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// The revision written (for `new_edits=false`, the one received).
    pub rev: RevId,
    /// Whether the record changed; when not, the store must not bump its sequence.
    pub changed: bool,
    /// New attachment bytes to keep, by digest.
    pub new_attachments: Vec<(String, Vec<u8>)>,
}

impl DocRecord {
    /// An empty record for a document the store has never seen.
    pub fn new(id: DocId) -> Self {
        DocRecord {
            id,
            tree: RevTree::new(),
            leaves: BTreeMap::new(),
            seq: 0,
        }
    }

    /// The winning leaf, `None` for an empty record.
    pub fn winner(&self) -> Option<Leaf> {
        self.tree.winner()
    }

    /// Whether the winning revision is a deletion (or there is none).
    pub fn is_deleted(&self) -> bool {
        self.winner().is_none_or(|w| w.deleted)
    }

    /// Applies one document of a `_bulk_docs` batch.
    ///
    /// With `new_edits` the document is a new edit of its `_rev` (see
    /// [`RevTree::edit_parent`]) and gets a deterministic revision id; without, it is a
    /// replicated revision merged with its `_revisions` ancestry, and writing it twice changes
    /// nothing. Attachment stubs must name bytes this record already references. The tree is
    /// stemmed to `rev_limit`. On error the record is unchanged.
    pub fn update(&mut self, doc: Document, new_edits: bool, rev_limit: usize) -> Result<Update> {
        if doc.id != self.id {
            return Err(Error::BadRequest(
                "document id does not match its record".into(),
            ));
        }
        if new_edits {
            self.new_edit(doc, rev_limit)
        } else {
            self.merge_replicated(doc, rev_limit)
        }
    }

    fn new_edit(&mut self, doc: Document, rev_limit: usize) -> Result<Update> {
        if doc.deleted && doc.rev.is_none() && !self.tree.is_empty() && self.is_deleted() {
            // Deleting an already deleted document without naming a revision: 404. A document
            // never seen may be created deleted, as CouchDB allows (a tombstone at `1-…`).
            return Err(Error::missing());
        }
        let parent = self.tree.edit_parent(doc.rev.as_ref())?;
        let generation = match &parent {
            Some(p) => p.child_generation()?,
            None => 1,
        };
        let parent_atts = parent
            .as_ref()
            .and_then(|p| self.leaves.get(p))
            .map(|s| s.attachments.clone())
            .unwrap_or_default();
        let mut attachments = BTreeMap::new();
        let mut new_attachments = Vec::new();
        for (name, att) in doc.attachments {
            let stored = match att.data {
                Some(data) => {
                    let stored = StoredAttachment {
                        content_type: att.content_type,
                        digest: att.digest,
                        length: att.length,
                        revpos: generation,
                    };
                    new_attachments.push((stored.digest.clone(), data));
                    stored
                }
                None => match parent_atts.get(&name) {
                    Some(prev) if prev.digest == att.digest => prev.clone(),
                    _ => {
                        return Err(Error::MissingStub(format!(
                            "attachment {name:?} is a stub but the parent revision has no such attachment"
                        )))
                    }
                },
            };
            attachments.insert(name, stored);
        }
        let rev = compute_rev(
            parent.as_ref(),
            doc.deleted,
            &doc.body,
            attachments
                .iter()
                .map(|(n, a)| (n.as_str(), a.digest.as_str())),
        );
        self.tree
            .add_child(parent.as_ref(), rev.clone(), doc.deleted)?;
        self.leaves.insert(
            rev.clone(),
            StoredRev {
                body: doc.body,
                attachments,
            },
        );
        self.tree.stem(rev_limit);
        self.drop_non_leaf_bodies();
        Ok(Update {
            rev,
            changed: true,
            new_attachments,
        })
    }

    fn merge_replicated(&mut self, doc: Document, rev_limit: usize) -> Result<Update> {
        let rev = doc
            .rev
            .clone()
            .ok_or_else(|| Error::BadRequest("new_edits=false needs a _rev".into()))?;
        let path = match &doc.revisions {
            Some(revisions) => revisions.rev_ids()?,
            None => vec![rev.clone()],
        };
        if path.first() != Some(&rev) {
            return Err(Error::BadRequest(
                "_revisions does not start at _rev".into(),
            ));
        }
        // `_rev` and `_revisions` parsed from JSON are within bounds already; a document built
        // through serde may not be, and the tree must never hold a generation an edit of which
        // would overflow.
        rev.check_generation()?;
        if self.tree.contains(&rev) {
            return Ok(Update {
                rev,
                changed: false,
                new_attachments: Vec::new(),
            });
        }
        let mut attachments = BTreeMap::new();
        let mut new_attachments = Vec::new();
        for (name, att) in doc.attachments {
            let revpos = if att.revpos == 0 {
                rev.generation()
            } else {
                att.revpos
            };
            let (content_type, length) = match att.data {
                Some(data) => {
                    new_attachments.push((att.digest.clone(), data));
                    (att.content_type, att.length)
                }
                // A stub keeps the label stored with its bytes, as a new edit's does, never the
                // one it claims: the domain rules judge stubs by that label.
                None => match self.stored_attachment(&name, &att.digest) {
                    Some(known) => (known.content_type.clone(), known.length),
                    None => {
                        return Err(Error::MissingStub(format!(
                            "attachment {name:?} is a stub for data this replica does not have"
                        )))
                    }
                },
            };
            attachments.insert(
                name,
                StoredAttachment {
                    content_type,
                    digest: att.digest,
                    length,
                    revpos,
                },
            );
        }
        if self.tree.leaf_count_after_merge(&path) > MAX_LEAVES {
            return Err(Error::Forbidden(format!(
                "Document {} already has {MAX_LEAVES} revision branches (conflicts and \
                 deleted branches), the most this server keeps for one document, so this new \
                 branch was not stored. No real record has that many; tell an administrator.",
                self.id
            )));
        }
        // merge_path validates the whole path before touching the tree, so an error here still
        // leaves the record unchanged.
        self.tree.merge_path(&path, doc.deleted)?;
        self.leaves.insert(
            rev.clone(),
            StoredRev {
                body: doc.body,
                attachments,
            },
        );
        self.tree.stem(rev_limit);
        self.drop_non_leaf_bodies();
        Ok(Update {
            rev,
            changed: true,
            new_attachments,
        })
    }

    /// The attachment a leaf stores with the bytes of `digest` ([`find_stored_attachment`]).
    fn stored_attachment(&self, name: &str, digest: &str) -> Option<&StoredAttachment> {
        find_stored_attachment(self.leaves.values().map(|s| &s.attachments), name, digest)
    }

    fn drop_non_leaf_bodies(&mut self) {
        // One pass for the inner nodes, not a scan of the tree per body: a document with many
        // leaves would otherwise cost leaves × revisions on every write.
        let tree = &self.tree;
        let inner = tree.parents();
        self.leaves
            .retain(|rev, _| tree.contains(rev) && inner.binary_search(&rev).is_err());
    }

    /// Digests of the attachments of `rev` (the winner when `None`): what a store must load to
    /// answer [`document`](Self::document) with `attachments=true`.
    pub fn attachment_digests(&self, rev: Option<&RevId>) -> Vec<String> {
        let rev = match rev {
            Some(r) => Some(r.clone()),
            None => self.winner().map(|w| w.rev),
        };
        rev.and_then(|r| self.leaves.get(&r))
            .map(|s| s.attachments.values().map(|a| a.digest.clone()).collect())
            .unwrap_or_default()
    }

    /// The document at `opts.rev` (the winner when `None`), shaped by `opts`.
    ///
    /// `attachment_data` gives the bytes for a digest; it is only asked when `opts.attachments`
    /// is set, and only for attachments changed since the revisions in `opts.atts_since`.
    pub fn document(
        &self,
        opts: &GetOptions,
        mut attachment_data: impl FnMut(&str) -> Option<Vec<u8>>,
    ) -> Result<Document> {
        let rev = match &opts.rev {
            Some(r) => {
                if !self.tree.contains(r) {
                    return Err(Error::missing());
                }
                r.clone()
            }
            None => match self.winner() {
                Some(w) if !w.deleted => w.rev,
                Some(_) => return Err(Error::deleted()),
                None => return Err(Error::missing()),
            },
        };
        // A non-leaf revision's body was dropped, like CouchDB after compaction.
        let stored = self.leaves.get(&rev).ok_or_else(Error::missing)?;
        let since_generation = if opts.atts_since.is_empty() {
            0
        } else {
            let ancestry = self.tree.ancestry(&rev);
            opts.atts_since
                .iter()
                .filter(|r| ancestry.contains(r))
                .map(RevId::generation)
                .max()
                .unwrap_or(0)
        };
        let mut attachments = BTreeMap::new();
        for (name, a) in &stored.attachments {
            let data = if opts.attachments && a.revpos > since_generation {
                Some(attachment_data(&a.digest).ok_or_else(|| {
                    Error::Internal(format!("attachment bytes for {} are missing", a.digest))
                })?)
            } else {
                None
            };
            attachments.insert(
                name.clone(),
                Attachment {
                    content_type: a.content_type.clone(),
                    digest: a.digest.clone(),
                    length: a.length,
                    revpos: a.revpos,
                    data,
                },
            );
        }
        Ok(Document {
            id: self.id.clone(),
            rev: Some(rev.clone()),
            deleted: self.tree.is_deleted(&rev),
            revisions: if opts.revs {
                self.tree.revisions(&rev)
            } else {
                None
            },
            conflicts: if opts.conflicts {
                self.tree.conflicts()
            } else {
                Vec::new()
            },
            deleted_conflicts: if opts.deleted_conflicts {
                self.tree.deleted_conflicts()
            } else {
                Vec::new()
            },
            attachments,
            body: stored.body.clone(),
        })
    }

    /// This document's row in a changes feed: the winner first, then (with
    /// [`ChangesStyle::AllDocs`]) the other leaves.
    pub fn change(&self, style: ChangesStyle) -> ChangeRow {
        let leaves = self.tree.leaves();
        let deleted = leaves.first().is_some_and(|w| w.deleted);
        let revs = match style {
            ChangesStyle::MainOnly => leaves.into_iter().take(1).map(|l| l.rev).collect(),
            ChangesStyle::AllDocs => leaves.into_iter().map(|l| l.rev).collect(),
        };
        ChangeRow {
            seq: self.seq,
            id: self.id.clone(),
            revs,
            deleted,
            doc: None,
        }
    }
}

/// Of the attachments stored with some revisions (`stored`, one map per revision), the one
/// holding the bytes of `digest`: under `name` if one does, else under any name. How a stub
/// (`"stub": true`) is matched to what the store holds, by the store when it merges and by the
/// server when it labels a stub before checking it.
pub fn find_stored_attachment<'a, I>(
    stored: I,
    name: &str,
    digest: &str,
) -> Option<&'a StoredAttachment>
where
    I: IntoIterator<Item = &'a BTreeMap<String, StoredAttachment>> + Clone,
{
    let same_name = stored
        .clone()
        .into_iter()
        .filter_map(|atts| atts.get(name))
        .find(|a| a.digest == digest);
    same_name.or_else(|| {
        stored
            .into_iter()
            .flat_map(|atts| atts.values())
            .find(|a| a.digest == digest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        Document::from_json(v).expect("test doc")
    }

    fn record() -> DocRecord {
        DocRecord::new(DocId::parse("a").expect("id"))
    }

    #[test]
    fn a_replicated_stub_keeps_the_label_stored_with_its_bytes_not_the_one_it_claims() {
        let mut r = record();
        let first = r
            .update(
                doc(json!({"_id": "a", "_attachments": {"place.jpg": {
                    "content_type": "image/jpeg", "data": "aGVsbG8="}}})),
                true,
                1000,
            )
            .expect("create")
            .rev;
        let digest = r.leaves[&first].attachments["place.jpg"].digest.clone();
        let child = format!("{}-x", first.generation() + 1);
        let claimed = json!({"_id": "a", "_rev": child,
            "_revisions": {"start": first.generation() + 1, "ids": ["x", first.hash()]},
            "_attachments": {
                "place.jpg": {"stub": true, "digest": digest,
                              "content_type": "application/vnd.chaski.sealed", "length": 999},
                "again.jpg": {"stub": true, "digest": digest, "content_type": "text/plain"}}});
        let rev = r.update(doc(claimed), false, 1000).expect("merged").rev;
        for name in ["place.jpg", "again.jpg"] {
            let stored = &r.leaves[&rev].attachments[name];
            assert_eq!(stored.content_type, "image/jpeg", "{name}");
            assert_eq!(stored.length, 5, "{name}");
        }
    }

    #[test]
    fn a_failed_update_leaves_the_record_unchanged() {
        let mut r = record();
        r.update(doc(json!({"_id": "a", "v": 1})), true, 1000)
            .expect("create");
        let before = r.clone();
        assert!(r
            .update(doc(json!({"_id": "a", "v": 2})), true, 1000)
            .is_err());
        assert!(r
            .update(
                doc(
                    json!({"_id": "a", "_rev": "3-x", "_revisions": {"start": 3, "ids": ["x", "y"]},
                "_attachments": {"p": {"stub": true, "digest": "md5-nope"}}})
                ),
                false,
                1000
            )
            .is_err());
        assert_eq!(r, before);
    }

    #[test]
    fn a_revision_at_the_highest_generation_cannot_be_edited_and_one_above_is_refused() {
        use crate::rev::MAX_GENERATION;
        let mut r = record();
        let highest = format!("{MAX_GENERATION}-a");
        r.update(
            doc(json!({"_id": "a", "_rev": highest, "v": 1})),
            false,
            1000,
        )
        .expect("replicated at the highest generation");
        let before = r.clone();
        let edit = r.update(
            doc(json!({"_id": "a", "_rev": highest, "v": 2})),
            true,
            1000,
        );
        assert!(matches!(edit, Err(Error::BadRequest(_))), "{edit:?}");
        assert_eq!(r, before);

        // Above it cannot even be parsed from JSON; a document built in code is refused too.
        assert!(
            Document::from_json(json!({"_id": "a", "_rev": format!("{}-b", u64::MAX)})).is_err()
        );
        let mut built = doc(json!({"_id": "a"}));
        built.rev = Some(serde_json::from_value(json!(format!("{}-b", u64::MAX))).unwrap());
        assert!(matches!(
            r.update(built, false, 1000),
            Err(Error::BadRequest(_))
        ));
        assert_eq!(r, before);
    }

    #[test]
    fn only_leaf_bodies_are_kept() {
        let mut r = record();
        let first = r
            .update(doc(json!({"_id": "a", "v": 1})), true, 1000)
            .expect("create");
        let second = r
            .update(
                doc(json!({"_id": "a", "_rev": first.rev.to_string(), "v": 2})),
                true,
                1000,
            )
            .expect("update");
        assert_eq!(r.leaves.keys().collect::<Vec<_>>(), vec![&second.rev]);
        let old = GetOptions {
            rev: Some(first.rev),
            ..GetOptions::default()
        };
        assert_eq!(r.document(&old, |_| None), Err(Error::missing()));
    }

    #[test]
    fn attachments_changed_since_a_known_ancestor_are_inlined_and_older_ones_stay_stubs() {
        let mut r = record();
        let one = r
            .update(doc(json!({"_id": "a", "_attachments": {"old": {"content_type": "text/plain", "data": "b2xk"}}})), true, 1000)
            .expect("create");
        let two = r
            .update(
                doc(
                    json!({"_id": "a", "_rev": one.rev.to_string(), "_attachments": {
                "old": {"stub": true, "digest": crate::doc::attachment_digest(b"old")},
                "new": {"content_type": "text/plain", "data": "bmV3"}}}),
                ),
                true,
                1000,
            )
            .expect("update");
        let bytes: BTreeMap<String, Vec<u8>> = one
            .new_attachments
            .into_iter()
            .chain(two.new_attachments)
            .collect();
        let opts = GetOptions {
            attachments: true,
            atts_since: vec![one.rev.clone()],
            ..GetOptions::default()
        };
        let d = r.document(&opts, |d| bytes.get(d).cloned()).expect("get");
        assert!(d.attachments["old"].is_stub());
        assert_eq!(d.attachments["old"].revpos, 1);
        assert_eq!(d.attachments["new"].data.as_deref(), Some(&b"new"[..]));
        assert_eq!(d.attachments["new"].revpos, 2);
    }
}
