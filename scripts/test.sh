#!/usr/bin/env bash
# Sets up what is missing (also Chromium, chromedriver and the npm packages the browser tests
# use) and runs every test: formatting, the Rust unit and API tests, the wasm build of the sync
# engine, and the end-to-end tests in headless Chromium against the real server.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
ensure_build_tools
ensure_chromium
# Browser profiles and scratch files stay under target/ instead of piling up in /tmp.
export TMPDIR="$ROOT/target/tmp"
mkdir -p "$TMPDIR"

say "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --locked --workspace --exclude chaski-client --exclude chaski-office --all-targets --all-features -- -D warnings
cargo clippy --locked -p chaski-client -p chaski-office --target wasm32-unknown-unknown --all-targets -- -D warnings

say "Rust tests (shared, server, and the client's pure logic)"
cargo test --locked --workspace --exclude chaski-client --exclude chaski-office
cargo test --locked -p chaski-client -p chaski-office --lib

say "The sync engine builds for the browser"
cargo check --locked -p chaski-shared --target wasm32-unknown-unknown --features http

say "Browser tests of the client (wasm-bindgen-test in headless Chromium)"
CHROMEDRIVER=/usr/bin/chromedriver \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked -p chaski-client --target wasm32-unknown-unknown

build_app
say "End-to-end tests: the real server with PouchDB and headless Chromium"
cargo build --locked -p chaski-server
CHASKI_BIN="$ROOT/target/debug/chaski" CHASKI_DIST="$ROOT/dist" \
  node --test --test-concurrency=1 tests/e2e/
