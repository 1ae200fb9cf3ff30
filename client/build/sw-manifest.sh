#!/bin/sh
# Trunk post_build hook: writes the precache list and a build version into the staged sw.js.
#
# The version is a SHA-256 over every staged file's path and content (sw.js excluded), so any
# change to the build yields a different sw.js; the browser then installs the new worker, which
# precaches into a new cache and deletes the old one. Runs in POSIX sh with find/sha256sum/sed
# only, so it needs nothing beyond coreutils.
set -eu

dir=${TRUNK_STAGING_DIR:?this script runs as a Trunk post_build hook}
sw="$dir/sw.js"
[ -f "$sw" ] || { echo "sw-manifest: $sw is missing (is sw.js copied by index.html?)" >&2; exit 1; }

# Relative paths of every file but the worker itself, in a stable order (LC_ALL=C).
files=$(cd "$dir" && find . -type f ! -path ./sw.js | sed 's|^\./||' | LC_ALL=C sort)
[ -n "$files" ] || { echo "sw-manifest: no files in $dir" >&2; exit 1; }

version=$(cd "$dir" && printf '%s\n' "$files" | while IFS= read -r f; do sha256sum -- "$f"; done \
    | sha256sum | cut -c1-16)

if printf '%s\n' "$files" | grep -q '[]"\\|&[:space:]]'; then
    echo "sw-manifest: unexpected character in a file name in $dir" >&2
    exit 1
fi
# The seal module (client/build/sealer.sh) is not part of the first load: the worker fetches
# it when the app asks (after sign-in, at each online start) and keeps it (its LAZY list), and
# a new build's worker takes it over when it installs. Everything else is precached.
lazy_files=$(printf '%s\n' "$files" | grep -E '^sealer(-[0-9a-f]+_bg\.wasm|\.js)$' || true)
shell_files=$(printf '%s\n' "$files" | grep -vE '^sealer(-[0-9a-f]+_bg\.wasm|\.js)$' || true)
# "/" is the app's start URL; the server answers it with index.html.
list=$(printf '"/"\n%s\n' "$shell_files" | sed -e '1!s|.*|"/&"|' | paste -sd, - | sed 's|,|, |g')
lazy=$(printf '%s\n' "$lazy_files" | sed -e '/^$/d' -e 's|.*|"/&"|' | paste -sd, - | sed 's|,|, |g')

tmp="$sw.tmp"
sed -e "s|\"__CHASKI_BUILD_VERSION__\"|\"$version\"|" \
    -e "s|\[/\* __CHASKI_PRECACHE__ \*/\]|[$list]|" \
    -e "s|\[/\* __CHASKI_LAZY__ \*/\]|[$lazy]|" "$sw" > "$tmp"
if grep -q '__CHASKI_' "$tmp"; then
    rm -f "$tmp"
    echo "sw-manifest: a placeholder in sw.js was not replaced" >&2
    exit 1
fi
mv "$tmp" "$sw"
echo "sw-manifest: build $version, $(printf '%s\n' "$shell_files" | wc -l) files precached, $(printf '%s' "$lazy_files" | grep -c . || true) cached on first use"
