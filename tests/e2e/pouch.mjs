// Stock PouchDB (memory adapter, in Node) against the real server: the plugins, the accounts
// and the region database that every PouchDB test uses, set up once here.

import assert from 'node:assert/strict';
import PouchDB from 'pouchdb-core';
import MemoryAdapter from 'pouchdb-adapter-memory';
import HttpAdapter from 'pouchdb-adapter-http';
import Replication from 'pouchdb-replication';
import { basic, startServer } from './harness.mjs';

PouchDB.plugin(MemoryAdapter).plugin(HttpAdapter).plugin(Replication);

export { PouchDB };

export const ADMIN = { name: 'ana.admin', password: 'correct horse battery', role: 'admin' };
export const INSPECTOR = {
  name: 'ines.inspectora',
  password: 'selva verde 2026',
  role: 'inspector',
  regions: ['madre-de-dios'],
};
export const DB = 'madre-de-dios';

/** Starts the server with ADMIN and INSPECTOR and creates (or finds) the region database. */
export async function startWithRegion() {
  const server = await startServer({ users: [ADMIN, INSPECTOR] });
  const created = await fetch(`${server.url}/db/${DB}`, {
    method: 'PUT',
    headers: { authorization: basic(ADMIN.name, ADMIN.password) },
  });
  assert.ok([201, 412].includes(created.status), `create ${DB}: ${created.status} ${await created.text()}`);
  return server;
}

/** The region database at `baseUrl` (the server, or a proxy in front of it), as the inspector. */
export function remoteRegion(baseUrl) {
  return new PouchDB(`${baseUrl}/db/${DB}`, {
    auth: { username: INSPECTOR.name, password: INSPECTOR.password },
    skip_setup: true,
  });
}
