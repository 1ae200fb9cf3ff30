//! CouchDB's JSON for the replication endpoints: the bodies [`HttpPeer`](crate::peer) sends and
//! reads, and that the server's handlers can parse and answer with the very same types.
//!
//! Sequences are [`Seq`]: Chaski stores count with a `u64`, but CouchDB 2+ sends opaque strings
//! (`"12-g1AAA…"`) that must be handed back unchanged, so a sequence from a peer is kept as it came.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::doc::Document;
use crate::rev::RevId;
use crate::store::{ChangeRow, Changes, ChangesStyle, DbInfo};

/// An update sequence as a peer sent it: a number, or an opaque string (CouchDB 2+).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seq {
    /// A plain counter (Chaski, PouchDB, CouchDB 1.x).
    Num(u64),
    /// An opaque sequence; only its leading integer means something to us.
    Text(String),
}

impl Default for Seq {
    fn default() -> Self {
        Seq::Num(0)
    }
}

impl Seq {
    /// The start of every feed.
    pub fn zero() -> Self {
        Seq::Num(0)
    }

    /// The leading integer (`12` for `12`, `"12"` or `"12-g1AAA"`; 0 when there is none): what a
    /// Chaski store's `since` means, and a rough order between opaque sequences.
    pub fn number(&self) -> u64 {
        match self {
            Seq::Num(n) => *n,
            Seq::Text(s) => {
                let digits: &str = s.split('-').next().unwrap_or("");
                digits.parse().unwrap_or(0)
            }
        }
    }

    /// Parses a `since` query parameter as a peer would send it; `now` is the caller's business.
    pub fn parse(s: &str) -> Self {
        match s.parse::<u64>() {
            Ok(n) => Seq::Num(n),
            Err(_) => Seq::Text(s.to_string()),
        }
    }

    /// Orders two sequences by their leading integers.
    pub fn cmp_number(&self, other: &Seq) -> Ordering {
        self.number().cmp(&other.number())
    }
}

impl From<u64> for Seq {
    fn from(n: u64) -> Self {
        Seq::Num(n)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seq::Num(n) => write!(f, "{n}"),
            Seq::Text(s) => f.write_str(s),
        }
    }
}

impl Serialize for Seq {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Seq::Num(n) => serializer.serialize_u64(*n),
            Seq::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for Seq {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(n) => n.as_u64().map(Seq::Num).ok_or_else(|| {
                serde::de::Error::custom("a sequence must be a non-negative integer")
            }),
            Value::String(s) => Ok(Seq::parse(&s)),
            Value::Null => Ok(Seq::zero()),
            _ => Err(serde::de::Error::custom(
                "a sequence is a number or a string",
            )),
        }
    }
}

/// `GET /{db}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DbInfoResponse {
    /// The database name.
    #[serde(default)]
    pub db_name: String,
    /// The latest sequence.
    pub update_seq: Seq,
    /// Live documents.
    #[serde(default)]
    pub doc_count: u64,
    /// Deleted documents.
    #[serde(default)]
    pub doc_del_count: u64,
    /// Changes when the database is deleted and created again (see
    /// [`DbInfo::instance_start_time`]); `"0"` from CouchDB 2+, which does not track it.
    #[serde(default = "zero_string")]
    pub instance_start_time: String,
}

fn zero_string() -> String {
    "0".into()
}

impl DbInfoResponse {
    /// The answer for a store's [`DbInfo`].
    pub fn new(db_name: impl Into<String>, info: &DbInfo) -> Self {
        DbInfoResponse {
            db_name: db_name.into(),
            update_seq: Seq::Num(info.update_seq),
            doc_count: info.doc_count,
            doc_del_count: info.doc_del_count,
            instance_start_time: info.instance_start_time.clone(),
        }
    }
}

/// What a replicator asks of `_changes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangesRequest {
    /// Only changes after this sequence.
    pub since: Seq,
    /// At most this many rows.
    pub limit: Option<usize>,
    /// Winner only or every leaf (replication wants [`ChangesStyle::AllDocs`]).
    pub style: ChangesStyle,
    /// The `_doc_ids` filter.
    pub doc_ids: Option<Vec<String>>,
}

/// `{"rev": "N-hash"}` in a changes row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevEntry {
    /// A leaf revision.
    pub rev: RevId,
}

/// One row of `_changes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// The sequence of the document's latest change.
    pub seq: Seq,
    /// The document id.
    pub id: String,
    /// Leaf revisions, winner first.
    pub changes: Vec<RevEntry>,
    /// Whether the winner is deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The document, with `include_docs=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<Document>,
}

impl From<ChangeRow> for ChangeEntry {
    fn from(row: ChangeRow) -> Self {
        ChangeEntry {
            seq: Seq::Num(row.seq),
            id: row.id.into_string(),
            changes: row.revs.into_iter().map(|rev| RevEntry { rev }).collect(),
            deleted: row.deleted,
            doc: row.doc,
        }
    }
}

/// The `_changes` answer (`feed=normal` and `longpoll`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangesResponse {
    /// The rows.
    pub results: Vec<ChangeEntry>,
    /// Where the next page starts.
    pub last_seq: Seq,
    /// Rows left after this page, when the peer says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
}

impl From<Changes> for ChangesResponse {
    fn from(c: Changes) -> Self {
        ChangesResponse {
            results: c.results.into_iter().map(ChangeEntry::from).collect(),
            last_seq: Seq::Num(c.last_seq),
            pending: Some(c.pending),
        }
    }
}

/// `POST /{db}/_changes?filter=_doc_ids` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocIdsFilter {
    /// The documents to follow.
    pub doc_ids: Vec<String>,
}

/// One document revision asked of `_bulk_get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkGetRef {
    /// The document id.
    pub id: String,
    /// The revision; every leaf when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<RevId>,
    /// Revisions the reader has: attachments unchanged since them come as stubs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub atts_since: Vec<RevId>,
}

/// `POST /{db}/_bulk_get` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkGetRequest {
    /// What to read.
    pub docs: Vec<BulkGetRef>,
}

/// Why `_bulk_get` could not give one revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkGetError {
    /// The document id.
    pub id: String,
    /// The revision asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// CouchDB's error name (`not_found`, …).
    pub error: String,
    /// CouchDB's reason (`missing`, …).
    #[serde(default)]
    pub reason: String,
}

/// One revision in a `_bulk_get` answer: `{"ok": doc}` or `{"error": {…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkGetDoc {
    /// The revision, with `_revisions` and inline attachments.
    Ok(Document),
    /// Why it could not be read.
    Error(BulkGetError),
}

/// Every revision answered for one requested document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkGetResult {
    /// The document id.
    pub id: String,
    /// One entry per revision.
    pub docs: Vec<BulkGetDoc>,
}

/// The `_bulk_get` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkGetResponse {
    /// One result per requested entry.
    pub results: Vec<BulkGetResult>,
}

/// `POST /{db}/_bulk_docs` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BulkDocsRequest {
    /// The documents.
    pub docs: Vec<Document>,
    /// `false` for replication: keep the revisions as sent.
    #[serde(default = "default_true")]
    pub new_edits: bool,
}

fn default_true() -> bool {
    true
}

/// `POST /{db}/_ensure_full_commit` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnsureFullCommitResponse {
    /// Always true on success.
    pub ok: bool,
    /// The same value as the database's info: the replicator compares the two to notice a
    /// database re-created during a run. `"0"` from CouchDB 2+.
    #[serde(default = "zero_string")]
    pub instance_start_time: String,
}

impl Default for EnsureFullCommitResponse {
    fn default() -> Self {
        EnsureFullCommitResponse {
            ok: true,
            instance_start_time: zero_string(),
        }
    }
}

/// `PUT /{db}/_local/{id}` answer (and any single-document write's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResponse {
    /// Always true on success.
    pub ok: bool,
    /// The document id.
    pub id: String,
    /// The new revision.
    pub rev: String,
}

/// A CouchDB error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error name.
    pub error: String,
    /// A message a person can act on.
    #[serde(default)]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::DocId;
    use crate::store::DocResult;
    use serde_json::json;

    fn rev(s: &str) -> RevId {
        RevId::parse(s).expect("rev")
    }

    #[test]
    fn sequences_parse_from_numbers_numeric_strings_and_opaque_strings() {
        let seqs: Vec<Seq> =
            serde_json::from_value(json!([12, "13", "14-g1AAAA", null])).expect("parse");
        assert_eq!(seqs[0], Seq::Num(12));
        assert_eq!(seqs[1], Seq::Num(13));
        assert_eq!(seqs[2].number(), 14);
        assert_eq!(seqs[3], Seq::zero());
        assert_eq!(
            serde_json::to_value(&seqs[2]).expect("ser"),
            json!("14-g1AAAA")
        );
        assert_eq!(serde_json::to_value(Seq::Num(7)).expect("ser"), json!(7));
        assert_eq!(Seq::Text("junk".into()).number(), 0);
        assert!(serde_json::from_value::<Seq>(json!(-1)).is_err());
    }

    #[test]
    fn changes_responses_encode_as_couchdb_does() {
        let row = ChangeRow {
            seq: 3,
            id: DocId::parse("a").expect("id"),
            revs: vec![rev("2-b"), rev("2-a")],
            deleted: true,
            doc: None,
        };
        let resp = ChangesResponse::from(Changes {
            results: vec![row],
            last_seq: 3,
            pending: 0,
        });
        let v = serde_json::to_value(&resp).expect("ser");
        assert_eq!(
            v,
            json!({"results": [{"seq": 3, "id": "a", "changes": [{"rev": "2-b"}, {"rev": "2-a"}], "deleted": true}],
                   "last_seq": 3, "pending": 0})
        );
        let back: ChangesResponse = serde_json::from_value(v).expect("de");
        assert_eq!(back, resp);
    }

    #[test]
    fn couchdb_2_changes_with_opaque_seqs_and_no_pending_decode() {
        let v = json!({"results": [{"seq": "5-g1AAA", "id": "x", "changes": [{"rev": "1-a"}]}], "last_seq": "5-g1AAA"});
        let resp: ChangesResponse = serde_json::from_value(v).expect("de");
        assert_eq!(resp.last_seq, Seq::Text("5-g1AAA".into()));
        assert_eq!(resp.pending, None);
        assert!(!resp.results[0].deleted);
    }

    #[test]
    fn bulk_get_requests_and_answers_encode_as_couchdb_does() {
        let req = BulkGetRequest {
            docs: vec![BulkGetRef {
                id: "a".into(),
                rev: Some(rev("2-b")),
                atts_since: vec![rev("1-a")],
            }],
        };
        assert_eq!(
            serde_json::to_value(&req).expect("ser"),
            json!({"docs": [{"id": "a", "rev": "2-b", "atts_since": ["1-a"]}]})
        );
        let answer = json!({"results": [{"id": "a", "docs": [
            {"ok": {"_id": "a", "_rev": "2-b", "_revisions": {"start": 2, "ids": ["b", "a"]}, "v": 1}},
            {"error": {"id": "a", "rev": "9-z", "error": "not_found", "reason": "missing"}}
        ]}]});
        let resp: BulkGetResponse = serde_json::from_value(answer.clone()).expect("de");
        assert!(matches!(&resp.results[0].docs[0], BulkGetDoc::Ok(d) if d.revisions.is_some()));
        assert!(matches!(&resp.results[0].docs[1], BulkGetDoc::Error(e) if e.reason == "missing"));
        assert_eq!(serde_json::to_value(&resp).expect("ser"), answer);
    }

    #[test]
    fn bulk_docs_requests_default_to_new_edits_and_results_carry_errors() {
        let req: BulkDocsRequest =
            serde_json::from_value(json!({"docs": [{"_id": "a"}]})).expect("de");
        assert!(req.new_edits);
        let results: Vec<DocResult> = serde_json::from_value(json!([
            {"id": "a", "rev": "1-x", "ok": true},
            {"id": "b", "rev": "1-y", "error": "forbidden", "reason": "no writes to closed cases"}
        ]))
        .expect("de");
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].error,
            Some(crate::Error::Forbidden("no writes to closed cases".into()))
        );
        assert_eq!(
            serde_json::to_value(&results[1]).expect("ser"),
            json!({"id": "b", "rev": "1-y", "error": "forbidden", "reason": "no writes to closed cases"})
        );
    }

    #[test]
    fn revs_diff_answers_omit_empty_possible_ancestors() {
        let mut diff = crate::store::RevsDiff::new();
        diff.insert(
            "a".into(),
            crate::store::RevsDiffEntry {
                missing: vec![rev("2-b")],
                possible_ancestors: vec![],
            },
        );
        assert_eq!(
            serde_json::to_value(&diff).expect("ser"),
            json!({"a": {"missing": ["2-b"]}})
        );
    }

    #[test]
    fn db_info_decodes_from_couchdb_and_chaski() {
        let info: DbInfoResponse =
            serde_json::from_value(json!({"db_name": "md", "update_seq": "9-abc", "doc_count": 2}))
                .expect("de");
        assert_eq!(info.update_seq.number(), 9);
        let ours = DbInfoResponse::new(
            "md",
            &DbInfo {
                update_seq: 4,
                doc_count: 1,
                doc_del_count: 0,
                instance_start_time: "1777000000000000".into(),
            },
        );
        assert_eq!(
            serde_json::to_value(&ours).expect("ser")["update_seq"],
            json!(4)
        );
        assert_eq!(ours.instance_start_time, "1777000000000000");
        assert_eq!(info.instance_start_time, "0", "CouchDB may leave it out");
    }
}
