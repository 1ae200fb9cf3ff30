//! Helpers shared by the integration tests: writing documents and comparing replicas.
#![allow(dead_code)]

use chaski_shared::record::DocRecord;
use chaski_shared::store::{body, ChangesOptions, ChangesStyle};
use chaski_shared::{Document, MemoryStore, RevId, Store};
use serde_json::Value;

/// Writes a new edit (`content` may hold `_deleted`) and returns its revision; panics (this is
/// a test) when rejected.
pub async fn put(store: &MemoryStore, id: &str, rev: Option<&RevId>, content: Value) -> RevId {
    let mut fields = body(content);
    fields.insert("_id".into(), Value::String(id.to_string()));
    if let Some(rev) = rev {
        fields.insert("_rev".into(), Value::String(rev.to_string()));
    }
    let doc = Document::from_json(Value::Object(fields)).expect("valid doc");
    let result = store
        .bulk_docs(vec![doc], true)
        .await
        .expect("bulk_docs")
        .remove(0);
    assert!(result.is_ok(), "write of {id} rejected: {result:?}");
    result.rev.expect("rev")
}

/// Writes a replicated revision with its ancestry (`new_edits=false`).
pub async fn put_replicated(store: &MemoryStore, doc: Value) {
    let doc = Document::from_json(doc).expect("valid doc");
    let result = store
        .bulk_docs(vec![doc], false)
        .await
        .expect("bulk_docs")
        .remove(0);
    assert!(result.is_ok(), "replicated write rejected: {result:?}");
}

/// Every record of a store, by id.
pub fn records(store: &MemoryStore) -> Vec<DocRecord> {
    store
        .doc_ids()
        .iter()
        .map(|id| store.record(id).expect("record"))
        .collect()
}

/// Asserts two stores hold the same documents with the same trees, leaf bodies and winners
/// (sequences are per store and may differ).
pub fn assert_same_documents(a: &MemoryStore, b: &MemoryStore) {
    let (ra, rb) = (records(a), records(b));
    assert_eq!(
        ra.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        rb.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        "the same documents"
    );
    for (x, y) in ra.iter().zip(&rb) {
        assert_eq!(x.tree, y.tree, "revision tree of {}", x.id);
        assert_eq!(x.leaves, y.leaves, "leaf bodies of {}", x.id);
        assert_eq!(x.winner(), y.winner(), "winner of {}", x.id);
    }
}

/// Every leaf revision in a store, as `(id, rev)` pairs.
pub async fn leaf_revs(store: &MemoryStore) -> Vec<(String, RevId)> {
    let opts = ChangesOptions {
        style: ChangesStyle::AllDocs,
        ..ChangesOptions::default()
    };
    let changes = store.changes(&opts).await.expect("changes");
    changes
        .results
        .into_iter()
        .flat_map(|row| {
            let id = row.id.to_string();
            row.revs.into_iter().map(move |rev| (id.clone(), rev))
        })
        .collect()
}
