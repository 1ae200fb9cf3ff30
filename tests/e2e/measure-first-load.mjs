// Measures what a tablet downloads on its first visit: every file the page and its service
// worker fetch, as the real server sends it with brotli, with gzip, and uncompressed.
//
//   node tests/e2e/measure-first-load.mjs      (after `trunk build --release` and `cargo build`)
//   node tests/e2e/measure-first-load.mjs /office/    (the regional office's app: no worker)

import { printSizes, newBrowser, startServer, waitForServiceWorker } from './harness.mjs';

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

  const sums = await printSizes(server.url, urls);
  const share = (bytes) => ((bytes / (300 * 1024)) * 100).toFixed(0);
  console.log(`budget 300 KB compressed: brotli uses ${share(sums.br)}%, gzip ${share(sums.gzip)}%`);
} finally {
  await browser.close();
  await server.stop();
}
