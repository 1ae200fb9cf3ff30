//! Chaski's shared core: what the browser and the server must agree on, and the one sync engine
//! that moves every record between them.
//!
//! # Layout
//! - [`b64`]: standard base64, as strict as CouchDB's attachments need, without a crate's engine.
//! - [`error`]: the one [`Error`] type, with CouchDB's `error`/`reason` names and statuses.
//! - [`rev`]: revision ids (`N-hash`) and revision trees: merge, new edits, winner, conflicts,
//!   `revs_diff`, stemming.
//! - [`domain`]: regions, inspections, people found and case events parsed from documents, with
//!   per-field errors; the rules the server enforces and the client shows.
//! - [`doc`]: documents, validated ids, attachments and local documents, to and from CouchDB JSON.
//! - [`record`]: what a store keeps per document and the pure rules that edit it.
//! - [`store`]: the async [`Store`] trait and the in-memory [`MemoryStore`].
//! - [`conformance`]: the cases every [`Store`] implementation must pass, runnable from any
//!   executor.
//! - [`wire`]: CouchDB's JSON for the replication endpoints, shared by the HTTP client and the
//!   server.
//! - [`peer`]: the [`Peer`] trait (one database's replication endpoints), [`LocalPeer`] over any
//!   store, and `HttpPeer` over HTTP (feature `http`).
//! - [`replicate`]: the resumable [`Replicator`] with CouchDB's checkpoints.
//! - [`sort`]: one stable sort compiled once, so the browser app carries one copy.
//!
//! # Syncing two replicas
//! A tablet and an office edit the same inspection while apart; after a push and a pull both hold
//! both revisions and pick the same winner, and the other edit is kept as a conflict.
//!
//! ```
//! use chaski_shared::replicate::{ReplicationOptions, Replicator};
//! use chaski_shared::store::{body, GetOptions};
//! use chaski_shared::{DocId, Document, LocalPeer, MemoryStore, Store};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), chaski_shared::Error> {
//! futures::executor::block_on(async {
//!     let tablet = LocalPeer::new("tablet", MemoryStore::new());
//!     let office = LocalPeer::new("office", MemoryStore::new());
//!     let id = DocId::parse("inspection:md-0001")?;
//!
//!     let first = Document::new(id.clone(), body(json!({"sector": "gold_mining"})));
//!     tablet.store().bulk_docs(vec![first], true).await?;
//!     let push = Replicator::new(&tablet, &office, ReplicationOptions::default());
//!     let pull = Replicator::new(&office, &tablet, ReplicationOptions::default());
//!     assert_eq!(push.run_once().await?.docs_written, 1);
//!
//!     // Both sides edit revision 1 while offline.
//!     for (peer, workers) in [(&tablet, 12), (&office, 14)] {
//!         let mut doc = peer.store().get(&id, &GetOptions::default()).await?;
//!         doc.body.insert("workers".into(), json!(workers));
//!         peer.store().bulk_docs(vec![doc], true).await?;
//!     }
//!     push.run_once().await?;
//!     pull.run_once().await?;
//!
//!     let opts = GetOptions { conflicts: true, ..GetOptions::default() };
//!     let on_tablet = tablet.store().get(&id, &opts).await?;
//!     let on_office = office.store().get(&id, &opts).await?;
//!     assert_eq!(on_tablet, on_office);
//!     assert_eq!(on_tablet.conflicts.len(), 1, "the losing edit is kept, not dropped");
//!
//!     // Nothing new to move: a second run writes nothing.
//!     assert_eq!(push.run_once().await?.docs_written, 0);
//!     Ok(())
//! })
//! # }
//! ```

#![allow(async_fn_in_trait)]

pub mod b64;
pub mod conformance;
pub mod doc;
pub mod domain;
pub mod error;
#[cfg(feature = "http")]
mod http;
pub mod live_seqs;
pub mod peer;
pub mod record;
pub mod replicate;
pub mod rev;
pub mod sealed;
pub mod sort;
pub mod store;
pub mod wire;

pub use doc::{Attachment, DocId, Document, LocalDoc};
pub use error::{Error, Result};
pub use peer::{LocalPeer, Peer};
pub use replicate::{ReplicationOptions, ReplicationReport, Replicator};
pub use rev::{RevId, RevTree, Revisions};
pub use store::{MemoryStore, Store};
pub use wire::Seq;

/// The product version, shown by the client and reported by the server's health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
