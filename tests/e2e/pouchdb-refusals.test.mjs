// Stock PouchDB on the paths where Chaski says no: documents the domain rules refuse inside a
// push (each comes back `forbidden`, PouchDB counts it as denied and goes on with the others),
// and a design-document filter, which Chaski cannot run (CouchDB's 404, and the replication
// ends with that error instead of waiting for ever).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inspection } from './harness.mjs';
import { DB, PouchDB, remoteRegion, startWithRegion } from './pouch.mjs';

/** Settles with the replication's outcome, or fails after `ms`: a hang is a failure. */
function within(ms, replication, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      replication.cancel();
      reject(new Error(`${what} did not end within ${ms} ms`));
    }, ms);
  });
  return Promise.race([
    replication.then(
      (result) => ({ result }),
      (error) => ({ error }),
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}

describe('stock PouchDB where Chaski refuses', () => {
  let server;
  let remote;
  before(async () => {
    server = await startWithRegion();
    remote = remoteRegion(server.url);
  });
  after(async () => {
    await server?.stop();
  });

  test('a push with refused documents writes the others and reports each refusal as denied', async () => {
    const tablet = new PouchDB('refusals-tablet', { adapter: 'memory' });
    const good = Array.from({ length: 20 }, (_, i) => inspection(i));
    // Inspections of another region: the server's domain rules refuse them here.
    const bad = Array.from({ length: 3 }, (_, i) => ({ ...inspection(100 + i, 'loreto'), _id: `inspection:otra-region-${i}` }));
    await tablet.bulkDocs([...good, ...bad]);
    const denied = [];
    const push = tablet.replicate.to(remote, { batch_size: 10 });
    push.on('denied', (err) => denied.push(err));
    const { result, error } = await within(30_000, push, 'the push');
    assert.equal(error, undefined, `the push failed: ${error?.message}`);
    assert.equal(result.status, 'complete');
    assert.equal(result.docs_written, 20);
    assert.equal(result.doc_write_failures, 3);
    assert.equal(denied.length, 3);
    for (const refusal of denied) {
      assert.equal(refusal.name ?? refusal.error, 'forbidden');
      assert.ok(refusal.reason?.includes('region'), JSON.stringify(refusal));
    }
    const onServer = await remote.allDocs({ keys: [...good, ...bad].map((d) => d._id) });
    assert.equal(onServer.rows.filter((r) => r.value && !r.value.deleted).length, 20);
  });

  test('a replication with a design-document filter ends with CouchDB\'s 404 instead of hanging', async () => {
    const office = new PouchDB('refusals-office', { adapter: 'memory' });
    const pull = office.replicate.from(remote, { filter: 'app/by_region', query_params: { region: DB } });
    const { result, error } = await within(30_000, pull, 'the filtered pull');
    assert.equal(result, undefined, 'a filter Chaski cannot run must not pass for an empty one');
    assert.equal(error.status, 404, JSON.stringify(error));
  });
});
