// Interoperability with a client nobody here wrote: stock PouchDB (memory adapter, in Node)
// replicates with the real Chaski server over CouchDB's protocol, with HTTP Basic auth.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, eventually, inspection } from './harness.mjs';
import { ADMIN, DB, INSPECTOR, PouchDB, remoteRegion, startWithRegion } from './pouch.mjs';

describe('stock PouchDB against a Chaski server', () => {
  let server;
  let remote;
  before(async () => {
    server = await startWithRegion();
    remote = remoteRegion(server.url);
  });
  after(async () => {
    await server?.stop();
  });

  test('1,000 inspections replicate to the server and back, then concurrent edits converge', async () => {
    const tablet = new PouchDB('tablet', { adapter: 'memory' });
    const docs = Array.from({ length: 1000 }, (_, i) => inspection(i));
    const written = await tablet.bulkDocs(docs);
    assert.ok(written.every((r) => r.ok));

    const push = await tablet.replicate.to(remote, { batch_size: 100 });
    assert.equal(push.ok, true);
    assert.equal(push.docs_written, 1000);
    assert.equal(push.doc_write_failures, 0);
    const info = await remote.info();
    assert.equal(info.doc_count, 1000);

    // A second device pulls everything back.
    const office = new PouchDB('office', { adapter: 'memory' });
    const pull = await office.replicate.from(remote, { batch_size: 100 });
    assert.equal(pull.docs_written, 1000);
    const back = await office.allDocs({ include_docs: true });
    assert.equal(back.rows.length, 1000);
    for (const row of back.rows.slice(0, 50)) {
      const { _rev, ...body } = row.doc;
      const { _rev: _r, ...original } = (await tablet.get(row.id));
      assert.deepEqual(body, original);
    }

    // A second push finds nothing to send: checkpoints on the server resume it.
    const again = await tablet.replicate.to(remote);
    assert.equal(again.docs_written, 0);

    // Both sides edit the same 100 documents while apart.
    const ids = docs.slice(0, 100).map((d) => d._id);
    for (const [db, who] of [[tablet, 'tablet'], [office, 'office']]) {
      const current = await db.allDocs({ keys: ids, include_docs: true });
      await db.bulkDocs(current.rows.map((r) => ({ ...r.doc, notes: `edited on the ${who}` })));
    }
    await tablet.sync(remote);
    await office.sync(remote);
    await tablet.sync(remote);

    for (const id of ids) {
      const onTablet = await tablet.get(id, { conflicts: true });
      const onOffice = await office.get(id, { conflicts: true });
      const onServer = await remote.get(id, { conflicts: true });
      assert.equal(onServer._rev, onTablet._rev, `${id}: same winner on server and tablet`);
      assert.equal(onServer._rev, onOffice._rev, `${id}: same winner on server and office`);
      assert.equal(onServer._conflicts?.length, 1, `${id}: the losing edit is kept as a conflict`);
      assert.deepEqual(onTablet._conflicts, onServer._conflicts);
      assert.deepEqual(onOffice._conflicts, onServer._conflicts);
    }
  });

  test('a live PouchDB replication sees a new server-side document within 2 seconds', async () => {
    const tablet = new PouchDB('live-tablet', { adapter: 'memory' });
    const live = tablet.replicate.from(remote, { live: true, retry: true });
    try {
      // Let the first catch-up finish, then write on the server with plain HTTP.
      await new Promise((r) => setTimeout(r, 1500));
      const doc = inspection(5000);
      const put = await fetch(`${server.url}/db/${DB}/${encodeURIComponent(doc._id)}`, {
        method: 'PUT',
        headers: { authorization: basic(INSPECTOR.name, INSPECTOR.password), 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });
      assert.equal(put.status, 201, await put.text());
      const started = Date.now();
      await eventually(() => tablet.get(doc._id).then(() => true, () => false), 2000, 'the live replication');
      assert.ok(Date.now() - started <= 2000);
    } finally {
      live.cancel();
    }
  });

  test('new PouchDB(url) creates a missing database and destroy() removes it, as CouchDB allows', async () => {
    // Without skip_setup PouchDB creates the database with `PUT /db/name/` (trailing slash),
    // and destroy() sends `DELETE /db/name/`.
    const url = `${server.url}/db/pouch-created`;
    const db = new PouchDB(url, { auth: { username: ADMIN.name, password: ADMIN.password } });
    const info = await db.info();
    assert.equal(info.db_name, 'pouch-created');
    assert.equal((await db.put({ _id: 'a', v: 1 })).ok, true);
    assert.equal((await db.destroy()).ok, true);
    const gone = await fetch(url, { headers: { authorization: basic(ADMIN.name, ADMIN.password) } });
    assert.equal(gone.status, 404);
  });

  test('wrong credentials get a 401 that PouchDB reports, not a crash', async () => {
    const intruder = new PouchDB(`${server.url}/db/${DB}`, {
      auth: { username: INSPECTOR.name, password: 'not the password' },
      skip_setup: true,
    });
    // PouchDB folds an error into info(), so ask for documents, which rejects.
    await assert.rejects(intruder.allDocs(), (err) => err.status === 401);
  });
});
