// The office inbox with 50,000 inspections in one region, in headless Chromium: how long the
// inbox takes to open and each filter to answer, against a baseline measured in the same run
// (the raw fetch of the same API answer, parsed, without drawing anything).
//
//   node tests/bench/office-inbox.mjs [inspections=50000]
//
// Needs the built apps (`trunk build --release` and the office build, see scripts/setup.sh)
// and builds the server in release mode. Loads the data with the server's loader example
// (`cargo run --release -p chaski-server --example office-load`), which takes a while the
// first time; the loaded folder is kept under target/bench/ and reused when it holds as many.
// Not part of scripts/test.sh: it measures, it does not check.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
// The release server, unless told otherwise (set before the harness reads it).
process.env.CHASKI_BIN ??= join(ROOT, 'target', 'release', 'chaski');
const { newBrowser, signIn, startServer } = await import('../e2e/harness.mjs');

const COUNT = Number(process.argv[2] ?? 50_000);
const DB = 'madre-de-dios';
// The loader creates this supervisor of the region (see server/examples/office-load.rs).
const SUPERVISOR = { name: `supervisora.${DB}`, password: 'Chaski office benchmark 2026!' };
const RUNS = 7;

function run(cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${result.status})`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`.padStart(10);

// 1. The data: loaded once per size, then reused.
const dataDir = join(ROOT, 'target', 'bench', `office-${COUNT}`);
const marker = join(dataDir, '.loaded');
run('cargo', ['build', '--release', '-p', 'chaski-server', '--bin', 'chaski']);
if (!existsSync(marker)) {
  mkdirSync(dataDir, { recursive: true });
  const started = Date.now();
  run('cargo', ['run', '--release', '-p', 'chaski-server', '--example', 'office-load', '--',
    '--data', dataDir, '--db', DB, '--inspections', String(COUNT)]);
  writeFileSync(marker, `${COUNT} inspections loaded in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
console.log(`data: ${readFileSync(marker, 'utf8').trim()} (${dataDir})`);

// 2. The server on that data, and a supervisor signed in to the office.
const server = await startServer({ dataDir });
const browser = await newBrowser();
try {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/office/`);
  await signIn(page, SUPERVISOR, 'bench');
  await page.locator('#inbox[data-state="ready"]').waitFor({ timeout: 120_000 });

  // The raw API answer for a query string: fetch and parse, nothing drawn.
  const rawFetch = (query) => page.evaluate(async ({ db, query }) => {
    const token = JSON.parse(localStorage.getItem('chaski.session')).token;
    const t0 = performance.now();
    const response = await fetch(`/api/office/${db}/inbox?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.json();
    return { ms: performance.now() - t0, total: body.total };
  }, { db: DB, query });

  // Opening the inbox: navigation start to the first page of rows drawn.
  const opens = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto(`${server.url}/office/`);
    await page.locator('#inbox[data-state="ready"] .inbox-row').first().waitFor({ timeout: 60_000 });
    opens.push(await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())))));
  }
  const openRaw = [];
  let total = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await rawFetch('offset=0&limit=50');
    openRaw.push(r.ms);
    total = r.total;
  }

  // A filter: change a control, then wait for the answer to be drawn (the next frame).
  const applyFilter = (selector, value) => page.evaluate(async ({ selector, value }) => {
    const inbox = document.querySelector('#inbox');
    const before = Number(inbox.dataset.generation);
    const el = document.querySelector(selector);
    const t0 = performance.now();
    if (el.type === 'checkbox') {
      el.checked = !el.checked;
    } else {
      el.value = value;
    }
    el.dispatchEvent(new Event('change', { bubbles: true }));
    await new Promise((resolve) => {
      const check = () => (Number(inbox.dataset.generation) > before && inbox.dataset.state === 'ready'
        ? requestAnimationFrame(resolve) : requestAnimationFrame(check));
      check();
    });
    return { ms: performance.now() - t0, count: document.querySelector('#inbox-count')?.textContent ?? '0' };
  }, { selector, value });

  const filters = [
    ['state: has issues', '#filter-state input[value="has_issues"]', null, 'state=has_issues'],
    ['sector: logging', '#filter-sector', 'logging', 'state=has_issues&sector=logging'],
    ['clear state', '#filter-state input[value="has_issues"]', null, 'sector=logging'],
    ['indicator: debt bondage', '#filter-indicators input[value="debt_bondage"]', null, 'sector=logging&indicator=debt_bondage'],
    ['from 2026-06-01', '#filter-from', '2026-06-01', 'sector=logging&from=2026-06-01&indicator=debt_bondage'],
    ['text "campamento"', '#filter-text', 'campamento', 'sector=logging&from=2026-06-01&indicator=debt_bondage&q=campamento'],
  ];
  const rows = [];
  for (const [name, selector, value, query] of filters) {
    // Each filter is applied and undone RUNS times; the last application stays for the next.
    const ui = [];
    for (let i = 0; i < RUNS; i++) {
      if (i > 0) await applyFilter(selector, selector.startsWith('#filter-state') || selector.startsWith('#filter-indicators') ? null : '');
      const r = await applyFilter(selector, value);
      ui.push(r.ms);
      if (i === RUNS - 1) rows.push({ name, ui: median(ui), count: r.count });
    }
    const raw = [];
    for (let i = 0; i < RUNS; i++) raw.push((await rawFetch(`${query}&offset=0&limit=50`)).ms);
    rows[rows.length - 1].raw = median(raw);
  }

  console.log(`\nOffice inbox, ${total} inspections in ${DB}; medians of ${RUNS} runs, headless Chromium`);
  console.log(`${'step'.padEnd(28)}${'in the app'.padStart(10)}${'raw fetch'.padStart(11)}  rows`);
  console.log(`${'open the inbox'.padEnd(28)}${fmt(median(opens))} ${fmt(median(openRaw))}  first page of ${total}`);
  for (const r of rows) console.log(`${r.name.padEnd(28)}${fmt(r.ui)} ${fmt(r.raw)}  ${r.count}`);
  console.log('\n"in the app": from the control changing (or navigation start, for the open) to the next');
  console.log('frame after the answer is drawn; "raw fetch": the same API call, fetched and parsed, nothing drawn.');
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await browser.close().catch((e) => { console.error(e.message); process.exitCode = 1; });
  await server.stop();
}
