//! Bench: replicating 10,000 documents memory to memory, against a baseline measured in the same
//! run (writing the very same revisions straight into an empty store with `new_edits=false`), so
//! the ratio shows what the protocol costs on top of the writes. `cargo bench -p chaski-shared`.

use std::time::Instant;

use chaski_shared::replicate::{ReplicationOptions, Replicator};
use chaski_shared::store::body;
use chaski_shared::wire::{BulkGetDoc, BulkGetRef};
use chaski_shared::{DocId, Document, LocalPeer, MemoryStore, Peer, Store};
use futures::executor::block_on;
use serde_json::json;

const DOCS: usize = 10_000;
const BATCH: usize = 100;
const SECTORS: [&str; 4] = ["gold_mining", "logging", "agriculture", "brick_making"];

/// A document about the size of a real inspection record.
fn inspection(i: usize) -> Document {
    let id = DocId::parse(format!("inspection:md:{i:06}")).expect("valid id");
    Document::new(
        id,
        body(json!({
            "type": "inspection",
            "region": "17",
            "sector": SECTORS[i % SECTORS.len()],
            "site": format!("Campamento {i}"),
            "gps": {"lat": -12.59 - (i as f64) * 1e-4, "lon": -69.18, "accuracy_m": 8},
            "workers": {"men": i % 17, "women": i % 5, "under_18": i % 3, "under_14": i % 2},
            "indicators": {"debt_bondage": i % 2 == 0, "retention_of_documents": i % 3 == 0},
            "status": "submitted"
        })),
    )
}

fn rate(docs: usize, seconds: f64) -> f64 {
    docs as f64 / seconds.max(1e-9)
}

fn main() {
    block_on(async {
        let source = LocalPeer::new("source", MemoryStore::new());
        let all: Vec<Document> = (0..DOCS).map(inspection).collect();
        for chunk in all.chunks(1000) {
            source
                .store()
                .bulk_docs(chunk.to_vec(), true)
                .await
                .expect("seed source");
        }

        // The revisions as replication carries them (with _revisions), fetched outside the clock.
        let changes = source
            .changes(&chaski_shared::wire::ChangesRequest::default())
            .await
            .expect("changes");
        let refs: Vec<BulkGetRef> = changes
            .results
            .iter()
            .map(|row| BulkGetRef {
                id: row.id.clone(),
                rev: Some(row.changes[0].rev.clone()),
                atts_since: vec![],
            })
            .collect();
        let replicated: Vec<Document> = source
            .bulk_get(&refs)
            .await
            .expect("bulk_get")
            .into_iter()
            .flat_map(|r| r.docs)
            .filter_map(|d| match d {
                BulkGetDoc::Ok(doc) => Some(doc),
                BulkGetDoc::Error(_) => None,
            })
            .collect();
        assert_eq!(replicated.len(), DOCS);

        let baseline_store = MemoryStore::new();
        let started = Instant::now();
        for chunk in replicated.chunks(BATCH) {
            baseline_store
                .bulk_docs(chunk.to_vec(), false)
                .await
                .expect("baseline write");
        }
        let baseline = started.elapsed().as_secs_f64();

        let target = LocalPeer::new("target", MemoryStore::new());
        let options = ReplicationOptions {
            batch_size: BATCH,
            batches_in_flight: 4,
            ..ReplicationOptions::default()
        };
        let replicator = Replicator::new(&source, &target, options);
        let started = Instant::now();
        let report = replicator.run_once().await.expect("replication");
        let replication = started.elapsed().as_secs_f64();
        assert_eq!(report.docs_written, DOCS as u64);

        println!("documents:                      {DOCS} (batches of {BATCH}, 4 in flight)");
        println!(
            "baseline (bulk_docs new_edits=false into MemoryStore): {:>10.0} docs/s ({:.3} s)",
            rate(DOCS, baseline),
            baseline
        );
        println!(
            "replication (MemoryStore -> MemoryStore):              {:>10.0} docs/s ({:.3} s)",
            rate(DOCS, replication),
            replication
        );
        println!(
            "replication / baseline: {:.2}",
            baseline / replication.max(1e-9)
        );
    });
}
