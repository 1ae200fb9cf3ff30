# Installs, idempotently, what building and testing Chaski needs. Sourced by run.sh and test.sh.
# Each step checks first and skips what is already there, so a second run costs seconds.
# Only package registries are used (crates.io, npm, Debian): nothing is downloaded from elsewhere.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The wasm-bindgen CLI must be exactly the version Cargo.lock pins for the library.
lockfile_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$ROOT/Cargo.lock"
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_wasm_bindgen() {
  local want have
  want="$(lockfile_version wasm-bindgen)"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
  if [ "$have" != "$want" ]; then
    say "Installing wasm-bindgen-cli $want (matches Cargo.lock; ~2 min)"
    # Not --locked: its own lockfile pins a crate version this registry does not carry.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

ensure_trunk() {
  local want=0.21.14
  if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "Installing Trunk $want (~4 min)"
    # 0.22 needs a newer rustc than this machine's. LTO off: the tool needs no speed, the
    # install needs less time.
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install trunk --version "$want" --locked
  fi
}

ensure_node() {
  if ! command -v npm >/dev/null; then
    say "Installing Node.js and npm from Debian"
    as_root apt-get update -qq
    as_root apt-get install -y -qq nodejs npm
  fi
}

# wasm-opt (npm binaryen: Debian's is too old and silently breaks the module) and
# playwright-core, which drives Debian's Chromium in the browser tests.
ensure_npm_packages() {
  ensure_node
  if [ ! -f "$ROOT/node_modules/.package-lock.json" ] \
    || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    say "Installing npm packages (package-lock.json)"
    (cd "$ROOT" && npm ci --no-audit --no-fund)
  fi
}

ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "Installing Chromium and chromedriver from Debian (~1 min)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  fi
}

# Trunk runs in offline mode (Trunk.toml) so that it never tries to download tools; the crates
# must therefore be fetched beforehand.
# Two apps: the inspector's PWA into dist/, then the regional office's into dist/office/ (in
# that order: the first build replaces dist/ whole).
build_app() {
  say "Building the PWA (trunk build --release) and the office app (dist/office/)"
  (cd "$ROOT" && cargo fetch --locked && trunk build --release \
    && trunk build --release --config office/Trunk.toml)
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_npm_packages
  ensure_wasm_bindgen
  ensure_trunk
}
