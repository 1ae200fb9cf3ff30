//! The IndexedDB store's persisted list index (issue #13) always equals the index derived from
//! the documents themselves: after local edits, deletions, conflicting revisions a pull brings
//! in, and when the stored index is missing or of another version.
//!
//! Run: `CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! cargo test -p chaski-client --target wasm32-unknown-unknown --test list_index`.
#![cfg(target_arch = "wasm32")]

use chaski_client::store::{list_from_changes, IdbStore};
use chaski_shared::store::{body, GetOptions};
use chaski_shared::{DocId, Document, Store};
use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn fresh_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        js_sys::Date::now(),
        js_sys::Math::random()
    )
}

/// A small deterministic generator (xorshift), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const IDS: [&str; 7] = [
    "inspection:20261101T080000Z-0000000000000001",
    "inspection:20261102T080000Z-0000000000000002",
    "inspection:20261103T080000Z-0000000000000003",
    "inspection:20261104T080000Z-0000000000000004",
    "event:inspection:20261101T080000Z-0000000000000001:20261105T080000Z-01",
    "settings",
    "inspection:20261106T080000Z-0000000000000006",
];

fn inspection_body(rng: &mut Rng, id: &str) -> serde_json::Map<String, serde_json::Value> {
    if id.starts_with("event:") {
        return body(json!({
            "type": "case_event", "kind": "has_issues", "by": "sara",
            "inspection": "inspection:20261101T080000Z-0000000000000001",
            "at": "2026-11-05T08:00:00Z", "inspection_rev": "1-aaa", "note": format!("n{}", rng.below(100)),
        }));
    }
    let sector = ["gold_mining", "logging"][rng.below(2) as usize];
    let status = ["draft", "submitted"][rng.below(2) as usize];
    body(json!({
        "type": "inspection",
        "site_name": format!("Campamento {}", rng.below(1000)),
        "district": "Huepetuhe",
        "locality": "Quebrada",
        "region": "madre-de-dios",
        "sector": sector,
        "status": status,
        "visit_start": "2026-11-20T08:00:00-05:00",
        "notes": "x".repeat(rng.below(300) as usize),
        "people": [{"code": format!("P{}", rng.below(5)), "role": "worker"}],
    }))
}

/// The persisted entries after `since` equal the ones derived from the changes feed.
async fn assert_index_matches(store: &IdbStore, since: u64, when: &str) {
    let persisted = store.list_since(since).await.expect("read the list index");
    let derived = list_from_changes(store, since)
        .await
        .expect("derive the list from the documents");
    assert_eq!(persisted, derived, "{when}");
}

#[wasm_bindgen_test]
async fn the_persisted_list_equals_the_one_derived_from_documents_after_any_writes() {
    let store = IdbStore::open(&fresh_name("list")).await.expect("open");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for step in 0..80 {
        let id = IDS[rng.below(IDS.len() as u64) as usize];
        let doc_id = DocId::parse(id).expect("id");
        let current = store.get(&doc_id, &GetOptions::default()).await.ok();
        match rng.below(4) {
            // A local edit (or creation).
            0 | 1 => {
                let mut doc = Document::new(doc_id, inspection_body(&mut rng, id));
                doc.rev = current.and_then(|d| d.rev);
                store.bulk_docs(vec![doc], true).await.expect("edit");
            }
            // A deletion of what is there.
            2 => {
                if let Some(current) = current {
                    let mut tomb = Document::new(doc_id, Default::default());
                    tomb.rev = current.rev;
                    tomb.deleted = true;
                    store.bulk_docs(vec![tomb], true).await.expect("delete");
                }
            }
            // A pull: a revision from another device, possibly a conflict with ours.
            _ => {
                let generation = 1 + rng.below(3);
                let hash = format!("{:032x}", rng.next());
                let mut doc = Document::new(doc_id, inspection_body(&mut rng, id));
                doc.rev = Some(format!("{generation}-{hash}").parse().expect("rev"));
                let ancestors: Vec<String> = (0..generation)
                    .map(|g| format!("{:032x}", (step as u64) * 31 + g))
                    .collect();
                let mut ids = vec![hash];
                ids.extend(ancestors.into_iter().skip(1));
                doc.revisions = Some(chaski_shared::Revisions {
                    start: generation,
                    ids,
                });
                store.bulk_docs(vec![doc], false).await.expect("pull");
            }
        }
        if step % 10 == 9 {
            assert_index_matches(&store, 0, &format!("after step {step}")).await;
            let half = store.info().await.expect("info").update_seq / 2;
            assert_index_matches(&store, half, &format!("since {half} after step {step}")).await;
        }
    }
    // Rebuilding from the documents gives the same index.
    let before = store.list_since(0).await.expect("list");
    store.rebuild_list().await.expect("rebuild");
    assert_eq!(store.list_since(0).await.expect("list"), before);
    // The sequence covered what the index must get right: at least one conflict and one
    // deletion (a tombstone entry), with the seed above.
    assert!(before.iter().any(|(_, d)| !d.conflicts.is_empty()));
    assert!(
        before.iter().any(|(_, d)| d.deleted),
        "no deletion was listed"
    );
}

/// Runs `script` (a JavaScript async function body) in the page and waits for it.
async fn run_js(script: &str) {
    let function =
        js_sys::Function::new_no_args(&format!("return (async () => {{ {script} }})();"));
    let promise = function
        .call0(&wasm_bindgen::JsValue::NULL)
        .expect("run the script")
        .dyn_into::<js_sys::Promise>()
        .expect("a promise");
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .expect("the script succeeds");
}

/// Runs `statements` in one read-write transaction over `stores` of the IndexedDB database
/// `name` (as a store from an older build, or a damaged disk, left it), outside the app.
async fn tamper(name: &str, stores: &[&str], statements: &str) {
    run_js(&format!(
        r#"
        const db = await new Promise((ok, fail) => {{
            const r = indexedDB.open({name:?});
            r.onsuccess = () => ok(r.result);
            r.onerror = () => fail(r.error);
        }});
        const tx = db.transaction({stores:?}, 'readwrite');
        {statements}
        await new Promise((ok, fail) => {{ tx.oncomplete = ok; tx.onerror = () => fail(tx.error); }});
        db.close();
        "#
    ))
    .await;
}

/// Writes `count` inspections (site names `S0`, `S1`…, ids ending in `tag`) to a new store
/// `name`, and closes it.
async fn store_with_inspections(name: &str, count: usize, tag: &str) {
    let store = IdbStore::open(name).await.expect("open");
    let docs = (0..count)
        .map(|i| {
            let id = DocId::parse(format!("inspection:20261101T08000{i}Z-{tag}")).expect("id");
            Document::new(
                id,
                body(json!({"type": "inspection", "site_name": format!("S{i}")})),
            )
        })
        .collect();
    store.bulk_docs(docs, true).await.expect("write");
}

#[wasm_bindgen_test]
async fn a_missing_or_outdated_list_index_is_rebuilt_when_the_list_is_first_read() {
    let name = fresh_name("list-version");
    store_with_inspections(&name, 5, "01").await;
    // As a store from an older build finds it: an index with a wrong entry and another version.
    tamper(
        &name,
        &["list", "meta"],
        "tx.objectStore('list').delete('inspection:20261101T080001Z-01');
         tx.objectStore('meta').put(0, 'list_version');",
    )
    .await;
    let store = IdbStore::open(&name).await.expect("reopen");
    let listed = store.list_since(0).await.expect("list");
    assert_eq!(listed.len(), 5, "the index was rebuilt with every document");
    assert_index_matches(&store, 0, "after the rebuild").await;
}

#[wasm_bindgen_test]
async fn a_database_from_before_the_list_index_is_upgraded_and_its_list_built() {
    let name = fresh_name("list-upgrade");
    // A record exactly as schema version 1 stored it.
    let id = DocId::parse("inspection:20261101T080000Z-0000000000000009").expect("id");
    let mut record = chaski_shared::record::DocRecord::new(id.clone());
    let doc = Document::new(
        id.clone(),
        body(json!({"type": "inspection", "site_name": "Antes del índice", "status": "draft"})),
    );
    record.update(doc, true, 1000).expect("a first revision");
    record.seq = 1;
    let text = serde_json::to_string(&record).expect("record JSON");
    run_js(&format!(
        r#"
        const db = await new Promise((ok, fail) => {{
            const r = indexedDB.open({name:?}, 1);
            r.onupgradeneeded = () => {{
                const d = r.result;
                d.createObjectStore('docs').createIndex('by_seq', 'seq', {{ unique: true }});
                d.createObjectStore('attachments');
                d.createObjectStore('locals');
                d.createObjectStore('meta');
            }};
            r.onsuccess = () => ok(r.result);
            r.onerror = () => fail(r.error);
        }});
        const tx = db.transaction(['docs', 'meta'], 'readwrite');
        tx.objectStore('docs').put({{ seq: 1, rec: {text:?} }}, {id:?});
        tx.objectStore('meta').put(1, 'update_seq');
        tx.objectStore('meta').put(1, 'doc_count');
        await new Promise((ok, fail) => {{ tx.oncomplete = ok; tx.onerror = () => fail(tx.error); }});
        db.close();
        "#,
        id = id.as_str(),
    ))
    .await;
    let store = IdbStore::open(&name).await.expect("open and upgrade");
    let listed = store.list_since(0).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].1.body.get("site_name"),
        Some(&json!("Antes del índice"))
    );
    assert_index_matches(&store, 0, "after the upgrade").await;
}

#[wasm_bindgen_test]
async fn a_damaged_record_neither_fails_the_open_nor_empties_the_rebuilt_list() {
    let name = fresh_name("list-damaged");
    store_with_inspections(&name, 3, "02").await;
    // One stored record that no longer parses, and an index to rebuild.
    tamper(
        &name,
        &["docs", "meta"],
        "tx.objectStore('docs').put({ seq: 99, rec: '{not json' }, 'inspection:20261101T080009Z-02');
         tx.objectStore('meta').put(0, 'list_version');",
    )
    .await;
    let store = IdbStore::open(&name)
        .await
        .expect("a damaged record does not fail the open");
    let listed = store
        .list_since(0)
        .await
        .expect("a damaged record does not fail the list");
    let sites: Vec<_> = listed
        .iter()
        .filter_map(|(_, d)| d.body.get("site_name").and_then(|s| s.as_str()))
        .collect();
    assert_eq!(sites, ["S0", "S1", "S2"], "the readable records are listed");
}
