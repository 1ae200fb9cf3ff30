// A stock PouchDB server, in memory, for the relay test (server/tests/relay.rs): Express with
// `express-pouchdb` over PouchDB's memory adapter, which is what the npm `pouchdb-server`
// runs. (`pouchdb-server` itself also installs leveldown and sqlite3, native builds whose
// install scripts download from outside npm; `express-pouchdb` needs neither.)
//
//   node tests/e2e/pouchdb-server.mjs PORT
//
// Prints `listening on http://127.0.0.1:PORT` once it serves; an open "admin party", as a
// fresh pouchdb-server is.

import { createRequire } from 'node:module';
import PouchDB from 'pouchdb-core';
import MemoryAdapter from 'pouchdb-adapter-memory';
import HttpAdapter from 'pouchdb-adapter-http';
import Replication from 'pouchdb-replication';
import MapReduce from 'pouchdb-mapreduce';

const require = createRequire(import.meta.url);
const express = require('express');
const expressPouchDB = require('express-pouchdb');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node tests/e2e/pouchdb-server.mjs PORT');
  process.exit(2);
}

PouchDB.plugin(MemoryAdapter).plugin(HttpAdapter).plugin(Replication).plugin(MapReduce);
const MemoryPouch = PouchDB.defaults({ adapter: 'memory' });

const app = express();
app.use('/', expressPouchDB(MemoryPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true }));
app.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
