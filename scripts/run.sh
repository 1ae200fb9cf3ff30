#!/usr/bin/env bash
# Sets up what is missing, builds the PWA and the server, and starts Chaski on
# http://127.0.0.1:8080 with its data in ./data. Flags are passed to the server
# (e.g. `scripts/run.sh --bind 0.0.0.0:8080`); see `--help` for the rest.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
ensure_build_tools
build_app
say "Building the server"
cargo build --release --locked -p chaski-server
say "Starting Chaski (Ctrl-C stops it)"
exec target/release/chaski "$@"
