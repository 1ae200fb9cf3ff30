//! Chaski's server: the national and regional offices run it; tablets and other servers sync
//! with it.
//!
//! # Layout
//! - [`cli`]: the command line of the `chaski` binary (flags, environment, subcommands).
//! - [`config`]: where the server listens, where its data and the built PWA live; the
//!   configuration file (`config::file`).
//! - [`startup`]: [`startup::Application`] opens the store, binds the listener and runs the
//!   router until a shutdown signal, then flushes the store. Tests start it on `127.0.0.1:0`.
//! - [`connections`]: the connection loop (header timeout, connection cap, descriptor limit).
//! - [`budget`]: the memory all request bodies in flight may take together.
//! - [`telemetry`]: `tracing` set-up, one line per request.
//! - [`error`]: [`error::ApiError`], the one error type handlers return, rendered CouchDB-style.
//! - [`storage`]: the sled database that holds everything.
//! - [`db`]: the CouchDB databases ([`db::Databases`]) and their sled store ([`db::SledStore`]).
//! - [`auth`]: accounts, device tokens, the failed-login limit and who may reach which
//!   database ([`auth::Principal`]).
//! - [`regions`]: Peru's 25 departments and their database names.
//! - [`office`]: the regional office's inbox index (case states of every inspection).
//! - [`figures`]: the figures index of each region (kept in the documents' own write), the
//!   annual report's figures and the streamed exports.
//! - [`custody`]: the custody log (an append-only Merkle log of every revision and admin
//!   change, with signed checkpoints) and `chaski custody verify`.
//! - [`keys`]: the regions' sealing keys (public keys for the tablets, private keys wrapped
//!   under a passphrase) and `chaski keys`.
//! - [`relay`]: the continuous relay of databases to and from another CouchDB-compatible
//!   server, configured in the configuration file (`[[relay]]`).
//! - [`admin`]: the administration commands (users, tokens, backup and restore).
//! - [`admin_ops`]: users, tokens and databases changed with the safety rules, once for the
//!   admin API and the command line; [`audit`]: the log of those changes;
//!   [`admin_remote`]: `chaski admin --server URL …`, the command line over the admin API.
//! - [`routes`]: one module per resource (`health`, the PWA's static `assets`, the `office`
//!   API).

pub mod admin;
pub mod admin_ops;
pub mod admin_remote;
pub mod audit;
pub mod auth;
pub mod budget;
pub mod cli;
pub mod config;
pub mod connections;
pub mod custody;
pub mod db;
pub mod error;
pub mod figures;
pub mod keys;
pub mod office;
pub mod regions;
pub mod relay;
pub mod routes;
pub mod startup;
pub mod storage;
pub mod telemetry;
