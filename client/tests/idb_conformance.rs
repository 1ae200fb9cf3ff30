//! The shared store conformance suite on the IndexedDB store, in headless Chromium, and the
//! durability a tablet needs: what was written is there after the database is closed and opened
//! again.
//!
//! Run: `CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! cargo test -p chaski-client --target wasm32-unknown-unknown --test idb_conformance`.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use chaski_client::store::IdbStore;
use chaski_shared::store::{body, GetOptions};
use chaski_shared::{conformance, DocId, Document, LocalDoc, Store};
use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static NEXT: Cell<u32> = const { Cell::new(0) };
}

/// A database name no other test (or earlier run in the same profile) has used.
fn fresh_name(prefix: &str) -> String {
    let n = NEXT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    format!("{prefix}-{}-{n}", js_sys::Date::now())
}

#[wasm_bindgen_test]
async fn the_indexeddb_store_passes_the_shared_conformance_suite() {
    conformance::run_all(|| async {
        IdbStore::open(&fresh_name("conformance"))
            .await
            .expect("open a fresh IndexedDB database")
    })
    .await;
}

#[wasm_bindgen_test]
async fn documents_attachments_and_local_docs_survive_closing_and_reopening() {
    let name = fresh_name("reopen");
    let id = DocId::parse("inspection:md-0001").expect("id");
    let photo = b"not really a jpeg".to_vec();
    let rev = {
        let store = IdbStore::open(&name).await.expect("open");
        let mut doc = Document::new(id.clone(), body(json!({"sector": "gold_mining"})));
        doc.attachments.insert(
            "photo.jpg".into(),
            chaski_shared::Attachment::inline("image/jpeg", photo.clone()),
        );
        let results = store.bulk_docs(vec![doc], true).await.expect("write");
        let local = LocalDoc::new("_local/checkpoint", body(json!({"seq": 1}))).expect("local");
        store.put_local(local).await.expect("local write");
        results[0].rev.clone().expect("a rev")
        // The store is dropped here, which closes the connection.
    };
    let store = IdbStore::open(&name).await.expect("reopen");
    let opts = GetOptions {
        attachments: true,
        ..GetOptions::default()
    };
    let doc = store
        .get(&id, &opts)
        .await
        .expect("the document is still there");
    assert_eq!(doc.rev, Some(rev));
    assert_eq!(doc.body.get("sector"), Some(&json!("gold_mining")));
    let att = doc
        .attachments
        .get("photo.jpg")
        .expect("the photo is still there");
    assert_eq!(att.data.as_deref(), Some(photo.as_slice()));
    let info = store.info().await.expect("info");
    assert_eq!((info.update_seq, info.doc_count), (1, 1));
    let local = store.get_local("_local/checkpoint").await.expect("local");
    assert_eq!(local.and_then(|l| l.rev), Some("0-1".to_string()));
    drop(store);
    IdbStore::delete(&name).await.expect("delete");
}

#[wasm_bindgen_test]
async fn the_shared_replicator_moves_documents_both_ways_with_concurrent_batches() {
    use chaski_shared::{LocalPeer, MemoryStore, ReplicationOptions, Replicator};

    let name = fresh_name("replicate");
    let tablet = LocalPeer::new(name.clone(), IdbStore::open(&name).await.expect("open"));
    let server = LocalPeer::new("server", MemoryStore::new());
    let docs: Vec<Document> = (0..230)
        .map(|i| {
            let id = DocId::parse(format!("inspection:md-{i:04}")).expect("id");
            Document::new(id, body(json!({"workers": i})))
        })
        .collect();
    tablet.store().bulk_docs(docs, true).await.expect("write");
    // Small batches, four in flight: concurrent bulk_docs transactions on the IndexedDB side.
    let options = ReplicationOptions {
        batch_size: 20,
        batches_in_flight: 4,
        now: || Some((js_sys::Date::now() / 1000.0) as u64),
        ..ReplicationOptions::default()
    };
    let push = Replicator::new(&tablet, &server, options.clone());
    let pull = Replicator::new(&server, &tablet, options);
    assert_eq!(push.run_once().await.expect("push").docs_written, 230);

    let id = DocId::parse("inspection:md-0007").expect("id");
    let mut edited = server
        .store()
        .get(&id, &GetOptions::default())
        .await
        .expect("on the server");
    edited.body.insert("workers".into(), json!(70));
    server
        .store()
        .bulk_docs(vec![edited], true)
        .await
        .expect("edit");
    assert_eq!(pull.run_once().await.expect("pull").docs_written, 1);
    let on_tablet = tablet
        .store()
        .get(&id, &GetOptions::default())
        .await
        .expect("on the tablet");
    assert_eq!(on_tablet.body.get("workers"), Some(&json!(70)));
    let info = tablet.store().info().await.expect("info");
    assert_eq!((info.doc_count, info.update_seq), (230, 231));
    assert_eq!(push.run_once().await.expect("again").docs_written, 0);
}
