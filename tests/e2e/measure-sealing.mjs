// The seal module's size and the cost of sealing on the tablet (issue 11): what a tablet
// downloads after sign-in besides the first load (the seal module, not precached), and how long
// the module takes, in headless Chromium, to seal identities and photos as the app does.
//
//   node tests/e2e/measure-sealing.mjs      (after `trunk build --release` and `cargo build`)
//
// Prints figures; asserts nothing about time (machines differ).

import { printSizes, cli, eventually, newBrowser, signIn, startServer } from './harness.mjs';

const INSPECTOR = { name: 'ines.inspectora', password: 'selva verde 2026', role: 'inspector', regions: ['madre-de-dios'] };
const DB = 'madre-de-dios';
const IDENTITIES = Number(process.env.CHASKI_SEAL_IDENTITIES ?? 100);
const PHOTOS = Number(process.env.CHASKI_SEAL_PHOTOS ?? 20);

const server = await startServer({ users: [INSPECTOR], dbs: [DB] });
await server.restart((dataDir) =>
  cli(dataDir, ['keys', 'create', '--region', DB], { CHASKI_KEY_PASSPHRASE: 'tortuga charapa duerme bajo aguaje morado' }));
const browser = await newBrowser();
try {
  const fetched = new Set();
  browser.context.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/sealer')) fetched.add(path);
  });
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await signIn(page, INSPECTOR);
  // The module is its JS glue and its wasm: wait for both by name, not for a count of requests.
  await eventually(() => fetched.has('/sealer.js') && [...fetched].some((u) => /^\/sealer-[0-9a-f]+_bg\.wasm$/.test(u)),
    30_000, 'the seal module (/sealer.js and its _bg.wasm) fetched after sign-in');

  console.log('The seal module, fetched after sign-in (not part of the first load):');
  await printSizes(server.url, fetched, 40);

  const figures = await page.evaluate(async ({ identities, photos }) => {
    const key = JSON.parse(localStorage.getItem('chaski.session')).user.seal_keys[0];
    // The app itself imported the module after sign-in: this is the same instance.
    const m = await import('/sealer.js');
    await m.default();
    // The seven fields, in the order the module takes them (as the app passes them).
    const identity = ['Yesenia Milagros', 'Huamantica Ccori', 'dni', '47158236', '987650123',
      'Comunidad Nativa Shintuya', 'Refiere que le retienen el DNI desde hace tres meses.'];
    const doc = 'inspection:20261201T120000Z-0011223344556677';
    let started = performance.now();
    for (let i = 0; i < identities; i++) {
      m.seal_identity(key.public_key_b64, key.key_id, doc, `P-${String(i + 1).padStart(3, '0')}`, ...identity);
    }
    const perIdentity = (performance.now() - started) / identities;
    // A photo as the app keeps it: about 120 KB of JPEG.
    const jpeg = new Uint8Array(120 * 1024);
    crypto.getRandomValues(jpeg.subarray(0, 65536));
    crypto.getRandomValues(jpeg.subarray(65536));
    started = performance.now();
    for (let i = 0; i < photos; i++) m.seal_photo(key.public_key_b64, key.key_id, doc, `photo-${i}.sealed`, jpeg);
    const perPhoto = (performance.now() - started) / photos;
    return { perIdentity, perPhoto };
  }, { identities: IDENTITIES, photos: PHOTOS });
  console.log(`seal one identity (mean of ${IDENTITIES}, all seven fields)             ${figures.perIdentity.toFixed(2).padStart(7)} ms`);
  console.log(`seal one 120 KB photo (mean of ${PHOTOS})                              ${figures.perPhoto.toFixed(2).padStart(7)} ms`);
} finally {
  await browser.close();
  await server.stop();
}
