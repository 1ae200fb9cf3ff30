//! HTTP API tests: each starts the real server on 127.0.0.1:0 with a fresh sled store.

mod assets;
mod auth;
mod bodies;
mod client_errors;
mod concurrency;
mod connections;
mod cors;
mod couch;
mod fuzz;
mod health;
mod helpers;
mod login_limits;
mod office;
