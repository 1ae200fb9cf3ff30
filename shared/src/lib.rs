//! Chaski's shared core: what the browser and the server must agree on.
//!
//! # Layout
//! - [`error`]: the one [`Error`] type, with CouchDB's `error`/`reason` names and statuses.
//! - [`rev`]: revision ids (`N-hash`) and revision trees: merge, new edits, winner, conflicts,
//!   `revs_diff`, stemming.
//! - [`doc`]: documents, validated ids, attachments and local documents, to and from CouchDB JSON.
//! - [`record`]: what a store keeps per document and the pure rules that edit it.
//! - [`store`]: the async [`Store`] trait and the in-memory [`MemoryStore`].
//! - [`conformance`]: the cases every [`Store`] implementation must pass, runnable from any
//!   executor.

#![allow(async_fn_in_trait)]

pub mod conformance;
pub mod doc;
pub mod error;
pub mod record;
pub mod rev;
pub mod store;

pub use doc::{Attachment, DocId, Document, LocalDoc};
pub use error::{Error, Result};
pub use rev::{RevId, RevTree, Revisions};
pub use store::{MemoryStore, Store};

/// The product version, shown by the client and reported by the server's health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
