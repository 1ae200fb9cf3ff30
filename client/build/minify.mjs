// Trunk post_build step (after sw-manifest.sh): minifies the staged JavaScript — wasm-bindgen's
// glue, its snippets, the seal module's loader and the service worker — with terser, and
// rewrites the Subresource Integrity digests Trunk wrote into index.html for the files it
// changed. Trunk minifies HTML and CSS but leaves the glue as wasm-bindgen writes it: about
// 1.8 KB brotli of every tablet's first load.
//
// Names are kept where other code depends on them: exports (ES modules), the worker's top-level
// names (a classic script's globals) and every property name (the wasm's imports are looked up by
// name). Runs only in release builds (`TRUNK_PROFILE=release`); a debug build keeps readable JS.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { minify } from 'terser';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error('minify: this script runs as a Trunk post_build hook (TRUNK_STAGING_DIR unset)');
  process.exit(1);
}
if (process.env.TRUNK_PROFILE !== 'release') process.exit(0);

function jsFiles(at) {
  return readdirSync(at, { withFileTypes: true }).flatMap((entry) => {
    const path = join(at, entry.name);
    if (entry.isDirectory()) return jsFiles(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

const indexPath = join(dir, 'index.html');
let index = readFileSync(indexPath, 'utf8');
let before = 0;
let after = 0;
for (const path of jsFiles(dir)) {
  const source = readFileSync(path, 'utf8');
  // The service worker is a classic script; everything else here is an ES module.
  const module = !path.endsWith('/sw.js');
  const result = await minify(source, { module, compress: true, mangle: true, format: { comments: false } });
  if (result.code === undefined) throw new Error(`minify: terser gave nothing for ${path}`);
  writeFileSync(path, result.code);
  before += source.length;
  after += result.code.length;
  // Trunk's integrity attribute for this file, if any: `href=/x.js integrity=sha384-…` in some
  // order within one tag, quoted or not (Trunk minifies the HTML too).
  const url = '/' + relative(dir, path);
  const digest = 'sha384-' + createHash('sha384').update(result.code).digest('base64');
  index = index.replace(/<link\b[^>]*>/g, (tag) =>
    tag.includes(`href=${url} `) || tag.includes(`href="${url}"`) || tag.includes(`href=${url}>`)
      ? tag.replace(/integrity=("?)sha384-[A-Za-z0-9+/=]+\1/, (_, q) => `integrity=${q}${digest}${q}`)
      : tag,
  );
}
writeFileSync(indexPath, index);
console.log(`minify: JavaScript ${(before / 1024).toFixed(1)} KB -> ${(after / 1024).toFixed(1)} KB`);
