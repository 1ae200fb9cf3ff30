//! Chaski's shared core: what the browser and the server must agree on.
//!
//! # Layout
//! (filled in as the sync engine lands: documents, revision trees, stores, peers, replicator)

/// The product version, shown by the client and reported by the server's health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
