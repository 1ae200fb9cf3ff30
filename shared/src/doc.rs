//! Documents as CouchDB has them: validated ids, the special `_` fields, attachments and local docs.
//!
//! JSON becomes a [`Document`] once, at the edge ([`Document::from_json`]); everything after works
//! on typed fields. [`Document::to_json`] gives the CouchDB JSON back.

use std::collections::BTreeMap;
use std::fmt;

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::b64;
use crate::error::{Error, Result};
use crate::rev::{RevId, Revisions};

/// Longest document id accepted, in bytes of UTF-8.
pub const MAX_DOC_ID_BYTES: usize = 512;

/// Prefix of local (never replicated) documents.
pub const LOCAL_PREFIX: &str = "_local/";

/// Prefix of design documents.
pub const DESIGN_PREFIX: &str = "_design/";

/// A valid id of a replicated document: non-empty, at most 512 bytes, and no leading underscore
/// except in `_design/…`. Local ids (`_local/…`) are not [`DocId`]s: they go through the
/// local-document API.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DocId(String);

impl DocId {
    /// Checks the id rules; the error is [`Error::IllegalDocId`] with a reason a person can act on.
    pub fn parse(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::IllegalDocId("Document id must not be empty".into()));
        }
        if id.len() > MAX_DOC_ID_BYTES {
            return Err(Error::IllegalDocId(format!(
                "Document id must be at most {MAX_DOC_ID_BYTES} bytes"
            )));
        }
        if id.starts_with(LOCAL_PREFIX) {
            return Err(Error::IllegalDocId(
                "Local documents (_local/) are not replicated documents".into(),
            ));
        }
        if id.starts_with('_') && !(id.starts_with(DESIGN_PREFIX) && id.len() > DESIGN_PREFIX.len())
        {
            return Err(Error::IllegalDocId(
                "Only reserved document ids may start with underscore.".into(),
            ));
        }
        Ok(DocId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a design document (`_design/…`).
    pub fn is_design(&self) -> bool {
        self.0.starts_with(DESIGN_PREFIX)
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DocId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        DocId::parse(s)
    }
}

impl TryFrom<&str> for DocId {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        DocId::parse(s)
    }
}

impl Serialize for DocId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DocId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        DocId::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Checks a local document id: `_local/` followed by at least one character.
pub fn validate_local_id(id: &str) -> Result<()> {
    if !id.starts_with(LOCAL_PREFIX) || id.len() == LOCAL_PREFIX.len() {
        return Err(Error::IllegalDocId(
            "Local document ids start with _local/ and name something".into(),
        ));
    }
    if id.len() > MAX_DOC_ID_BYTES {
        return Err(Error::IllegalDocId(format!(
            "Document id must be at most {MAX_DOC_ID_BYTES} bytes"
        )));
    }
    Ok(())
}

/// CouchDB's attachment digest: `md5-` and the base64 of the MD5 of the bytes.
pub fn attachment_digest(data: &[u8]) -> String {
    format!("md5-{}", b64::encode(Md5::digest(data)))
}

/// One attachment: inline (`data` present) or a stub pointing at bytes the store already has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// MIME type, e.g. `image/jpeg`.
    pub content_type: String,
    /// `md5-<base64>` of the bytes; stores keep bytes by this digest.
    pub digest: String,
    /// Length of the bytes.
    pub length: u64,
    /// Generation of the revision that last changed this attachment (0 until a store sets it).
    pub revpos: u64,
    /// The bytes, or `None` for a stub.
    pub data: Option<Vec<u8>>,
}

impl Attachment {
    /// An inline attachment; digest and length are computed from the bytes.
    pub fn inline(content_type: impl Into<String>, data: Vec<u8>) -> Self {
        Attachment {
            content_type: content_type.into(),
            digest: attachment_digest(&data),
            length: data.len() as u64,
            revpos: 0,
            data: Some(data),
        }
    }

    /// Whether this attachment carries no bytes.
    pub fn is_stub(&self) -> bool {
        self.data.is_none()
    }

    /// The same attachment without its bytes.
    pub fn to_stub(&self) -> Self {
        Attachment {
            data: None,
            ..self.clone()
        }
    }

    fn from_json(name: &str, value: Value) -> Result<Self> {
        let bad = |what: &str| Error::BadRequest(format!("attachment {name:?}: {what}"));
        let Value::Object(mut m) = value else {
            return Err(bad("must be an object"));
        };
        let content_type = match m.remove("content_type") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => "application/octet-stream".to_string(),
            Some(_) => return Err(bad("content_type must be a string")),
        };
        let revpos = match m.remove("revpos") {
            Some(v) => v.as_u64().ok_or_else(|| bad("revpos must be a number"))?,
            None => 0,
        };
        if m.get("follows").and_then(Value::as_bool) == Some(true) {
            return Err(bad(
                "multipart attachments (follows) are not supported; send data inline",
            ));
        }
        match m.remove("data") {
            Some(Value::String(b64)) => {
                let data = b64::decode(&b64).ok_or_else(|| bad("data is not valid base64"))?;
                let mut att = Attachment::inline(content_type, data);
                att.revpos = revpos;
                Ok(att)
            }
            Some(_) => Err(bad("data must be a base64 string")),
            None => {
                if m.get("stub").and_then(Value::as_bool) != Some(true) {
                    return Err(bad("needs either data or stub: true"));
                }
                let digest = match m.remove("digest") {
                    Some(Value::String(d)) => d,
                    _ => return Err(bad("a stub needs its digest")),
                };
                let length = m.get("length").and_then(Value::as_u64).unwrap_or(0);
                Ok(Attachment {
                    content_type,
                    digest,
                    length,
                    revpos,
                    data: None,
                })
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "content_type".into(),
            Value::String(self.content_type.clone()),
        );
        m.insert("digest".into(), Value::String(self.digest.clone()));
        m.insert("length".into(), Value::from(self.length));
        m.insert("revpos".into(), Value::from(self.revpos));
        match &self.data {
            Some(bytes) => {
                m.insert("data".into(), Value::String(b64::encode(bytes)));
            }
            None => {
                m.insert("stub".into(), Value::Bool(true));
            }
        }
        Value::Object(m)
    }
}

/// A replicated document: its special fields typed, the rest in `body`.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// `_id`.
    pub id: DocId,
    /// `_rev`: the revision this is (or, for a new edit, the revision it is based on).
    pub rev: Option<RevId>,
    /// `_deleted`.
    pub deleted: bool,
    /// `_revisions`: the ancestry, sent by replication with `new_edits=false`.
    pub revisions: Option<Revisions>,
    /// `_conflicts` (output only).
    pub conflicts: Vec<RevId>,
    /// `_deleted_conflicts` (output only).
    pub deleted_conflicts: Vec<RevId>,
    /// `_attachments`, by name.
    pub attachments: BTreeMap<String, Attachment>,
    /// Every field that does not start with `_`.
    pub body: Map<String, Value>,
}

/// Special fields a reader may send back that carry nothing to store.
const IGNORED_SPECIAL_FIELDS: &[&str] = &["_revs_info", "_local_seq"];

impl Document {
    /// A document with no revision yet.
    pub fn new(id: DocId, body: Map<String, Value>) -> Self {
        Document {
            id,
            rev: None,
            deleted: false,
            revisions: None,
            conflicts: Vec::new(),
            deleted_conflicts: Vec::new(),
            attachments: BTreeMap::new(),
            body,
        }
    }

    /// Parses CouchDB JSON; `_id` must be present and valid, unknown `_` fields are rejected.
    pub fn from_json(value: Value) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(Error::BadRequest("Document must be a JSON object".into()));
        };
        Self::from_map(map, None)
    }

    /// Parses CouchDB JSON whose id comes from elsewhere (a URL path) when `_id` is absent; when
    /// both are present they must agree.
    pub fn from_json_with_id(value: Value, id: &DocId) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(Error::BadRequest("Document must be a JSON object".into()));
        };
        Self::from_map(map, Some(id))
    }

    fn from_map(map: Map<String, Value>, fallback_id: Option<&DocId>) -> Result<Self> {
        let mut id = None;
        let mut doc = Document::new(DocId(String::new()), Map::new());
        for (key, value) in map {
            if !key.starts_with('_') {
                doc.body.insert(key, value);
                continue;
            }
            match key.as_str() {
                "_id" => match value {
                    Value::String(s) => id = Some(DocId::parse(s)?),
                    _ => return Err(Error::BadRequest("_id must be a string".into())),
                },
                "_rev" => match value {
                    Value::String(s) => doc.rev = Some(RevId::parse(&s)?),
                    Value::Null => {}
                    _ => return Err(Error::BadRequest("_rev must be a string".into())),
                },
                "_deleted" => match value {
                    Value::Bool(b) => doc.deleted = b,
                    Value::Null => {}
                    _ => return Err(Error::BadRequest("_deleted must be a boolean".into())),
                },
                "_revisions" => {
                    let revisions: Revisions = serde_json::from_value(value)
                        .map_err(|e| Error::BadRequest(format!("_revisions: {e}")))?;
                    revisions.rev_ids()?;
                    doc.revisions = Some(revisions);
                }
                "_conflicts" | "_deleted_conflicts" => {
                    let revs: Vec<RevId> = serde_json::from_value(value)
                        .map_err(|e| Error::BadRequest(format!("{key}: {e}")))?;
                    if key == "_conflicts" {
                        doc.conflicts = revs;
                    } else {
                        doc.deleted_conflicts = revs;
                    }
                }
                "_attachments" => match value {
                    Value::Object(atts) => {
                        for (name, att) in atts {
                            let parsed = Attachment::from_json(&name, att)?;
                            doc.attachments.insert(name, parsed);
                        }
                    }
                    Value::Null => {}
                    _ => return Err(Error::BadRequest("_attachments must be an object".into())),
                },
                k if IGNORED_SPECIAL_FIELDS.contains(&k) => {}
                other => {
                    return Err(Error::BadRequest(format!(
                        "Bad special document member: {other}"
                    )))
                }
            }
        }
        doc.id = match (id, fallback_id) {
            (Some(id), Some(path_id)) if &id != path_id => {
                return Err(Error::BadRequest(
                    "Document id in the body does not match the URL".into(),
                ))
            }
            (Some(id), _) => id,
            (None, Some(path_id)) => path_id.clone(),
            (None, None) => return Err(Error::BadRequest("Document must have an _id".into())),
        };
        if let (Some(rev), Some(revisions)) = (&doc.rev, &doc.revisions) {
            if revisions.start != rev.generation()
                || revisions.ids.first().map(String::as_str) != Some(rev.hash())
            {
                return Err(Error::BadRequest(
                    "_revisions does not start at _rev".into(),
                ));
            }
        }
        Ok(doc)
    }

    /// The CouchDB JSON of this document (special fields only when set).
    pub fn to_json(&self) -> Value {
        let mut m: Map<String, Value> = self
            .special_fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        for (k, v) in &self.body {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// The special fields this document has, in the byte order of their names (the order
    /// serde_json's sorted map writes them): the one list [`Document::to_json`] and
    /// `Serialize` both write.
    fn special_fields(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::with_capacity(7);
        if !self.attachments.is_empty() {
            let atts: Map<String, Value> = self
                .attachments
                .iter()
                .map(|(name, att)| (name.clone(), att.to_json()))
                .collect();
            out.push(("_attachments", Value::Object(atts)));
        }
        if !self.conflicts.is_empty() {
            out.push(("_conflicts", serde_json::json!(self.conflicts)));
        }
        if self.deleted {
            out.push(("_deleted", Value::Bool(true)));
        }
        if !self.deleted_conflicts.is_empty() {
            out.push((
                "_deleted_conflicts",
                serde_json::json!(self.deleted_conflicts),
            ));
        }
        out.push(("_id", Value::String(self.id.0.clone())));
        if let Some(rev) = &self.rev {
            out.push(("_rev", Value::String(rev.to_string())));
        }
        if let Some(revisions) = &self.revisions {
            // Through a `Value`, so that its keys come out sorted too.
            out.push(("_revisions", serde_json::json!(revisions)));
        }
        debug_assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "in byte order");
        out
    }
}

impl Serialize for Document {
    /// The same bytes as [`Document::to_json`], without copying the body: serde_json's map
    /// writes its keys sorted, so the body's keys that sort before `_` come first, then the
    /// special fields (all `_…`, in their sorted order), then the rest of the body. Serving
    /// `_bulk_get` copied every body once more for nothing.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.body.keys().any(|k| k.starts_with('_')) {
            // A body key that `to_json` would let replace a special field: its exact output.
            return self.to_json().serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        let mut body = self.body.iter().peekable();
        while let Some((key, value)) = body.next_if(|(k, _)| k.as_str() < "_") {
            map.serialize_entry(key, value)?;
        }
        for (key, value) in self.special_fields() {
            map.serialize_entry(key, &value)?;
        }
        for (key, value) in body {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Document::from_json(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<Value> for Document {
    type Error = Error;
    fn try_from(value: Value) -> Result<Self> {
        Document::from_json(value)
    }
}

/// A local document (`_local/…`): never replicated, no revision tree, a simple `0-N` revision.
/// Replication checkpoints live in these.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalDoc {
    /// The full id, `_local/…`.
    pub id: String,
    /// `0-N`; on a write, the revision being replaced (`None` to create).
    pub rev: Option<String>,
    /// Every field but `_id` and `_rev`.
    pub body: Map<String, Value>,
}

impl LocalDoc {
    /// A local document to create; the id must start with `_local/`.
    pub fn new(id: impl Into<String>, body: Map<String, Value>) -> Result<Self> {
        let id = id.into();
        validate_local_id(&id)?;
        Ok(LocalDoc {
            id,
            rev: None,
            body,
        })
    }

    /// Parses `{"_id": "_local/…", "_rev": "0-N", …}`.
    pub fn from_json(value: Value) -> Result<Self> {
        let Value::Object(mut m) = value else {
            return Err(Error::BadRequest("Document must be a JSON object".into()));
        };
        let id = match m.remove("_id") {
            Some(Value::String(id)) => id,
            _ => {
                return Err(Error::BadRequest(
                    "Local document needs a string _id".into(),
                ))
            }
        };
        validate_local_id(&id)?;
        let rev = match m.remove("_rev") {
            Some(Value::String(r)) => Some(r),
            None | Some(Value::Null) => None,
            Some(_) => return Err(Error::BadRequest("_rev must be a string".into())),
        };
        Ok(LocalDoc { id, rev, body: m })
    }

    /// The CouchDB JSON of this local document.
    pub fn to_json(&self) -> Value {
        let mut m = self.body.clone();
        m.insert("_id".into(), Value::String(self.id.clone()));
        if let Some(rev) = &self.rev {
            m.insert("_rev".into(), Value::String(rev.clone()));
        }
        Value::Object(m)
    }

    /// The revision that follows `current` (`0-1` for a new document), as CouchDB numbers them.
    /// A revision that is not `0-N` (another server's format) restarts the count at 1.
    pub fn next_rev(current: Option<&str>) -> String {
        let n = current
            .and_then(|r| r.strip_prefix("0-"))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        format!("0-{}", n.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doc_ids_accept_ordinary_and_design_ids() {
        for ok in [
            "inspection:2026-11-28:abc",
            "a",
            "_design/reports",
            "ñandú",
            &"x".repeat(512),
        ] {
            assert!(DocId::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn doc_ids_reject_empty_long_local_and_underscored_ids() {
        for bad in [
            "",
            "_secret",
            "_design/",
            "_local/checkpoint",
            &"x".repeat(513),
        ] {
            assert!(
                matches!(DocId::parse(bad), Err(Error::IllegalDocId(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn a_document_serialises_to_the_very_bytes_of_its_json() {
        // Body keys that sort before `_` (digits, capitals, `^`) and after it.
        let mut doc = Document::from_json(json!({
            "_id": "inspection:1",
            "_rev": "2-7051cbe5c8faecd085a3fa619e6e6337",
            "_revisions": {"start": 2, "ids": ["7051cbe5c8faecd085a3fa619e6e6337", "967a00dff5e02add41819138abb3284d"]},
            "_attachments": {"photo.jpg": {"content_type": "image/jpeg", "data": "AAEC"}},
            "Zeta": 1, "0num": [1, 2], "alpha": {"b": "ñ", "a": null}, "~tilde": "x", "": "",
            "^caret": true,
        }))
        .expect("a document");
        let same = |doc: &Document| {
            assert_eq!(
                serde_json::to_string(doc).expect("serialise"),
                serde_json::to_string(&doc.to_json()).expect("serialise the JSON"),
            );
        };
        same(&doc);
        doc.conflicts = vec![RevId::parse("1-abc").expect("rev")];
        doc.deleted_conflicts = vec![RevId::parse("1-def").expect("rev")];
        doc.deleted = true;
        same(&doc);
        doc.rev = None;
        doc.revisions = None;
        doc.attachments.clear();
        same(&doc);
        // A body key that `to_json` would let replace a special field.
        doc.body.insert("_id".into(), json!("other"));
        same(&doc);
        assert!(serde_json::to_string(&doc)
            .expect("serialise")
            .contains("other"));
    }

    #[test]
    fn a_document_round_trips_through_couchdb_json() {
        let json = json!({
            "_id": "inspection:1",
            "_rev": "2-bbb",
            "_revisions": {"start": 2, "ids": ["bbb", "aaa"]},
            "_deleted": true,
            "_conflicts": ["2-aaa"],
            "_attachments": {
                "photo.jpg": {"content_type": "image/jpeg", "data": "aGVsbG8=", "revpos": 2},
                "old.txt": {"stub": true, "content_type": "text/plain", "digest": "md5-x", "length": 3, "revpos": 1}
            },
            "sector": "gold_mining",
            "workers": {"women": 3}
        });
        let doc = Document::from_json(json).expect("parse");
        assert_eq!(doc.id.as_str(), "inspection:1");
        assert!(doc.deleted);
        assert_eq!(doc.body.len(), 2);
        let photo = &doc.attachments["photo.jpg"];
        assert_eq!(photo.data.as_deref(), Some(&b"hello"[..]));
        assert_eq!(photo.digest, attachment_digest(b"hello"));
        assert_eq!(photo.length, 5);
        assert!(doc.attachments["old.txt"].is_stub());
        let back = Document::from_json(doc.to_json()).expect("reparse");
        assert_eq!(back, doc);
    }

    #[test]
    fn unknown_special_fields_are_bad_requests() {
        let err = Document::from_json(json!({"_id": "a", "_secret": 1})).expect_err("reject");
        assert!(matches!(err, Error::BadRequest(_)));
    }

    #[test]
    fn a_document_without_id_is_a_bad_request_unless_the_url_gives_one() {
        assert!(Document::from_json(json!({"a": 1})).is_err());
        let id = DocId::parse("from-url").expect("id");
        let doc = Document::from_json_with_id(json!({"a": 1}), &id).expect("parse");
        assert_eq!(doc.id, id);
        assert!(Document::from_json_with_id(json!({"_id": "other"}), &id).is_err());
    }

    #[test]
    fn revisions_must_start_at_the_documents_rev() {
        let err = Document::from_json(json!({
            "_id": "a", "_rev": "2-b", "_revisions": {"start": 2, "ids": ["x", "a"]}
        }));
        assert!(err.is_err());
    }

    #[test]
    fn attachments_with_bad_base64_or_no_data_are_bad_requests() {
        for att in [
            json!({"data": "!!!"}),
            json!({"content_type": "a/b"}),
            json!({"stub": true}),
        ] {
            let doc = json!({"_id": "a", "_attachments": {"x": att}});
            assert!(matches!(
                Document::from_json(doc),
                Err(Error::BadRequest(_))
            ));
        }
    }

    #[test]
    fn local_docs_count_revisions_from_zero_dash_one() {
        assert_eq!(LocalDoc::next_rev(None), "0-1");
        assert_eq!(LocalDoc::next_rev(Some("0-41")), "0-42");
        assert_eq!(LocalDoc::next_rev(Some("1-abc")), "0-1");
        let doc = LocalDoc::from_json(json!({"_id": "_local/x", "_rev": "0-2", "seq": 3}))
            .expect("parse");
        assert_eq!(doc.rev.as_deref(), Some("0-2"));
        assert_eq!(LocalDoc::from_json(doc.to_json()).expect("reparse"), doc);
        assert!(LocalDoc::new("x", Map::new()).is_err());
    }
}
