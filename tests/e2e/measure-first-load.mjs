// Measures what a tablet downloads on its first visit: every file the page and its service
// worker fetch, as the real server sends it with brotli, with gzip, and uncompressed.
//
//   node tests/e2e/measure-first-load.mjs      (after `trunk build --release` and `cargo build`)
//   node tests/e2e/measure-first-load.mjs /office/    (the regional office's app: no worker)

import { request } from 'node:http';
import { newBrowser, startServer, waitForServiceWorker } from './harness.mjs';

function bytesWith(url, encoding) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: encoding ? { 'accept-encoding': encoding } : {} }, (res) => {
      let total = 0;
      res.on('data', (chunk) => (total += chunk.length));
      res.on('end', () => resolve({ total, encoding: res.headers['content-encoding'] ?? 'identity' }));
    });
    req.on('error', reject);
    req.end();
  });
}

const APP = process.argv[2] ?? '/';
const server = await startServer();
const browser = await newBrowser();
try {
  const urls = new Set();
  browser.context.on('request', (r) => {
    if (r.url().startsWith(server.url)) urls.add(new URL(r.url()).pathname);
  });
  const page = await browser.context.newPage();
  if (APP === '/') {
    await page.goto(server.url);
    await waitForServiceWorker(page);
    const cached = await page.evaluate(async () => {
      const out = [];
      for (const key of await caches.keys()) {
        for (const req of await (await caches.open(key)).keys()) out.push(new URL(req.url).pathname);
      }
      return out;
    });
    cached.forEach((u) => urls.add(u));
    urls.add('/sw.js');
  } else {
    // The office app registers no worker: what the page itself fetches is all.
    await page.goto(server.url + APP, { waitUntil: 'networkidle' });
    await page.locator('#login-form').waitFor();
  }

  const rows = [];
  for (const path of [...urls].sort()) {
    const url = server.url + path;
    const [raw, gzip] = await Promise.all([bytesWith(url), bytesWith(url, 'gzip')]);
    // The server makes brotli in the background and sends the file uncompressed meanwhile (12 s
    // for the wasm in a debug build): wait for it rather than count the raw bytes as brotli.
    let br = await bytesWith(url, 'br');
    for (let tries = 0; gzip.encoding === 'gzip' && br.encoding !== 'br' && tries < 120; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      br = await bytesWith(url, 'br');
    }
    rows.push({ path, raw: raw.total, gzip: gzip.total, br: br.total });
  }
  const kb = (n) => (n / 1024).toFixed(1).padStart(8);
  console.log(`${'file'.padEnd(48)}${'raw KB'.padStart(8)}${'gzip KB'.padStart(9)}${'br KB'.padStart(8)}`);
  for (const r of rows) console.log(`${r.path.padEnd(48)}${kb(r.raw)} ${kb(r.gzip)}${kb(r.br)}`);
  const sum = (k) => rows.reduce((a, r) => a + r[k], 0);
  console.log(`${'total (' + rows.length + ' files)'.padEnd(48)}${kb(sum('raw'))} ${kb(sum('gzip'))}${kb(sum('br'))}`);
  console.log(`budget 300 KB compressed: brotli uses ${((sum('br') / (300 * 1024)) * 100).toFixed(0)}%, gzip ${((sum('gzip') / (300 * 1024)) * 100).toFixed(0)}%`);
} finally {
  await browser.close();
  await server.stop();
}
