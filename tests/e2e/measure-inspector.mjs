// Figures of the inspector's app in headless Chromium against the real server (issue #5):
// saving one inspection, listing and filtering 5,000 local inspections, and syncing 5,000
// (pulled onto an empty tablet, and pushed to an empty server).
//
//   node tests/e2e/measure-inspector.mjs      (after `trunk build --release` and `cargo build`)

import { basic, eventually, inspection, newBrowser, signIn, startServer } from './harness.mjs';

const N = Number(process.env.CHASKI_FIGURES_DOCS ?? 5000);
const ADMIN = { name: 'ana.admin', password: 'correct horse battery', role: 'admin' };
const INSPECTOR = { name: 'ines.inspectora', password: 'selva verde 2026', role: 'inspector', regions: ['madre-de-dios'] };
const DB = 'madre-de-dios';
const adminAuth = { authorization: basic(ADMIN.name, ADMIN.password), 'content-type': 'application/json' };

async function docCount(server) {
  const info = await (await fetch(`${server.url}/db/${DB}`, { headers: adminAuth })).json();
  return info.doc_count;
}

async function seed(server) {
  for (let start = 0; start < N; start += 500) {
    const docs = Array.from({ length: Math.min(500, N - start) }, (_, k) => inspection(start + k));
    const r = await fetch(`${server.url}/db/${DB}/_bulk_docs`, { method: 'POST', headers: adminAuth, body: JSON.stringify({ docs }) });
    if (r.status !== 201) throw new Error(`seeding failed: ${r.status} ${await r.text()}`);
  }
}

const listed = (page, shown, total) =>
  page.locator('#list-count', { hasText: new RegExp(`^\\s*${shown}\\s+\\D+\\s+${total}\\s*$`) });

const server = await startServer({ users: [ADMIN, INSPECTOR], dbs: [DB] });
const browser = await newBrowser();
const figures = [];
const timed = async (what, fn) => {
  const started = performance.now();
  await fn();
  const ms = performance.now() - started;
  figures.push([what, ms]);
  console.log(`${what.padEnd(64)} ${ms.toFixed(0).padStart(7)} ms`);
};
try {
  await seed(server);
  const page = await browser.context.newPage();
  await page.goto(server.url);

  await timed(`pull ${N} inspections onto an empty tablet (sign-in to listed)`, async () => {
    await signIn(page, INSPECTOR);
    await listed(page, 50, N).or(listed(page, N, N)).waitFor({ timeout: 600_000 });
  });

  await timed(`open the app and list ${N} local inspections (reload)`, async () => {
    await page.reload();
    await listed(page, 50, N).or(listed(page, N, N)).waitFor({ timeout: 120_000 });
  });

  await timed(`filter ${N} inspections by a search term (1 match)`, async () => {
    await page.locator("#search").fill(`Campamento ${N - 1} `);
    await listed(page, 1, N).waitFor({ timeout: 60_000 });
  });
  await page.locator('#search').fill('');

  await timed('save one new inspection (typing to saved, incl. 300 ms debounce)', async () => {
    await page.locator('#new-inspection').click();
    await page.locator('#inspection-form').waitFor();
    await page.locator('#f-site-name').fill('Ladrillera San Juan');
    await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });
  });
  await page.locator('#nav-home').click();

  // An empty server: the region's database is deleted and created again by the admin, once
  // the tablet is idle and holds nothing unsynced. (A run still in flight would notice the new
  // `instance_start_time` at its next checkpoint and fail, and the retry would push everything;
  // waiting keeps that failure and the retry's backoff out of the timed push.)
  await page.locator('#sync-status[data-running="false"][data-pending="0"]').waitFor({ timeout: 600_000 });
  for (const method of ['DELETE', 'PUT']) {
    const r = await fetch(`${server.url}/db/${DB}`, { method, headers: adminAuth });
    if (r.status >= 300) throw new Error(`${method} ${DB}: ${r.status}`);
  }
  await timed(`push ${N + 1} inspections from the tablet to an empty server`, async () => {
    await page.locator('#sync-now').click();
    await eventually(async () => (await docCount(server)) === N + 1, 600_000, 'the push');
  });
} finally {
  await browser.close();
  await server.stop();
}
