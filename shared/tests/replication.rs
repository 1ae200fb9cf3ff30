//! The replicator between in-memory peers: what moves, what is recorded, what is reported.

mod common;

use chaski_shared::doc::{attachment_digest, Attachment};
use chaski_shared::replicate::{Checkpoint, ReplicationOptions, ReplicationReport, Replicator};
use chaski_shared::store::{body, DocResult, GetOptions};
use chaski_shared::wire::{
    BulkGetRef, BulkGetResult, ChangesRequest, ChangesResponse, DbInfoResponse,
};
use chaski_shared::{DocId, Document, Error, LocalDoc, LocalPeer, MemoryStore, Peer, Seq, Store};
use common::{assert_same_documents, put, put_replicated};
use futures::executor::block_on;
use serde_json::{json, Value};

fn peer(name: &str) -> LocalPeer<MemoryStore> {
    LocalPeer::new(name, MemoryStore::new())
}

fn id(s: &str) -> DocId {
    DocId::parse(s).expect("id")
}

async fn checkpoint(store: &MemoryStore, id: &str) -> Checkpoint {
    let doc = store
        .get_local(id)
        .await
        .expect("get_local")
        .expect("checkpoint exists");
    serde_json::from_value(Value::Object(doc.body)).expect("checkpoint format")
}

#[test]
fn a_push_copies_every_document_with_its_history_conflicts_and_attachments() {
    block_on(async {
        let (tablet, office) = (peer("tablet"), peer("office"));
        let s = tablet.store();
        let r1 = put(s, "inspection:1", None, json!({"sector": "logging"})).await;
        put(
            s,
            "inspection:1",
            Some(&r1),
            json!({"sector": "logging", "workers": 9}),
        )
        .await;
        put_replicated(s, json!({"_id": "inspection:1", "_rev": "2-ffff", "_revisions": {"start": 2, "ids": ["ffff", r1.hash()]}})).await;
        let gone = put(s, "inspection:2", None, json!({})).await;
        put(s, "inspection:2", Some(&gone), json!({"_deleted": true})).await;
        let mut photo = Document::new(id("photo:1"), body(json!({"caption": "camp"})));
        photo.attachments.insert(
            "p.jpg".into(),
            Attachment::inline("image/jpeg", b"jpeg bytes".to_vec()),
        );
        s.bulk_docs(vec![photo], true).await.expect("write");

        let report = Replicator::new(&tablet, &office, ReplicationOptions::default())
            .run_once()
            .await
            .expect("replicate");
        assert_eq!(
            report.docs_written, 4,
            "two leaves of inspection:1, the tombstone, the photo"
        );
        assert_eq!(report.doc_write_failures, 0);
        assert_same_documents(tablet.store(), office.store());
        let att = office
            .store()
            .attachment(&id("photo:1"), "p.jpg", None)
            .await
            .expect("attachment replicated");
        assert_eq!(att.data.as_deref(), Some(&b"jpeg bytes"[..]));
        assert_eq!(att.digest, attachment_digest(b"jpeg bytes"));
    });
}

#[test]
fn a_second_run_resumes_from_the_checkpoint_and_checks_nothing_again() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        for i in 0..30 {
            put(a.store(), &format!("d{i}"), None, json!({"i": i})).await;
        }
        let rep = Replicator::new(
            &a,
            &b,
            ReplicationOptions {
                batch_size: 7,
                ..ReplicationOptions::default()
            },
        );
        let first = rep.run_once().await.expect("first run");
        assert_eq!(first.last_seq, Seq::Num(30));
        assert!(first.checkpoints >= 1);
        let second = rep.run_once().await.expect("second run");
        assert_eq!(second.start_seq, Seq::Num(30));
        assert_eq!(
            (
                second.missing_checked,
                second.docs_written,
                second.checkpoints
            ),
            (0, 0, 0)
        );

        put(a.store(), "late", None, json!({})).await;
        let third = rep.run_once().await.expect("third run");
        assert_eq!((third.missing_checked, third.docs_written), (1, 1));
        assert_same_documents(a.store(), b.store());
    });
}

#[test]
fn checkpoints_are_recorded_on_both_sides_in_couchdb_format() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        for i in 0..5 {
            put(a.store(), &format!("d{i}"), None, json!({})).await;
        }
        let rep = Replicator::new(&a, &b, ReplicationOptions::default());
        let report = rep.run_once().await.expect("replicate");
        let on_source = checkpoint(a.store(), &rep.checkpoint_id()).await;
        let on_target = checkpoint(b.store(), &rep.checkpoint_id()).await;
        assert_eq!(on_source, on_target);
        assert_eq!(on_source.session_id, report.session_id);
        assert_eq!(on_source.source_last_seq, Seq::Num(5));
        assert_eq!(on_source.replication_id_version, 4);
        let entry = &on_source.history[0];
        assert_eq!((entry.docs_written, entry.missing_found), (5, 5));
        assert_eq!(entry.recorded_seq, Seq::Num(5));
        assert!(entry.start_time.ends_with("GMT"), "{:?}", entry.start_time);
        assert!(rep.checkpoint_id().starts_with("_local/"));
        // A new session adds to the history rather than replacing it.
        put(a.store(), "more", None, json!({})).await;
        rep.run_once().await.expect("again");
        assert_eq!(
            checkpoint(b.store(), &rep.checkpoint_id())
                .await
                .history
                .len(),
            2
        );
    });
}

#[test]
fn a_lost_target_checkpoint_restarts_from_zero_without_writing_anything_twice() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        for i in 0..10 {
            put(a.store(), &format!("d{i}"), None, json!({})).await;
        }
        let rep = Replicator::new(&a, &b, ReplicationOptions::default());
        rep.run_once().await.expect("first");
        let seq_before = b.store().info().await.expect("info").update_seq;
        let ck = b
            .store()
            .get_local(&rep.checkpoint_id())
            .await
            .expect("get")
            .expect("exists");
        b.store()
            .delete_local(&ck.id, ck.rev.as_deref())
            .await
            .expect("delete");
        let again = rep.run_once().await.expect("again");
        assert_eq!(again.start_seq, Seq::zero());
        assert_eq!(
            (
                again.missing_checked,
                again.missing_found,
                again.docs_written
            ),
            (10, 0, 0)
        );
        assert_eq!(b.store().info().await.expect("info").update_seq, seq_before);
    });
}

/// A target that refuses documents whose id starts with `closed:`, as a validation rule would.
struct Refusing<P>(P);

impl<P: Peer> Peer for Refusing<P> {
    fn peer_id(&self) -> String {
        self.0.peer_id()
    }
    async fn info(&self) -> chaski_shared::Result<DbInfoResponse> {
        self.0.info().await
    }
    async fn changes(&self, request: &ChangesRequest) -> chaski_shared::Result<ChangesResponse> {
        self.0.changes(request).await
    }
    async fn revs_diff(
        &self,
        request: &chaski_shared::store::RevsDiffRequest,
    ) -> chaski_shared::Result<chaski_shared::store::RevsDiff> {
        self.0.revs_diff(request).await
    }
    async fn bulk_get(&self, docs: &[BulkGetRef]) -> chaski_shared::Result<Vec<BulkGetResult>> {
        self.0.bulk_get(docs).await
    }
    async fn bulk_docs(&self, docs: Vec<Document>) -> chaski_shared::Result<Vec<DocResult>> {
        let (refused, accepted): (Vec<Document>, Vec<Document>) = docs
            .into_iter()
            .partition(|d| d.id.as_str().starts_with("closed:"));
        // Answer like CouchDB with new_edits=false: only the failures are listed.
        let _written = self.0.bulk_docs(accepted).await?;
        Ok(refused
            .into_iter()
            .map(|d| DocResult {
                id: d.id.into_string(),
                rev: d.rev,
                error: Some(Error::Forbidden("the case is closed".into())),
            })
            .collect())
    }
    async fn get_local(&self, id: &str) -> chaski_shared::Result<Option<LocalDoc>> {
        self.0.get_local(id).await
    }
    async fn put_local(&self, doc: LocalDoc) -> chaski_shared::Result<String> {
        self.0.put_local(doc).await
    }
}

#[test]
fn a_document_the_target_rejects_is_reported_and_never_stops_the_others() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        for name in ["open:1", "closed:1", "open:2", "closed:2", "open:3"] {
            put(a.store(), name, None, json!({})).await;
        }
        let target = Refusing(&b);
        let rep = Replicator::new(
            &a,
            &target,
            ReplicationOptions {
                batch_size: 2,
                ..ReplicationOptions::default()
            },
        );
        let report = rep.run_once().await.expect("replication goes on");
        assert_eq!(report.docs_read, 5);
        assert_eq!(report.docs_written, 3);
        assert_eq!(report.doc_write_failures, 2);
        let refused: Vec<(&str, &str, &str)> = report
            .failures
            .iter()
            .map(|f| (f.id.as_str(), f.error.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                ("closed:1", "forbidden", "the case is closed"),
                ("closed:2", "forbidden", "the case is closed")
            ]
        );
        assert_eq!(
            b.store().doc_ids(),
            vec![id("open:1"), id("open:2"), id("open:3")]
        );
        assert_eq!(
            report.last_seq,
            Seq::Num(5),
            "the checkpoint moves past rejected documents"
        );
    });
}

#[test]
fn the_doc_ids_filter_replicates_only_the_named_documents() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        for name in ["x", "y", "z"] {
            put(a.store(), name, None, json!({})).await;
        }
        let options = ReplicationOptions {
            doc_ids: Some(vec!["z".into(), "x".into()]),
            ..ReplicationOptions::default()
        };
        let filtered = Replicator::new(&a, &b, options);
        let unfiltered = Replicator::new(&a, &b, ReplicationOptions::default());
        assert_ne!(filtered.replication_id(), unfiltered.replication_id());
        let report = filtered.run_once().await.expect("replicate");
        assert_eq!(report.docs_written, 2);
        assert_eq!(b.store().doc_ids(), vec![id("x"), id("z")]);
    });
}

#[test]
fn progress_is_reported_after_each_round_with_pending_counts() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        for i in 0..50 {
            put(a.store(), &format!("d{i:02}"), None, json!({})).await;
        }
        let options = ReplicationOptions {
            batch_size: 10,
            batches_in_flight: 2,
            ..ReplicationOptions::default()
        };
        let mut seen: Vec<ReplicationReport> = Vec::new();
        let report = Replicator::new(&a, &b, options)
            .run_once_with_progress(|p| seen.push(p.clone()))
            .await
            .expect("replicate");
        let written: Vec<u64> = seen.iter().map(|p| p.docs_written).collect();
        assert_eq!(written, [20, 40, 50]);
        let pending: Vec<Option<u64>> = seen.iter().map(|p| p.pending).collect();
        assert_eq!(pending, [Some(30), Some(10), Some(0)]);
        assert_eq!(report.docs_written, 50);
    });
}

#[test]
fn edits_made_between_runs_are_picked_up_by_the_next_run() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        let rep = Replicator::new(&a, &b, ReplicationOptions::default());
        let r1 = put(a.store(), "doc", None, json!({"v": 1})).await;
        rep.run_once().await.expect("run 1");
        let r2 = put(a.store(), "doc", Some(&r1), json!({"v": 2})).await;
        put(a.store(), "doc", Some(&r2), json!({"_deleted": true})).await;
        let report = rep.run_once().await.expect("run 2");
        assert_eq!(report.docs_written, 1);
        assert_eq!(
            b.store().get(&id("doc"), &GetOptions::default()).await,
            Err(Error::deleted())
        );
        assert_same_documents(a.store(), b.store());
    });
}

#[test]
fn replicating_with_an_empty_source_writes_no_checkpoint() {
    block_on(async {
        let (a, b) = (peer("a"), peer("b"));
        let rep = Replicator::new(&a, &b, ReplicationOptions::default());
        let report = rep.run_once().await.expect("replicate");
        assert_eq!(report.checkpoints, 0);
        assert!(b
            .store()
            .get_local(&rep.checkpoint_id())
            .await
            .expect("get")
            .is_none());
    });
}

#[test]
fn the_replicator_future_is_send_when_its_peers_are() {
    fn assert_send<T: Send>(_: &T) {}
    let (a, b) = (peer("a"), peer("b"));
    let rep = Replicator::new(&a, &b, ReplicationOptions::default());
    let future = rep.run_once();
    assert_send(&future);
    let store = MemoryStore::new();
    let (doc_id, opts) = (id("x"), GetOptions::default());
    let get = store.get(&doc_id, &opts);
    assert_send(&get);
}
