// An HTTPS front for a local HTTP server, as a national office's TLS proxy would be, for the
// relay's TLS test (server/tests/relay.rs): requests are passed through as they are, streamed.
//
//   node tests/e2e/tls-proxy.mjs LISTEN_PORT TARGET_PORT CERT_PEM KEY_PEM
//
// Prints `listening on https://127.0.0.1:LISTEN_PORT` once it serves.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [listenPort, targetPort, certPath, keyPath] = process.argv.slice(2);
if (!listenPort || !targetPort || !certPath || !keyPath) {
  console.error('usage: node tests/e2e/tls-proxy.mjs LISTEN_PORT TARGET_PORT CERT_PEM KEY_PEM');
  process.exit(2);
}

const server = https.createServer(
  { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) },
  (req, res) => {
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: Number(targetPort),
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream failed: ${err.message}`);
    });
    req.pipe(upstream);
  },
);
server.listen(Number(listenPort), '127.0.0.1', () => {
  console.log(`listening on https://127.0.0.1:${listenPort}`);
});
