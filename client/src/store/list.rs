//! The list index: for every inspection and case event on the device, a slim copy of its winning
//! revision with only what the list, its search and the case derivation read.
//!
//! The IndexedDB store keeps these entries in their own object store, written in the same
//! transaction as the document they come from, so opening the app reads them with one `getAll`
//! instead of parsing every stored document (issue #13). Elsewhere (the host's in-memory store)
//! they are derived from the changes feed with [`entry_of`], which is also what the browser tests
//! compare the persisted index with.

use chaski_shared::record::DocRecord;
use chaski_shared::{DocId, Document, RevId};
use serde_json::{Map, Value};

/// The version of the entries' shape: a stored index of another version is rebuilt from the
/// documents when the list is first read. Bump it whenever [`slim_body`] keeps different fields.
pub const LIST_VERSION: u32 = 1;

/// The inspection fields the list shows, searches or derives the case from.
const INSPECTION_FIELDS: [&str; 9] = [
    "type",
    "site_name",
    "district",
    "locality",
    "region",
    "sector",
    "status",
    "visit_start",
    "updated_at",
];

/// Whether documents with this id have a list entry: inspections and the office's case events.
pub fn is_listed(id: &DocId) -> bool {
    let id = id.as_str();
    id.starts_with("inspection:") || id.starts_with("event:")
}

/// The slim body of a listed document: an inspection's list fields and its people's codes (the
/// case derivation reads nothing else of them); a case event whole (they are small).
fn slim_body(id: &DocId, body: &Map<String, Value>) -> Map<String, Value> {
    if id.as_str().starts_with("event:") {
        return body.clone();
    }
    let mut slim = Map::new();
    for key in INSPECTION_FIELDS {
        if let Some(value) = body.get(key) {
            slim.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(people) = body.get("people").and_then(Value::as_array) {
        let codes: Vec<Value> = people
            .iter()
            .filter_map(|p| p.get("code").cloned())
            .map(|code| Value::Object(Map::from_iter([("code".to_owned(), code)])))
            .collect();
        slim.insert("people".into(), Value::Array(codes));
    }
    slim
}

/// The entry of `id` whose winning revision is `rev`: a tombstone (which removes the record
/// from the list) when it is deleted, else its conflicts and slim body, which `live` gives
/// (asked only then). `None` for documents the list ignores.
fn entry(
    id: &DocId,
    rev: RevId,
    deleted: bool,
    live: impl FnOnce() -> (Vec<RevId>, Map<String, Value>),
) -> Option<Document> {
    if !is_listed(id) {
        return None;
    }
    let mut doc = Document::new(id.clone(), Map::new());
    doc.rev = Some(rev);
    doc.deleted = deleted;
    if !deleted {
        (doc.conflicts, doc.body) = live();
    }
    Some(doc)
}

/// The entry of a winning document read with `conflicts: true` (or of a deletion).
pub fn entry_of(doc: &Document) -> Option<Document> {
    entry(&doc.id, doc.rev.clone()?, doc.deleted, || {
        (doc.conflicts.clone(), slim_body(&doc.id, &doc.body))
    })
}

/// The entry of a stored record's winner, built without copying its whole body.
pub fn entry_of_record(record: &DocRecord) -> Option<Document> {
    let winner = record.winner()?;
    entry(&record.id, winner.rev.clone(), winner.deleted, || {
        let body = record
            .leaves
            .get(&winner.rev)
            .map(|stored| slim_body(&record.id, &stored.body))
            .unwrap_or_default();
        (record.tree.conflicts(), body)
    })
}

/// The entry of a deletion known only by its id and winning revision (a changes row without
/// its document).
pub fn tombstone(id: &DocId, rev: RevId) -> Option<Document> {
    entry(id, rev, true, Default::default)
}

/// An entry as stored: the slim document's JSON text.
pub fn to_text(entry: &Document) -> String {
    entry.to_json().to_string()
}

/// An entry read back; `None` for text that is not one (it is then left out of the list).
pub fn from_text(text: &str) -> Option<Document> {
    let value: Value = serde_json::from_str(text).ok()?;
    Document::from_json(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaski_shared::store::body;
    use serde_json::json;

    #[test]
    fn an_entry_keeps_the_list_fields_and_people_codes_only_and_reads_back_the_same() {
        let id = DocId::parse("inspection:20261130T120000Z-0011223344556677").unwrap();
        let mut doc = Document::new(
            id,
            body(
                json!({"type": "inspection", "site_name": "Campamento", "status": "draft",
                        "notes": "long text", "locality": "Quebrada",
                        "people": [{"code": "P1", "role": "worker", "age": 15}]}),
            ),
        );
        doc.rev = Some("2-abc".parse().unwrap());
        doc.conflicts = vec!["2-abd".parse().unwrap()];
        let entry = entry_of(&doc).unwrap();
        assert_eq!(entry.body.get("notes"), None);
        assert_eq!(entry.body.get("locality"), Some(&json!("Quebrada")));
        assert_eq!(entry.body.get("people"), Some(&json!([{"code": "P1"}])));
        assert_eq!(entry.conflicts, doc.conflicts);
        assert_eq!(from_text(&to_text(&entry)), Some(entry));
    }

    #[test]
    fn other_documents_have_no_entry_and_a_deletion_is_a_tombstone() {
        let other = Document::new(DocId::parse("settings").unwrap(), Map::new());
        assert_eq!(entry_of(&other), None);
        let mut gone = Document::new(DocId::parse("inspection:x").unwrap(), body(json!({"a": 1})));
        gone.rev = Some("3-abc".parse().unwrap());
        gone.deleted = true;
        let tomb = entry_of(&gone).unwrap();
        assert!(tomb.deleted && tomb.body.is_empty());
    }
}
