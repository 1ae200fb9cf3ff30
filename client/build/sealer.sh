#!/bin/sh
# Trunk pre_build hook: builds the seal module (sealer/, HPKE sealing) as its own small wasm
# module next to the app, so that the crypto is not part of the inspector's first load.
#
# Built the way Trunk builds the app (cargo's wasm-release profile, the wasm-bindgen CLI pinned
# in Trunk.toml with `--target web`, wasm-opt -Oz from node_modules/.bin), into the staging dir:
#   sealer.js                 the JS glue, the one stable name the app imports (`import()`)
#   sealer-<hash>_bg.wasm     the module, named by a digest of its content (cached for a year)
# The app loads it lazily (client/src/components/identity.rs); sw-manifest.sh keeps both files
# out of the precache list and the service worker caches them when the app fetches them.
set -eu

dir=${TRUNK_STAGING_DIR:?this script runs as a Trunk hook}
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
profile=wasm-release
[ "${TRUNK_PROFILE:-release}" = release ] || profile=dev

cargo build --offline -p chaski-sealer --lib --profile "$profile" --target wasm32-unknown-unknown
wasm="$target/wasm32-unknown-unknown/$( [ "$profile" = dev ] && echo debug || echo "$profile")/chaski_sealer.wasm"

out="$target/sealer-out"
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name sealer "$wasm"
if [ "$profile" != dev ]; then
    # The same flags as the app's (client/index.html): the module starts from zeroed memory.
    wasm-opt -Oz --low-memory-unused --zero-filled-memory --output "$out/opt.wasm" "$out/sealer_bg.wasm"
    mv "$out/opt.wasm" "$out/sealer_bg.wasm"
fi

hash=$(sha256sum "$out/sealer_bg.wasm" | cut -c1-16)
name="sealer-${hash}_bg.wasm"
cp "$out/sealer_bg.wasm" "$dir/$name"
# The glue's default URL for its module becomes the hashed name.
sed -e "s|'sealer_bg.wasm'|'$name'|g" "$out/sealer.js" > "$dir/sealer.js"
grep -q "$name" "$dir/sealer.js" || { echo "sealer: the JS glue does not name sealer_bg.wasm as expected" >&2; exit 1; }
echo "sealer: $name ($(wc -c < "$dir/$name") bytes), sealer.js ($(wc -c < "$dir/sealer.js") bytes)"
