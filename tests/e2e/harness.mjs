// Test harness for the end-to-end tests: the real `chaski` binary on a free port with a fresh
// store, and headless Debian Chromium driven by playwright-core.

import { after, before } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'node:http';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = process.env.CHASKI_BIN ?? join(ROOT, 'target', 'debug', 'chaski');
const DIST = process.env.CHASKI_DIST ?? join(ROOT, 'dist');
// Profiles and data under target/ so that nothing piles up in /tmp.
const SCRATCH = join(ROOT, 'target', 'e2e');

export function scratchDir(prefix) {
  mkdirSync(SCRATCH, { recursive: true });
  return mkdtempSync(join(SCRATCH, `${prefix}-`));
}

/** Copies a build into `dir`, replacing what was there (a deploy). */
export function deploy(fromDist, dir) {
  rmSync(dir, { recursive: true, force: true });
  cpSync(fromDist, dir, { recursive: true });
}

/**
 * Starts the server binary on 127.0.0.1:0 serving a copy of the built PWA, with `args` after
 * the harness's own flags (`--config FILE`). Resolves once it logs the address it listens on.
 */
export async function startServer({ dist = DIST, users = [], dbs = [], dataDir: existing, args = [] } = {}) {
  const home = scratchDir('server');
  const staticDir = join(home, 'dist');
  // An existing data folder (the benchmark's, loaded beforehand) is used as it is and kept.
  const dataDir = existing ?? join(home, 'data');
  deploy(dist, staticDir);
  for (const user of users) addUser(dataDir, user);
  if (dbs.length) cli(dataDir, ['db', 'create', ...dbs]);
  let child;
  let log = '';
  const launch = async (bind) => {
    child = spawn(BIN, ['--bind', bind, '--data-dir', dataDir, '--static-dir', staticDir, ...args], {
      env: { ...process.env, RUST_LOG: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 20 s:\n${log}`)), 20_000);
      child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
      // The whole log is kept (tests read it), but the address is looked for only until it is
      // found, and only in each stream's unfinished line and new chunk: searching all the log
      // on every chunk was quadratic and, in a benchmark, cost this process about a second of
      // CPU per 30,000 documents.
      let listening = false;
      const watch = (stream) => {
        let line = '';
        stream.on('data', (chunk) => {
          log += chunk;
          if (listening) return;
          line += chunk;
          const found = line.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
          if (found) {
            listening = true;
            clearTimeout(timer);
            resolveUrl(found[1]);
          } else {
            line = line.slice(line.lastIndexOf('\n') + 1);
          }
        });
      };
      watch(child.stdout);
      watch(child.stderr);
    });
  };
  const halt = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const url = await launch('127.0.0.1:0');
  return {
    url,
    staticDir,
    dataDir,
    log: () => log,
    /** The running server's process id (it changes with a restart). */
    pid: () => child.pid,
    /**
     * Stops the server, runs `admin(dataDir)` (the command line needs the data to itself, as an
     * office administrator finds it) and starts it again on the same address, so the app keeps
     * its origin and with it its IndexedDB.
     */
    async restart(admin = () => {}) {
      await halt();
      await admin(dataDir);
      await launch(new URL(url).host);
    },
    async stop() {
      await halt();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Runs an administration command on a data folder, as an administrator would. */
export function cli(dataDir, args, env = {}) {
  const result = spawnSync(BIN, ['--data-dir', dataDir, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`chaski ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
}

/** Adds a user with the admin command line (server stopped). */
export function addUser(dataDir, { name, password, role, regions = [] }) {
  const args = ['user', 'add', name, '--role', role];
  for (const region of regions) args.push('--region', region);
  cli(dataDir, args, { CHASKI_PASSWORD: password });
}

/** Signs in through the app's form and waits for the list of inspections. */
export async function signIn(page, { name, password }, device = 'tableta-prueba') {
  await page.locator('#login-name').fill(name);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-device').fill(device);
  await page.locator('#login-submit').click();
  await page.locator('#signed-in-as').waitFor();
}

/** `Authorization` header value for HTTP Basic. */
export function basic(name, password) {
  return `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A console message that is a Rust panic (the app's hook prints it) or the abort after one. */
export const PANIC = /panicked at|RuntimeError: unreachable/;

/**
 * Collects every uncaught error of every page of `context` (and console errors that are wasm
 * panics): the app's release build aborts on a panic, silently for the inspector, so a test must
 * see it.
 */
function guardPages(context) {
  const errors = [];
  const watch = (page) => {
    page.on('pageerror', (error) => errors.push(`pageerror on ${page.url()}: ${error.stack ?? error}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && PANIC.test(message.text())) {
        errors.push(`console error on ${page.url()}: ${message.text()}`);
      }
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return errors;
}

/**
 * A fresh browser profile (its own IndexedDB, caches and service workers). `close()` throws if
 * any of its pages had an uncaught error; `pageErrors` lists them so far.
 */
export async function newBrowser() {
  const profile = scratchDir('profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  const pageErrors = guardPages(context);
  return {
    context,
    pageErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      if (pageErrors.length) throw new Error(`uncaught errors in the page:\n${pageErrors.join('\n')}`);
    },
  };
}

/**
 * Runs `fn(page, browser)` in a fresh browser profile and closes it afterwards, whatever
 * happens. Fails if a page had an uncaught error, even when `fn` passed.
 */
export async function withPage(fn) {
  const browser = await newBrowser();
  let result;
  try {
    result = await fn(await browser.context.newPage(), browser);
  } catch (error) {
    // The test's own failure comes first; the page's errors often explain it.
    await browser.close().catch((closing) => {
      error.message += `\n${closing.message}`;
    });
    throw error;
  }
  await browser.close();
  return result;
}

/**
 * A server for a `describe` block: started before its tests with `options` (see `startServer`)
 * and stopped after them. Returns a function that gives the running server.
 */
export function suiteServer(options) {
  let server;
  before(async () => {
    server = await startServer(options);
  });
  after(async () => {
    await server?.stop();
  });
  return () => server;
}

/** Waits until a service worker controls the page, i.e. the app shell is cached. */
export async function waitForServiceWorker(page) {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    }
  });
}

/** Builds the PWA again into `dist` with extra environment (e.g. a changed build note). */
export function trunkBuild(dist, env) {
  const result = spawnSync('trunk', ['build', '--release', '--dist', dist], {
    cwd: ROOT,
    // wasm-opt comes from npm (binaryen); Trunk runs offline and only looks on PATH.
    env: { ...process.env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`trunk build failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** Polls `check` (which may be async) until it returns a truthy value or `ms` pass. */
export async function eventually(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Records an inspection on a tablet that has no network (`submit(page)` fills and submits it),
 * checks that the home list shows it as local only, then lets the tablet reconnect and waits
 * until the row says it is synced. Returns the row.
 */
export async function recordOfflineThenSync(context, page, submit, site) {
  await context.setOffline(true);
  await submit(page);
  await page.locator('#nav-home').click();
  const row = page.locator('.inspection-row', { hasText: site });
  await row.waitFor();
  const state = await row.getAttribute('data-sync-state');
  if (state !== 'local') throw new Error(`recorded offline, the row says ${state}, not local`);
  await context.setOffline(false);
  await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: site }).waitFor({ timeout: 60_000 });
  return row;
}

/**
 * Opens a new inspection in the tablet's form and fills what a submission needs (site, gold
 * mining, district, a visit ending in an hour, worker counts) and two adults found, a woman and
 * a man, consent not asked. The caller adds what its test is about and submits.
 */
export async function fillNewInspection(page, { site, district, workers }) {
  await page.locator('#new-inspection').click();
  await page.locator('#inspection-form').waitFor();
  await page.locator('#f-site-name').fill(site);
  await page.locator('#f-sector').selectOption('gold_mining');
  await page.locator('#f-district').fill(district);
  await page.locator('#f-visit-end').fill(new Date(Date.now() + 3_600_000).toISOString().slice(0, 16));
  const [total, women, men] = workers;
  for (const [id, n] of [['total', total], ['women', women], ['men', men]]) {
    await page.locator(`#f-workers-${id}`).fill(String(n));
  }
  for (const [i, sex] of [[0, 'female'], [1, 'male']]) {
    await page.locator('#person-add').click();
    await page.locator(`#f-people-${i}-age-band`).selectOption('18_24');
    await page.locator(`#f-people-${i}-sex`).selectOption(sex);
    await page.locator(`#f-people-${i}-nationality`).selectOption('PE');
    await page.locator(`#f-people-${i}-consent-status`).selectOption('not_asked');
  }
}

/**
 * A JPEG the page's canvas encodes (as a tablet's camera would give one), as a Buffer: a plain
 * background with a block on it, or, with `patches`, that many coloured rectangles, which make
 * a busy picture that compresses like a photo (a larger file).
 */
export async function canvasJpeg(page, { width, height, quality, patches = 0 }) {
  const dataUrl = await page.evaluate(({ width, height, quality, patches }) => {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d');
    g.fillStyle = '#6b3a8a';
    g.fillRect(0, 0, width, height);
    g.fillStyle = '#f0c020';
    g.fillRect(width / 5, height / 6, width * 3 / 8, height * 2 / 3);
    for (let i = 0; i < patches; i++) {
      g.fillStyle = `hsl(${(i * 37) % 360} 60% ${30 + (i % 40)}%)`;
      g.fillRect((i * 131) % width, (i * 71) % height, 40 + (i % 90), 30 + (i % 70));
    }
    return canvas.toDataURL('image/jpeg', quality);
  }, { width, height, quality, patches });
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

/** The bytes of `url` as the server sends them with `accept-encoding: encoding` (none if absent). */
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

/**
 * Downloads each of `paths` from `base` uncompressed, with gzip and with brotli, prints a table
 * of their sizes (KB) and a total line, and returns the totals `{ raw, gzip, br, files }`. The
 * server makes brotli in the background and sends a file uncompressed meanwhile (12 s for the
 * wasm in a debug build): this waits for it rather than count the raw bytes as brotli.
 */
export async function printSizes(base, paths, width = 48) {
  const kb = (n) => (n / 1024).toFixed(1).padStart(8);
  console.log(`${'file'.padEnd(width)}${'raw KB'.padStart(8)}${'gzip KB'.padStart(9)}${'br KB'.padStart(8)}`);
  const sums = { raw: 0, gzip: 0, br: 0, files: 0 };
  for (const path of [...paths].sort()) {
    const url = base + path;
    const [raw, gzip] = await Promise.all([bytesWith(url), bytesWith(url, 'gzip')]);
    let br = await bytesWith(url, 'br');
    for (let tries = 0; gzip.encoding === 'gzip' && br.encoding !== 'br' && tries < 120; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      br = await bytesWith(url, 'br');
    }
    sums.raw += raw.total;
    sums.gzip += gzip.total;
    sums.br += br.total;
    sums.files += 1;
    console.log(`${path.padEnd(width)}${kb(raw.total)} ${kb(gzip.total)}${kb(br.total)}`);
  }
  console.log(`${`total (${sums.files} files)`.padEnd(width)}${kb(sums.raw)} ${kb(sums.gzip)}${kb(sums.br)}`);
  return sums;
}

const SECTORS = ['gold_mining', 'logging', 'agriculture', 'brick_making', 'domestic_work'];

/**
 * A valid draft inspection (the shared domain schema, which the server enforces on region
 * databases) of about 1 KB: counts that add up and indicators with their stages and evidence
 * only when seen, so that it would pass the submission rules too.
 */
export function inspection(i, region = 'madre-de-dios') {
  const women = i % 7;
  const men = 10 + (i % 13);
  const minors = i % 3;
  const debtSeen = i % 2 === 0;
  return {
    _id: `inspection:20261128T1000${String(i).padStart(5, '0')}Z-pouch`,
    type: 'inspection',
    status: 'draft',
    site_name: `Campamento ${i} — río Madre de Dios`,
    sector: SECTORS[i % SECTORS.length],
    region,
    district: 'Huepetuhe',
    locality: 'Quebrada Caychihue',
    // Within Peru for any `i` (the point repeats every 10,000 records).
    gps: { lat: -12.9 - (i % 10000) / 10000, lon: -70.5 + (i % 10000) / 10000, accuracy_m: 12 },
    location_source: 'gps',
    access: { modes: ['river_boat', 'on_foot'] },
    visit_start: '2026-11-20T08:00:00-05:00',
    visit_end: '2026-11-20T15:30:00-05:00',
    team: ['ines.inspectora', 'raul.inspector'],
    accompanied_by: ['police', 'prosecutor'],
    workers: {
      total: women + men,
      women,
      men,
      other_or_unknown: 0,
      minors_under_18: minors,
      minors_under_14: Math.min(i % 2, minors),
    },
    indicators: {
      debt_bondage: debtSeen
        ? { seen: true, stages: ['recruitment', 'during_work'], evidence: 'Cuaderno de deudas por comida y herramientas.' }
        : { seen: false },
      retention_of_identity_documents: { seen: true, stages: ['during_work'], evidence: 'El capataz guarda los DNI.' },
    },
    notes: 'Trabajadores reportan retención de salarios y documentos. '.repeat(4),
    created_by: 'ines.inspectora',
    device: 'tablet-07',
    created_at: '2026-11-20T15:45:00-05:00',
  };
}
