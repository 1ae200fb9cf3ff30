//! Failure injection: peers whose every kind of call fails at random, before or after doing its
//! work (a lost answer). Replication retried until it completes leaves both sides identical,
//! writes nothing twice, and never records a checkpoint ahead of what the target holds.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use chaski_shared::doc::Attachment;
use chaski_shared::replicate::{Checkpoint, ReplicationOptions, Replicator};
use chaski_shared::store::{body, DocResult, RevsDiff, RevsDiffRequest};
use chaski_shared::wire::{
    BulkGetRef, BulkGetResult, ChangesRequest, ChangesResponse, DbInfoResponse,
};
use chaski_shared::{
    DocId, Document, Error, LocalDoc, LocalPeer, MemoryStore, Peer, Result, Store,
};
use common::{assert_same_documents, leaf_revs, put, put_replicated};
use futures::executor::block_on;
use serde_json::{json, Value};

/// Wraps a peer so that each call fails with probability `percent`/100 before reaching the
/// peer, and again after it (the work done, the answer lost).
struct Flaky<P> {
    inner: P,
    percent: u64,
    state: AtomicU64,
    injected: AtomicU64,
}

impl<P: Peer> Flaky<P> {
    fn new(inner: P, percent: u64, seed: u64) -> Self {
        Flaky {
            inner,
            percent,
            state: AtomicU64::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            injected: AtomicU64::new(0),
        }
    }

    /// xorshift64: deterministic per seed, no dependency.
    fn fails(&self) -> bool {
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        let fail = x % 100 < self.percent;
        if fail {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        fail
    }

    async fn call<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        if self.fails() {
            return Err(Error::Transport(format!("injected: {what} never arrived")));
        }
        let answer = work.await?;
        if self.fails() {
            return Err(Error::Transport(format!("injected: {what} answer lost")));
        }
        Ok(answer)
    }
}

impl<P: Peer> Peer for Flaky<P> {
    fn peer_id(&self) -> String {
        self.inner.peer_id()
    }
    async fn info(&self) -> Result<DbInfoResponse> {
        self.call("info", self.inner.info()).await
    }
    async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse> {
        self.call("changes", self.inner.changes(request)).await
    }
    async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff> {
        self.call("revs_diff", self.inner.revs_diff(request)).await
    }
    async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>> {
        self.call("bulk_get", self.inner.bulk_get(docs)).await
    }
    async fn bulk_docs(&self, docs: Vec<Document>) -> Result<Vec<DocResult>> {
        self.call("bulk_docs", self.inner.bulk_docs(docs)).await
    }
    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        self.call("get_local", self.inner.get_local(id)).await
    }
    async fn put_local(&self, doc: LocalDoc) -> Result<String> {
        self.call("put_local", self.inner.put_local(doc)).await
    }
    async fn ensure_full_commit(&self) -> Result<String> {
        self.call("ensure_full_commit", self.inner.ensure_full_commit())
            .await
    }
}

/// A source with plain documents, updates, deletions, a conflict and attachments.
async fn fill(store: &MemoryStore, docs: usize) {
    for i in 0..docs {
        let id = format!("inspection:{i:03}");
        let r1 = put(store, &id, None, json!({"i": i})).await;
        match i % 5 {
            0 => {
                put(store, &id, Some(&r1), json!({"i": i, "reviewed": true})).await;
            }
            1 => {
                put(store, &id, Some(&r1), json!({"_deleted": true})).await;
            }
            2 => {
                put_replicated(store, json!({"_id": id, "_rev": "2-0c0c", "_revisions": {"start": 2, "ids": ["0c0c", r1.hash()]}, "branch": true})).await;
            }
            3 => {
                let mut doc = Document::new(
                    DocId::parse(id.as_str()).expect("id"),
                    body(json!({"i": i})),
                );
                doc.rev = Some(r1);
                doc.attachments.insert(
                    "photo.jpg".into(),
                    Attachment::inline("image/jpeg", vec![i as u8; 64]),
                );
                let result = store
                    .bulk_docs(vec![doc], true)
                    .await
                    .expect("write")
                    .remove(0);
                assert!(result.is_ok(), "{result:?}");
            }
            _ => {}
        }
    }
}

/// Everything up to each side's checkpoint is on the target.
async fn assert_checkpoints_not_ahead(
    source: &MemoryStore,
    target: &MemoryStore,
    checkpoint_id: &str,
) {
    for side in [source, target] {
        let Some(doc) = side.get_local(checkpoint_id).await.expect("get_local") else {
            continue;
        };
        let ck: Checkpoint =
            serde_json::from_value(Value::Object(doc.body)).expect("checkpoint format");
        let recorded = ck.source_last_seq.number();
        let changes = source
            .changes(&chaski_shared::store::ChangesOptions {
                style: chaski_shared::store::ChangesStyle::AllDocs,
                ..Default::default()
            })
            .await
            .expect("changes");
        let mut covered = RevsDiffRequest::new();
        for row in changes.results.into_iter().filter(|r| r.seq <= recorded) {
            covered.insert(row.id.to_string(), row.revs);
        }
        let missing = target.revs_diff(&covered).await.expect("revs_diff");
        assert!(
            missing.is_empty(),
            "checkpoint at {recorded} is ahead of the target, which lacks {missing:?}"
        );
    }
}

fn replicate_through_failures(seed: u64, percent: u64) {
    block_on(async {
        let source = LocalPeer::new("source", MemoryStore::new());
        let target = LocalPeer::new("target", MemoryStore::new());
        fill(source.store(), 40).await;
        let flaky_source = Flaky::new(&source, percent, seed);
        let flaky_target = Flaky::new(&target, percent, seed.wrapping_add(7919));
        let options = ReplicationOptions {
            batch_size: 4,
            batches_in_flight: 3,
            ..ReplicationOptions::default()
        };
        let rep = Replicator::new(&flaky_source, &flaky_target, options);
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(
                attempts < 50_000,
                "seed {seed}: replication never completed"
            );
            let outcome = rep.run_once().await;
            assert_checkpoints_not_ahead(source.store(), target.store(), &rep.checkpoint_id())
                .await;
            match outcome {
                Ok(report) => {
                    assert!(
                        report.failures.is_empty(),
                        "seed {seed}: {:?}",
                        report.failures
                    );
                    break;
                }
                Err(e) => assert!(
                    e.is_transient(),
                    "seed {seed}: only injected failures expected, got {e}"
                ),
            }
        }
        assert_same_documents(source.store(), target.store());
        // Every leaf was applied exactly once: each applied revision bumps the target's
        // sequence, and re-sent revisions must not.
        let leaves = leaf_revs(source.store()).await.len() as u64;
        let target_seq = target.store().info().await.expect("info").update_seq;
        assert_eq!(
            target_seq, leaves,
            "seed {seed}: a revision was written twice"
        );
        let injected = flaky_source.injected.load(Ordering::Relaxed)
            + flaky_target.injected.load(Ordering::Relaxed);
        assert!(
            percent == 0 || injected > 0,
            "seed {seed}: no failure was injected"
        );
        // A clean run afterwards finds nothing to do.
        let clean = Replicator::new(&source, &target, ReplicationOptions::default());
        assert_eq!(clean.replication_id(), rep.replication_id());
        let after = clean.run_once().await.expect("clean run");
        assert_eq!(after.docs_written, 0, "seed {seed}");
    });
}

#[test]
fn replication_retried_through_random_failures_completes_identical_without_duplicates() {
    for seed in 1..=30 {
        replicate_through_failures(seed, 15);
    }
}

#[test]
fn replication_completes_over_a_link_that_fails_a_quarter_of_the_time() {
    for seed in 100..=102 {
        replicate_through_failures(seed, 25);
    }
}
