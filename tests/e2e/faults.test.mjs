// Replication over a hostile network: stock PouchDB pushes and pulls 1,000 documents through a
// TCP proxy that cuts about one connection in five (before the request, in the middle of the
// request, in the middle of the response), retrying until it reports completion, and then every
// document and revision must be on the other side. A cut answer must never pass for a shorter
// complete one, and no replicator may checkpoint past documents it did not write.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspection } from './harness.mjs';
import { PouchDB, remoteRegion, startWithRegion } from './pouch.mjs';
const DOCS = 1000;
/** A fixed seed, so that a failure can be replayed (FAULT_SEED overrides it). */
const SEED = Number(process.env.FAULT_SEED ?? 20261130);
const CUT_RATE = 0.2;
/**
 * PouchDB 9's replicator itself loses documents under faults, against any server (it was
 * reproduced against stock pouchdb-server): a replication that failed keeps checkpointing past
 * the batches it dropped. Two things keep it honest here, as they would in an app: one batch
 * at a time (`batches_limit: 1`, so none is queued to be dropped) and cancelling a failed
 * replication before the next attempt. `FAULT_BATCHES_LIMIT=10 FAULT_CANCEL_FAILED=0` shows
 * PouchDB's bug (the test then fails with whole batches missing, in most runs).
 */
const BATCHES_LIMIT = Number(process.env.FAULT_BATCHES_LIMIT ?? 1);
const CANCEL_FAILED = process.env.FAULT_CANCEL_FAILED !== '0';

/** mulberry32: a small seeded generator, so that the same cuts happen on every run. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A TCP proxy in front of `target` (an http://host:port URL) that cuts a share of the
 * connections at a random point: before the request reaches the server, after part of the
 * request, or after part of the response (headers, or somewhere in the body). The cut is a
 * plain close, which is what a dropped link or a dying proxy looks like to a client.
 */
async function faultProxy(target, { seed, cutRate }) {
  const random = seeded(seed);
  const { hostname, port } = new URL(target);
  const stats = { connections: 0, before: 0, midRequest: 0, midResponse: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    stats.connections += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    const cut = random() < cutRate ? ['before', 'midRequest', 'midResponse'][Math.floor(random() * 3)] : null;
    // How far into the stream the cut falls: requests here are a few hundred bytes to a few
    // tens of KB; most responses (gzip) a few hundred bytes to a few KB, so small offsets are
    // the likelier ones (headers, the first rows) and a few land deep in a long body.
    const at = 1 + Math.floor(random() ** 2 * (cut === 'midRequest' ? 2_000 : 12_000));
    if (cut === 'before') {
      stats.before += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    let sent = 0;
    let received = 0;
    const cutNow = (kind) => {
      stats[kind] += 1;
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (cut === 'midRequest' && sent + chunk.length >= at) {
        upstream.write(chunk.subarray(0, at - sent), () => cutNow('midRequest'));
        sent = at;
        client.pause();
        return;
      }
      sent += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (cut === 'midResponse' && received + chunk.length >= at) {
        client.write(chunk.subarray(0, at - received), () => cutNow('midResponse'));
        received = at;
        upstream.pause();
        return;
      }
      received += chunk.length;
      client.write(chunk);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Runs a one-off replication again and again, as an app does when a sync fails, until PouchDB
 * reports it complete. Each attempt is a fresh `replicate` that resumes from the checkpoints.
 */
async function untilComplete(replicate, what) {
  const errors = [];
  for (let attempt = 1; attempt <= 200; attempt += 1) {
    const run = replicate();
    // A PouchDB replication whose connection was cut at the wrong moment can wait for ever;
    // an app gives up on it and starts another, and so does this.
    const timer = setTimeout(() => run.cancel(), 15_000);
    try {
      const result = await run;
      if (result.ok && result.status === 'complete') return { attempts: attempt, errors, result };
      errors.push(`attempt ${attempt}: ${result.status}`);
    } catch (err) {
      errors.push(`attempt ${attempt}: ${err.status ?? ''} ${err.message ?? err}`);
    } finally {
      clearTimeout(timer);
      // A failed PouchDB replication is not over: its batch in flight carries on, fetches
      // more changes and checkpoints past the batches it dropped (see NOTES). Cancelling it
      // stops those checkpoints, so the next attempt resumes from a true one.
      if (CANCEL_FAILED) run.cancel();
    }
  }
  throw new Error(`${what} never completed:\n${errors.join('\n')}`);
}

/**
 * PouchDB 9's replicator reads the source's info() for its progress figures without catching a
 * failure (`finishBatch` in pouchdb-replication): through this proxy that becomes an unhandled
 * rejection, which would end the test process. Retry it, as a patient app would; the figures
 * are all it is used for.
 */
function patientInfo(db) {
  const info = db.info.bind(db);
  db.info = async () => {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await info();
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  return db;
}


/** `{id: rev}` of every live document, read without the proxy. */
async function revisions(db) {
  const all = await db.allDocs();
  return Object.fromEntries(all.rows.map((row) => [row.id, row.value.rev]));
}

describe('PouchDB replication through a proxy that cuts one connection in five', () => {
  let server;
  let proxy;
  before(async () => {
    server = await startWithRegion();
    proxy = await faultProxy(server.url, { seed: SEED, cutRate: CUT_RATE });
  });
  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  test('1,000 documents arrive whole in both directions, none lost and none reported early', { timeout: 120_000 }, async () => {
    const direct = remoteRegion(server.url);
    const faulty = patientInfo(remoteRegion(proxy.url));

    const tablet = new PouchDB('faults-tablet', { adapter: 'memory' });
    const written = await tablet.bulkDocs(Array.from({ length: DOCS }, (_, i) => inspection(i)));
    assert.ok(written.every((r) => r.ok));
    const push = await untilComplete(() => tablet.replicate.to(faulty, { batch_size: 100, batches_limit: BATCHES_LIMIT }), 'the push');
    const onTablet = await revisions(tablet);
    assert.deepEqual(await revisions(direct), onTablet, 'the server holds every pushed document at its revision');

    // The office's edits come back the other way too: a second revision for a tenth of them.
    const edits = await direct.allDocs({ include_docs: true, limit: DOCS / 10 });
    const edited = await direct.bulkDocs(edits.rows.map((r) => ({ ...r.doc, notes: 'revisado en la oficina' })));
    assert.ok(edited.every((r) => r.ok));

    const office = new PouchDB('faults-office', { adapter: 'memory' });
    const pull = await untilComplete(() => office.replicate.from(faulty, { batch_size: 100, batches_limit: BATCHES_LIMIT }), 'the pull');
    const onServer = await revisions(direct);
    const onOffice = await revisions(office);
    const missing = Object.keys(onServer).filter((id) => onOffice[id] !== onServer[id]);
    assert.deepEqual(missing, [], `${missing.length} documents missing or stale after the pull`);
    assert.equal(Object.keys(onOffice).length, DOCS);

    const cuts = proxy.stats.before + proxy.stats.midRequest + proxy.stats.midResponse;
    console.log(
      `faults: ${proxy.stats.connections} connections, ${cuts} cut (${JSON.stringify(proxy.stats)}); ` +
        `push in ${push.attempts} attempts, pull in ${pull.attempts}`,
    );
    assert.ok(cuts >= 5, `the proxy cut only ${cuts} connections; the test proves nothing`);
  });
});
