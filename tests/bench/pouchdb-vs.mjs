// Stock PouchDB (memory adapter, in Node) replicating with Chaski and with a PouchDB server, in
// one run, interleaved: push, pull and a sync with conflicts, for each size, several runs; prints
// the medians and the ratios Chaski time / PouchDB-server time (below 1 is Chaski faster).
//
//   npm run bench:pouchdb                      # = node tests/bench/pouchdb-vs.mjs
//   CHASKI_BENCH_POUCH_SIZES=10000 CHASKI_BENCH_RUNS=1 npm run bench:pouchdb
//
// The PouchDB server is stock `pouchdb-server` 4.2 from npm, in memory
// (tests/e2e/pouchdb-server.mjs runs it). Chaski is the release
// binary (`CHASKI_BIN`, default target/release/chaski; build it with `cargo build --release -p
// chaski-server`) on a fresh data folder, with its region database `madre-de-dios`, which
// validates every document: the documents are the e2e tests' valid inspections.
//
// What each step times (PouchDB's default batch of 100 documents):
// - push: a fresh local database holding `n` inspections replicates to a freshly created
//   remote database;
// - pull: a fresh empty local database replicates the `n` documents back;
// - sync: that pulled copy and the remote each edit the same `conflicts` documents differently
//   (500 by default, `CHASKI_BENCH_CONFLICTS`), then `PouchDB.sync` runs both ways once (the
//   push side starts with no checkpoint and asks `_revs_diff` about every document, the pull
//   side resumes from its checkpoint); afterwards both sides hold every conflict.
// Each step also records the CPU time it took in this process (PouchDB's client, single-threaded)
// and in the server's process (from /proc), to show which side the time is spent on: when the
// client's CPU is close to the step's wall time while the server's is small, the client is the
// bottleneck, whatever the server.
// Chaski is reached with a bearer token (as the app signs in once, then syncs), since HTTP
// Basic checks the password hash on every request.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
process.env.CHASKI_BIN ??= join(ROOT, 'target', 'release', 'chaski');
// The harness reads CHASKI_BIN when it loads, so it loads after the default is set.
const harness = await import('../e2e/harness.mjs');
const { startServer } = harness;
const { PouchDB, ADMIN, INSPECTOR, DB } = await import('../e2e/pouch.mjs');

const list = (name, fallback) =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
const SIZES = list('CHASKI_BENCH_POUCH_SIZES', '10000,50000');
const RUNS = list('CHASKI_BENCH_RUNS', '3')[0] ?? 3;
const CONFLICTS = list('CHASKI_BENCH_CONFLICTS', '500')[0] ?? 500;
const BATCH = 100;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

async function startPouchServer() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'tests', 'e2e', 'pouchdb-server.mjs'), String(port)], {
    // It writes its config.json and log.txt into its working folder: a scratch one.
    cwd: harness.scratchDir('pouchdb-server'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its log (a line per request) is kept only as a short tail for a failure's message.
  let tail = '';
  child.stderr.on('data', (chunk) => {
    tail = (tail + chunk).slice(-4000);
  });
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`pouchdb server did not start in 20 s:\n${tail}`)), 20_000);
    child.once('exit', (code) => fail(new Error(`pouchdb server exited with ${code}:\n${tail}`)));
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('listening on')) {
        clearTimeout(timer);
        ok();
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: () => child.pid,
    stop: () => new Promise((ok) => (child.exitCode !== null ? ok() : (child.once('exit', ok), child.kill('SIGTERM')))),
  };
}

/** A remote database handle whose every request carries `headers`. */
function remote(url, headers) {
  const withHeaders = (target, opts = {}) => {
    const h = new Headers(opts.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    return PouchDB.fetch(target, { ...opts, headers: h });
  };
  return new PouchDB(url, { skip_setup: true, fetch: withHeaders });
}

async function check(response, what) {
  assert.ok(response.ok || response.status === 412, `${what}: ${response.status} ${await response.text()}`);
}

/** The two servers, each able to re-create its database empty and hand out a handle to it. */
async function targets() {
  const chaski = await startServer({ users: [ADMIN, INSPECTOR] });
  const login = await fetch(`${chaski.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: ADMIN.name, password: ADMIN.password, device: 'bench' }),
  });
  const adminToken = (await login.json()).token;
  const inspectorLogin = await fetch(`${chaski.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: INSPECTOR.name, password: INSPECTOR.password, device: 'bench-tablet' }),
  });
  const token = (await inspectorLogin.json()).token;
  assert.ok(adminToken && token, 'tokens from /api/login');
  const pouch = await startPouchServer();
  const chaskiDb = `${chaski.url}/db/${DB}`;
  const pouchDb = `${pouch.url}/bench`;
  const admin = { authorization: `Bearer ${adminToken}` };
  return [
    {
      name: 'chaski',
      async fresh() {
        await fetch(chaskiDb, { method: 'DELETE', headers: admin });
        await check(await fetch(chaskiDb, { method: 'PUT', headers: admin }), `create ${chaskiDb}`);
      },
      db: () => remote(chaskiDb, { authorization: `Bearer ${token}` }),
      pid: () => chaski.pid(),
      stop: () => chaski.stop(),
    },
    {
      name: 'pouchdb-server',
      async fresh() {
        await fetch(pouchDb, { method: 'DELETE' });
        await check(await fetch(pouchDb, { method: 'PUT' }), `create ${pouchDb}`);
      },
      db: () => remote(pouchDb, {}),
      pid: () => pouch.pid(),
      stop: () => pouch.stop(),
    },
  ];
}

const inspection = harness.inspection;

let serial = 0;
const local = () => new PouchDB(`bench-local-${++serial}`, { adapter: 'memory' });

async function filled(n) {
  const db = local();
  for (let i = 0; i < n; i += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - i) }, (_, j) => inspection(i + j));
    const results = await db.bulkDocs(docs);
    assert.ok(results.every((r) => r.ok), 'fill the local database');
  }
  return db;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function processCpu(pid) {
  // Fields after the command name, which is in parentheses and may hold spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the name), in clock
  // ticks of 1/100 s on Linux.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `fn`: its wall time, its result, and the CPU seconds it took here and in the server. */
async function timed(fn, serverPid) {
  const server = processCpu(serverPid);
  const client = process.cpuUsage();
  const started = performance.now();
  const result = await fn();
  const secs = (performance.now() - started) / 1000;
  const used = process.cpuUsage(client);
  const cpu = { client: (used.user + used.system) / 1e6, server: processCpu(serverPid) - server };
  return [secs, result, cpu];
}

/** Edits the first `count` documents of `db` (local or remote), each side differently. */
async function edit(db, count, side) {
  const ids = Array.from({ length: count }, (_, i) => inspection(i)._id);
  const rows = (await db.allDocs({ keys: ids, include_docs: true })).rows;
  const docs = rows.map((row) => ({ ...row.doc, notes: `${row.doc.notes} Corregido en ${side}.` }));
  for (let i = 0; i < docs.length; i += BATCH) {
    const results = await db.bulkDocs(docs.slice(i, i + BATCH));
    assert.ok(results.every((r) => r.ok), `edit on ${side}: ${JSON.stringify(results.find((r) => !r.ok))}`);
  }
}

/** What a replication reported, for a failed check. */
const summary = (r) =>
  JSON.stringify({ status: r.status, ok: r.ok, docs_read: r.docs_read, docs_written: r.docs_written,
    doc_write_failures: r.doc_write_failures, errors: r.errors?.slice(0, 2) });

async function runOnce(target, n) {
  await target.fresh();
  const source = await filled(n);
  const pid = target.pid();
  const cpu = {};
  const [push, pushed, pushCpu] = await timed(
    () => PouchDB.replicate(source, target.db(), { batch_size: BATCH }),
    pid,
  );
  cpu.push = pushCpu;
  assert.equal(pushed.docs_written, n, `${target.name}: push wrote every document: ${summary(pushed)}`);
  await source.destroy();

  const copy = local();
  const [pull, pulled, pullCpu] = await timed(
    () => PouchDB.replicate(target.db(), copy, { batch_size: BATCH }),
    pid,
  );
  cpu.pull = pullCpu;
  assert.equal(pulled.docs_written, n, `${target.name}: pull read every document: ${summary(pulled)}`);

  const conflicts = Math.min(CONFLICTS, n);
  await edit(copy, conflicts, 'la tableta');
  await edit(target.db(), conflicts, 'la oficina');
  const [sync, synced, syncCpu] = await timed(
    () => PouchDB.sync(copy, target.db(), { batch_size: BATCH }),
    pid,
  );
  cpu.sync = syncCpu;
  assert.equal(synced.push.docs_written, conflicts, `${target.name}: sync pushed the edits`);
  assert.equal(synced.pull.docs_written, conflicts, `${target.name}: sync pulled the edits`);
  for (const i of [0, conflicts - 1]) {
    const id = inspection(i)._id;
    for (const [side, db] of [['local', copy], ['remote', target.db()]]) {
      const doc = await db.get(id, { conflicts: true });
      assert.equal(doc._conflicts?.length, 1, `${target.name}: ${id} is a conflict on the ${side} side`);
    }
  }
  await copy.destroy();
  return { times: { push, pull, sync }, cpu };
}

const servers = await targets();
const started = new Date();
console.log(
  `stock PouchDB ${PouchDB.version} (memory) against ${servers.map((s) => s.name).join(' and ')}; ` +
    `sizes ${SIZES.join(', ')}, ${RUNS} runs, batch ${BATCH}, ${CONFLICTS} conflicts; ${process.env.CHASKI_BIN}`,
);
const results = {};
// Per step, the CPU each side used as a share of the step's wall time (1.00 = one core busy).
const cpuShares = {};
try {
  for (const n of SIZES) {
    for (let run = 0; run < RUNS; run++) {
      // Interleaved, and the order swaps every run, so neither server always goes first.
      const order = run % 2 ? [...servers].reverse() : servers;
      for (const target of order) {
        const { times, cpu } = await runOnce(target, n);
        for (const [op, secs] of Object.entries(times)) {
          (((results[n] ??= {})[op] ??= {})[target.name] ??= []).push(secs);
          (((cpuShares[n] ??= {})[op] ??= {})[target.name] ??= []).push({
            client: cpu[op].client / secs,
            server: cpu[op].server / secs,
          });
        }
        console.log(
          `  ${n} docs, run ${run + 1}, ${target.name}: ` +
            Object.entries(times)
              .map(([op, s]) => `${op} ${s.toFixed(2)} s (CPU: client ${cpu[op].client.toFixed(2)} s, server ${cpu[op].server.toFixed(2)} s)`)
              .join(', '),
        );
      }
    }
  }
} finally {
  for (const s of servers) await s.stop();
}

console.log(`\nmedians of ${RUNS} (seconds; ratio = Chaski / pouchdb-server, lower is better for Chaski)`);
console.log(`CPU: the median share of the step's wall time the PouchDB client's process / the server's process was busy`);
console.log(`${'docs'.padStart(7)} ${'step'.padEnd(6)} ${'chaski'.padStart(8)} ${'pouchdb-srv'.padStart(11)} ${'ratio'.padStart(6)}  ${'CPU client/chaski'.padStart(17)} ${'CPU client/pouchdb-srv'.padStart(22)}  (chaski range; pouchdb-server range)`);
for (const n of SIZES) {
  for (const op of ['push', 'pull', 'sync']) {
    const c = results[n][op].chaski;
    const p = results[n][op]['pouchdb-server'];
    const range = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
    const shares = (name) => {
      const s = cpuShares[n][op][name];
      return `${median(s.map((x) => x.client)).toFixed(2)} / ${median(s.map((x) => x.server)).toFixed(2)}`;
    };
    console.log(
      `${String(n).padStart(7)} ${op.padEnd(6)} ${median(c).toFixed(2).padStart(8)} ${median(p).toFixed(2).padStart(11)} ` +
        `${(median(c) / median(p)).toFixed(2).padStart(6)}  ${shares('chaski').padStart(17)} ${shares('pouchdb-server').padStart(22)}  (${range(c)}; ${range(p)})`,
    );
  }
}
console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
