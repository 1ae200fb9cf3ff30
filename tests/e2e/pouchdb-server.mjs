// Stock `pouchdb-server` from npm (4.2, in memory), for the relay test (server/tests/relay.rs)
// and the PouchDB benchmark: a third-party CouchDB-compatible target.
//
//   node tests/e2e/pouchdb-server.mjs PORT
//
// Runs the package's own entry point in this process (so killing this process stops it) with
// `--in-memory --no-stdout-logs`, in the current folder (where it writes its `config.json` and
// `log.txt`), and prints `listening on http://127.0.0.1:PORT` once it answers; an open "admin
// party", as a fresh pouchdb-server is.
//
// The repository's `.npmrc` sets `ignore-scripts`: pouchdb-server's leveldown and sqlite3 have
// install scripts that download from outside npm. Neither is needed in memory (leveldown loads
// the prebuilt binary its package ships), so nothing of it is lost.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node tests/e2e/pouchdb-server.mjs PORT');
  process.exit(2);
}

process.argv = [
  process.argv[0],
  'pouchdb-server',
  '--in-memory',
  '--no-stdout-logs',
  '--host',
  '127.0.0.1',
  '--port',
  String(port),
];
// Its own start line goes to stderr: stdout carries only the line below, which the caller
// reads before it stops reading.
const say = console.log.bind(console);
console.log = console.error.bind(console);
console.info = console.error.bind(console);
require('pouchdb-server');

const url = `http://127.0.0.1:${port}`;
const deadline = Date.now() + 30_000;
for (;;) {
  try {
    const response = await fetch(`${url}/`);
    const body = await response.json();
    if (response.ok && body['express-pouchdb']) break;
  } catch {
    // Not listening yet.
  }
  if (Date.now() > deadline) {
    console.error(`pouchdb-server did not answer on ${url} within 30 s`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
say(`listening on ${url}`);
