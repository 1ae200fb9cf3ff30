//! [`LocalDb`]: one of this server's databases as a replication [`Peer`], for the relay.
//!
//! Reads go straight to the sled store (its calls already run on the blocking pool). Writes
//! pass the same rules as a `_bulk_docs` request with `new_edits=false` from the relay
//! account: the size limits and [`validate::check_in_batch`] (domain rules, design documents,
//! who may carry case events). So a document pulled from the national server lands exactly as
//! if a relay account had pushed it over HTTP, without a loopback connection, a password for
//! ourselves, or the body budget that protects the server from its clients.

use chaski_shared::doc::{Document, LocalDoc};
use chaski_shared::peer::{LocalPeer, Peer};
use chaski_shared::store::{DocResult, RevsDiff, RevsDiffRequest};
use chaski_shared::wire::{
    BulkGetRef, BulkGetResult, ChangesRequest, ChangesResponse, DbInfoResponse,
};
use chaski_shared::{Error, Result};

use crate::auth::Principal;
use crate::db::SledStore;
use crate::routes::couch::{docs::check_limits, validate, Limits};

/// A database of this server, written with the relay account's rights.
pub struct LocalDb {
    peer: LocalPeer<SledStore>,
    principal: Principal,
    limits: Limits,
}

impl LocalDb {
    pub fn new(store: SledStore, principal: Principal, limits: Limits) -> Self {
        // The replication id's name for this side: stable across restarts, distinct per
        // database.
        let name = format!("chaski-local:{}", store.name());
        LocalDb {
            peer: LocalPeer::new(name, store),
            principal,
            limits,
        }
    }

    pub fn store(&self) -> &SledStore {
        self.peer.store()
    }
}

impl Peer for LocalDb {
    fn peer_id(&self) -> String {
        self.peer.peer_id()
    }

    async fn info(&self) -> Result<DbInfoResponse> {
        self.peer.info().await
    }

    async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse> {
        self.peer.changes(request).await
    }

    async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff> {
        self.peer.revs_diff(request).await
    }

    async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>> {
        self.peer.bulk_get(docs).await
    }

    async fn bulk_docs(&self, mut docs: Vec<Document>) -> Result<Vec<DocResult>> {
        let db = self.store().name().to_owned();
        let mut refused = Vec::new();
        let mut accepted = Vec::with_capacity(docs.len());
        // As for `_bulk_docs`: stubs judged by the labels stored with their bytes (one read).
        validate::stored_stub_labels(self.store(), &mut docs, false).await?;
        for doc in docs {
            let verdict = match check_limits(&doc, &self.limits) {
                Err(e) => Some(DocResult::refused(
                    doc.id.to_string(),
                    doc.rev.clone(),
                    Error::Forbidden(e.to_string()),
                )),
                Ok(()) => validate::check_in_batch(&self.principal, &db, &doc, false),
            };
            match verdict {
                Some(result) => refused.push(result),
                None => accepted.push(doc),
            }
        }
        let verdicts = {
            let refs: Vec<&Document> = accepted.iter().collect();
            validate::relay_event_verdicts(self.store(), &self.principal, &refs).await?
        };
        let mut kept = Vec::with_capacity(accepted.len());
        for (doc, verdict) in accepted.into_iter().zip(verdicts) {
            match verdict {
                Some(rejection) => refused.push(rejection.into_result(&doc)),
                None => kept.push(doc),
            }
        }
        let accepted = kept;
        let mut results = if accepted.is_empty() {
            Vec::new()
        } else {
            let actor = crate::custody::Actor {
                user: Some(format!("relay:{}", self.principal.name)),
                token_id: self.principal.token_id.clone(),
            };
            crate::custody::as_actor(actor, self.peer.bulk_docs(accepted)).await?
        };
        results.extend(refused);
        Ok(results)
    }

    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        self.peer.get_local(id).await
    }

    async fn put_local(&self, doc: LocalDoc) -> Result<String> {
        self.peer.put_local(doc).await
    }

    async fn ensure_full_commit(&self) -> Result<String> {
        self.peer.ensure_full_commit().await
    }
}
