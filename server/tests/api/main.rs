//! HTTP API tests: each starts the real server on 127.0.0.1:0 with a fresh sled store.

mod assets;
mod auth;
mod client_errors;
mod cors;
mod couch;
mod health;
mod helpers;
