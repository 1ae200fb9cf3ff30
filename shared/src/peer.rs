//! The [`Peer`] trait: the replication endpoints of one database, wherever it lives, and
//! [`LocalPeer`], which serves them from any [`Store`]. `HttpPeer` (feature `http`) serves them
//! from a CouchDB-compatible server.

use std::collections::BTreeSet;

use crate::doc::{DocId, Document, LocalDoc};
use crate::error::{Error, Result};
use crate::store::{
    ChangesOptions, DocResult, GetOptions, OpenRev, OpenRevs, RevsDiff, RevsDiffRequest, Store,
};
use crate::wire::{
    BulkGetDoc, BulkGetError, BulkGetRef, BulkGetResult, ChangesRequest, ChangesResponse,
    DbInfoResponse,
};

/// An HTTP client error as the replicator's transport error, with every cause in its words.
#[cfg(all(feature = "http", not(target_arch = "wasm32")))]
pub use crate::http::transport as transport_error;
/// How long the native `HttpPeer` keeps an idle pooled connection.
#[cfg(all(feature = "http", not(target_arch = "wasm32")))]
pub use crate::http::POOL_IDLE_TIMEOUT;
#[cfg(feature = "http")]
pub use crate::http::{Auth, HttpPeer};

/// One side of a replication: the endpoints CouchDB's replication protocol uses.
///
/// Futures need not be `Send` (the browser's are not); a `Send` implementation stays `Send`
/// through the generic [`Replicator`](crate::replicate::Replicator).
#[allow(async_fn_in_trait)]
pub trait Peer {
    /// A stable name of this database for replication ids: a URL without credentials, or a
    /// local store's name. The same database must always give the same name.
    fn peer_id(&self) -> String;

    /// `GET /{db}`.
    async fn info(&self) -> Result<DbInfoResponse>;

    /// `GET /{db}/_changes` (`feed=normal`).
    async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse>;

    /// `POST /{db}/_revs_diff`.
    async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff>;

    /// `POST /{db}/_bulk_get?revs=true&attachments=true&latest=true`: the revisions with their
    /// ancestry and the attachments changed since `atts_since` inline. One result per request
    /// entry; an unreadable revision is an error entry, not an `Err`.
    async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>>;

    /// `POST /{db}/_bulk_docs` with `new_edits=false`. A peer may leave successful documents out
    /// of the answer (CouchDB does); a missing entry means written.
    async fn bulk_docs(&self, docs: Vec<Document>) -> Result<Vec<DocResult>>;

    /// `GET /{db}/_local/{id}`; `None` when absent. `id` includes `_local/`.
    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>>;

    /// `PUT /{db}/_local/{id}`; returns the new revision.
    async fn put_local(&self, doc: LocalDoc) -> Result<String>;

    /// `POST /{db}/_ensure_full_commit`: every write acknowledged so far is durable. Returns
    /// the `instance_start_time` of the database that made them durable, which differs from
    /// the one [`info`](Self::info) gave earlier if the database was re-created meanwhile.
    async fn ensure_full_commit(&self) -> Result<String> {
        Ok(self.info().await?.instance_start_time)
    }
}

/// Forwards every [`Peer`] method through a pointer, so that `&P`, `Arc<P>` and `Rc<P>` are
/// peers (a test keeps its peers while a replicator borrows them).
macro_rules! forward_peer {
    ($($ty:ty),*) => {$(
        impl<P: Peer + ?Sized> Peer for $ty {
            fn peer_id(&self) -> String {
                (**self).peer_id()
            }
            async fn info(&self) -> Result<DbInfoResponse> {
                (**self).info().await
            }
            async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse> {
                (**self).changes(request).await
            }
            async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff> {
                (**self).revs_diff(request).await
            }
            async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>> {
                (**self).bulk_get(docs).await
            }
            async fn bulk_docs(&self, docs: Vec<Document>) -> Result<Vec<DocResult>> {
                (**self).bulk_docs(docs).await
            }
            async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
                (**self).get_local(id).await
            }
            async fn put_local(&self, doc: LocalDoc) -> Result<String> {
                (**self).put_local(doc).await
            }
            async fn ensure_full_commit(&self) -> Result<String> {
                (**self).ensure_full_commit().await
            }
        }
    )*};
}

forward_peer!(&P, std::sync::Arc<P>, std::rc::Rc<P>);

/// A [`Peer`] over a [`Store`] in this process: the browser's IndexedDB, the server's sled, or
/// memory in tests.
pub struct LocalPeer<S> {
    name: String,
    store: S,
}

impl<S: Store> LocalPeer<S> {
    /// A peer named `name` (its [`Peer::peer_id`]) over `store`.
    pub fn new(name: impl Into<String>, store: S) -> Self {
        LocalPeer {
            name: name.into(),
            store,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, giving up the peer.
    pub fn into_store(self) -> S {
        self.store
    }
}

fn bulk_get_error(id: &str, rev: Option<&crate::rev::RevId>, error: &Error) -> BulkGetDoc {
    BulkGetDoc::Error(BulkGetError {
        id: id.to_string(),
        rev: rev.map(ToString::to_string),
        error: error.error_name().to_string(),
        reason: error.reason().to_string(),
    })
}

impl<S: Store> Peer for LocalPeer<S> {
    fn peer_id(&self) -> String {
        self.name.clone()
    }

    async fn info(&self) -> Result<DbInfoResponse> {
        let info = self.store.info().await?;
        Ok(DbInfoResponse::new(self.name.clone(), &info))
    }

    async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse> {
        let opts = ChangesOptions {
            since: request.since.number(),
            limit: request.limit,
            style: request.style,
            doc_ids: request
                .doc_ids
                .as_ref()
                .map(|ids| ids.iter().cloned().collect::<BTreeSet<String>>()),
            include_docs: false,
            conflicts: false,
        };
        Ok(self.store.changes(&opts).await?.into())
    }

    async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff> {
        self.store.revs_diff(request).await
    }

    async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>> {
        let mut results = Vec::with_capacity(docs.len());
        for wanted in docs {
            let answers = match DocId::parse(wanted.id.as_str()) {
                Err(e) => vec![bulk_get_error(&wanted.id, wanted.rev.as_ref(), &e)],
                Ok(id) => {
                    let opts = GetOptions {
                        revs: true,
                        attachments: true,
                        atts_since: wanted.atts_since.clone(),
                        latest: true,
                        ..GetOptions::default()
                    };
                    let revs = match &wanted.rev {
                        Some(rev) => OpenRevs::Revs(vec![rev.clone()]),
                        None => OpenRevs::All,
                    };
                    match self.store.open_revs(&id, &revs, &opts).await {
                        Ok(found) => found
                            .into_iter()
                            .map(|answer| match answer {
                                OpenRev::Ok(doc) => BulkGetDoc::Ok(doc),
                                OpenRev::Missing(rev) => {
                                    bulk_get_error(&wanted.id, Some(&rev), &Error::missing())
                                }
                            })
                            .collect(),
                        // A transient store fault fails the whole call so that it is retried,
                        // rather than being reported as a missing document.
                        Err(e) if e.is_transient() => return Err(e),
                        Err(e) => vec![bulk_get_error(&wanted.id, wanted.rev.as_ref(), &e)],
                    }
                }
            };
            results.push(BulkGetResult {
                id: wanted.id.clone(),
                docs: answers,
            });
        }
        Ok(results)
    }

    async fn bulk_docs(&self, docs: Vec<Document>) -> Result<Vec<DocResult>> {
        self.store.bulk_docs(docs, false).await
    }

    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        self.store.get_local(id).await
    }

    async fn put_local(&self, doc: LocalDoc) -> Result<String> {
        self.store.put_local(doc).await
    }

    async fn ensure_full_commit(&self) -> Result<String> {
        self.store.ensure_full_commit().await?;
        Ok(self.store.info().await?.instance_start_time)
    }
}
