//! Property: random edit histories on 2–4 replicas, replicated in random orders and directions,
//! converge to identical revision trees and winners, and no revision any replica wrote is lost.

mod common;

use std::collections::BTreeSet;

use chaski_shared::replicate::{ReplicationOptions, Replicator};
use chaski_shared::store::{GetOptions, OpenRev, OpenRevs};
use chaski_shared::{DocId, Document, LocalPeer, MemoryStore, RevId, Store};
use common::{assert_same_documents, records};
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::json;

#[derive(Clone, Debug)]
enum Op {
    /// Edit (or delete) one leaf of a document on one replica; creates the document if absent.
    Edit {
        replica: usize,
        doc: usize,
        value: u8,
        delete: bool,
        leaf: usize,
    },
    /// One replication run from one replica to another.
    Sync {
        from: usize,
        to: usize,
        batch_size: usize,
    },
}

fn op(replicas: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..replicas, 0..4usize, 0..4u8, prop::bool::weighted(0.2), 0..3usize).prop_map(
            |(replica, doc, value, delete, leaf)| Op::Edit { replica, doc, value, delete, leaf }
        ),
        2 => (0..replicas, 0..replicas, 1..5usize).prop_map(|(from, to, batch_size)| Op::Sync { from, to, batch_size }),
    ]
}

fn history() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (2..=4usize).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 1..40)))
}

/// Applies one edit; returns the revision written, if any.
async fn edit(
    store: &MemoryStore,
    doc: usize,
    value: u8,
    delete: bool,
    leaf: usize,
) -> Option<(DocId, RevId)> {
    let id = DocId::parse(format!("doc{doc}")).ok()?;
    let leaves = match store
        .open_revs(&id, &OpenRevs::All, &GetOptions::default())
        .await
    {
        Ok(answers) => answers
            .into_iter()
            .filter_map(|a| match a {
                OpenRev::Ok(d) => d.rev,
                OpenRev::Missing(_) => None,
            })
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    let mut fields = serde_json::Map::new();
    fields.insert("_id".into(), json!(id.as_str()));
    if let Some(parent) = leaves.get(leaf % leaves.len().max(1)) {
        fields.insert("_rev".into(), json!(parent.to_string()));
    } else if delete {
        return None;
    }
    if delete {
        fields.insert("_deleted".into(), json!(true));
    } else {
        fields.insert("value".into(), json!(value));
    }
    let doc = Document::from_json(serde_json::Value::Object(fields)).ok()?;
    let result = store.bulk_docs(vec![doc], true).await.ok()?.pop()?;
    // Two replicas may make the identical edit; the deterministic rev makes it one revision.
    result
        .error
        .is_none()
        .then(|| (id, result.rev.expect("written rev")))
}

fn run(replicas: usize, ops: &[Op]) {
    block_on(async {
        let peers: Vec<LocalPeer<MemoryStore>> = (0..replicas)
            .map(|i| LocalPeer::new(format!("replica-{i}"), MemoryStore::with_rev_limit(100_000)))
            .collect();
        let mut written: BTreeSet<(DocId, RevId)> = BTreeSet::new();
        for op in ops {
            match *op {
                Op::Edit {
                    replica,
                    doc,
                    value,
                    delete,
                    leaf,
                } => {
                    if let Some(w) = edit(peers[replica].store(), doc, value, delete, leaf).await {
                        written.insert(w);
                    }
                }
                Op::Sync {
                    from,
                    to,
                    batch_size,
                } if from != to => {
                    let options = ReplicationOptions {
                        batch_size,
                        batches_in_flight: 2,
                        ..ReplicationOptions::default()
                    };
                    Replicator::new(&peers[from], &peers[to], options)
                        .run_once()
                        .await
                        .expect("replication");
                }
                Op::Sync { .. } => {}
            }
        }
        // Quiesce: a ring in both directions, twice, carries every revision everywhere.
        for _ in 0..2 {
            for i in 0..replicas {
                for j in 0..replicas {
                    if i != j {
                        Replicator::new(&peers[i], &peers[j], ReplicationOptions::default())
                            .run_once()
                            .await
                            .expect("replication");
                    }
                }
            }
        }
        for other in &peers[1..] {
            assert_same_documents(peers[0].store(), other.store());
        }
        for peer in &peers {
            let known: BTreeSet<(DocId, RevId)> = records(peer.store())
                .into_iter()
                .flat_map(|r| {
                    let id = r.id.clone();
                    r.tree
                        .revs()
                        .cloned()
                        .map(move |rev| (id.clone(), rev))
                        .collect::<Vec<_>>()
                })
                .collect();
            let lost: Vec<_> = written.difference(&known).collect();
            assert!(
                lost.is_empty(),
                "{} lost revisions {lost:?}",
                peer.peer_id()
            );
        }
    });
}

use chaski_shared::Peer;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_on_random_replication_orders_converge_without_losing_revisions((replicas, ops) in history()) {
        run(replicas, &ops);
    }
}

#[test]
fn identical_edits_on_two_replicas_become_one_revision() {
    let ops = [
        Op::Edit {
            replica: 0,
            doc: 0,
            value: 1,
            delete: false,
            leaf: 0,
        },
        Op::Sync {
            from: 0,
            to: 1,
            batch_size: 10,
        },
        Op::Edit {
            replica: 0,
            doc: 0,
            value: 7,
            delete: false,
            leaf: 0,
        },
        Op::Edit {
            replica: 1,
            doc: 0,
            value: 7,
            delete: false,
            leaf: 0,
        },
    ];
    run(2, &ops);
    block_on(async {
        let peers = [MemoryStore::new(), MemoryStore::new()];
        for store in &peers {
            edit(store, 0, 1, false, 0).await;
            edit(store, 0, 7, false, 0).await;
        }
        assert_eq!(records(&peers[0])[0].tree, records(&peers[1])[0].tree);
    });
}
