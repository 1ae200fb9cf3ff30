//! A database deleted and created again while a replication runs: the run must stop before it
//! checkpoints into the new database at the old one's position, and the next run must start over
//! so that every document arrives.

mod common;

use std::sync::{Arc, Mutex};

use chaski_shared::replicate::{Checkpoint, ReplicationOptions, Replicator};
use chaski_shared::store::{DocResult, RevsDiff, RevsDiffRequest};
use chaski_shared::wire::{
    BulkGetRef, BulkGetResult, ChangesRequest, ChangesResponse, DbInfoResponse,
};
use chaski_shared::{Document, Error, LocalDoc, LocalPeer, MemoryStore, Peer, Result, Seq, Store};
use common::{assert_same_documents, put};
use futures::executor::block_on;
use serde_json::{json, Value};

/// A database an administrator may delete and create again under the same name: every call
/// reaches the current creation, as requests to `/db/{name}` do on a server.
struct Recreatable {
    name: String,
    current: Mutex<Arc<MemoryStore>>,
}

impl Recreatable {
    fn new(name: &str) -> Self {
        Recreatable {
            name: name.to_owned(),
            current: Mutex::new(Arc::new(MemoryStore::new())),
        }
    }

    fn store(&self) -> Arc<MemoryStore> {
        Arc::clone(&self.current.lock().expect("lock"))
    }

    /// `DELETE /db/{name}` then `PUT /db/{name}`: an empty database from now on.
    fn recreate(&self) -> Arc<MemoryStore> {
        let fresh = Arc::new(MemoryStore::new());
        *self.current.lock().expect("lock") = Arc::clone(&fresh);
        fresh
    }

    fn peer(&self) -> LocalPeer<Arc<MemoryStore>> {
        LocalPeer::new(self.name.clone(), self.store())
    }
}

impl Peer for Recreatable {
    fn peer_id(&self) -> String {
        self.name.clone()
    }
    async fn info(&self) -> Result<DbInfoResponse> {
        self.peer().info().await
    }
    async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse> {
        self.peer().changes(request).await
    }
    async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff> {
        self.peer().revs_diff(request).await
    }
    async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>> {
        self.peer().bulk_get(docs).await
    }
    async fn bulk_docs(&self, docs: Vec<Document>) -> Result<Vec<DocResult>> {
        self.peer().bulk_docs(docs).await
    }
    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        self.peer().get_local(id).await
    }
    async fn put_local(&self, doc: LocalDoc) -> Result<String> {
        self.peer().put_local(doc).await
    }
    async fn ensure_full_commit(&self) -> Result<String> {
        self.peer().ensure_full_commit().await
    }
}

/// One round of ten documents per checkpoint, so that a run has several.
fn small_rounds() -> ReplicationOptions {
    ReplicationOptions {
        batch_size: 10,
        batches_in_flight: 1,
        ..ReplicationOptions::default()
    }
}

async fn fill(store: &MemoryStore, prefix: &str, count: usize) {
    for i in 0..count {
        put(store, &format!("{prefix}{i:03}"), None, json!({"i": i})).await;
    }
}

async fn checkpoint(store: &MemoryStore, id: &str) -> Option<Checkpoint> {
    let doc = store.get_local(id).await.expect("get_local")?;
    Some(serde_json::from_value(Value::Object(doc.body)).expect("checkpoint format"))
}

#[test]
fn memory_stores_are_each_their_own_database_instance() {
    block_on(async {
        let (a, b) = (MemoryStore::new(), MemoryStore::new());
        let a_info = a.info().await.expect("info");
        assert_ne!(a_info.instance_start_time, "0");
        assert_ne!(
            a_info.instance_start_time,
            b.info().await.expect("info").instance_start_time
        );
        let peer = LocalPeer::new("a", a);
        assert_eq!(
            peer.ensure_full_commit().await.expect("commit"),
            a_info.instance_start_time,
            "_ensure_full_commit names the same instance as the info"
        );
    });
}

#[test]
fn a_target_recreated_during_a_run_fails_it_without_a_checkpoint_and_the_next_run_copies_everything(
) {
    block_on(async {
        let source = LocalPeer::new("tablet", MemoryStore::new());
        fill(source.store(), "inspection:", 50).await;
        let target = Recreatable::new("madre-de-dios");
        let rep = Replicator::new(&source, &target, small_rounds());

        let mut recreated = None;
        let outcome = rep
            .run_once_with_progress(|report| {
                if report.checkpoints == 1 && recreated.is_none() {
                    recreated = Some(target.recreate());
                }
            })
            .await;
        let Err(Error::Recreated(reason)) = outcome else {
            panic!("the run must fail when the target is re-created, got {outcome:?}");
        };
        assert_eq!(
            reason,
            "the target database was re-created during replication; the next run starts over"
        );
        let new_target = recreated.expect("recreated after the first round");
        assert!(
            checkpoint(&new_target, &rep.checkpoint_id())
                .await
                .is_none(),
            "no checkpoint may claim the old database's position in the new one"
        );
        assert!(new_target.doc_ids().len() < 50);

        let again = rep.run_once().await.expect("the next run");
        assert_eq!(again.start_seq, Seq::zero(), "the next run starts over");
        assert_same_documents(source.store(), &new_target);
        assert_eq!(rep.run_once().await.expect("third run").docs_written, 0);
    });
}

#[test]
fn a_source_recreated_during_a_run_fails_it_and_the_next_run_copies_the_new_source() {
    block_on(async {
        let source = Recreatable::new("madre-de-dios");
        fill(&source.store(), "old:", 30).await;
        let target = LocalPeer::new("tablet", MemoryStore::new());
        let rep = Replicator::new(&source, &target, small_rounds());

        let mut recreated = None;
        let outcome = rep
            .run_once_with_progress(|report| {
                if report.checkpoints == 1 && recreated.is_none() {
                    recreated = Some(source.recreate());
                }
            })
            .await;
        // Filled only now: the progress callback cannot await.
        let new_source = recreated.expect("recreated after the first round");
        let Err(Error::Recreated(reason)) = outcome else {
            panic!("the run must fail when the source is re-created, got {outcome:?}");
        };
        assert_eq!(
            reason,
            "the source database was re-created during replication; the next run starts over"
        );
        let kept = checkpoint(target.store(), &rep.checkpoint_id())
            .await
            .expect("the first round's checkpoint");
        assert_eq!(
            kept.source_last_seq,
            Seq::Num(10),
            "nothing recorded after it"
        );

        fill(&new_source, "new:", 25).await;
        let again = rep.run_once().await.expect("the next run");
        assert_eq!(again.start_seq, Seq::zero(), "the next run starts over");
        assert_eq!(again.docs_written, 25);
        for id in new_source.doc_ids() {
            assert!(target.store().record(&id).is_some(), "{id} arrived");
        }
    });
}
