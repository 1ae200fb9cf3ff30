// Nothing in clear on the tablet (issue 11 §2): an inspector records a person's name and
// identity number and a photo that shows people; the device's raw storage (every IndexedDB
// database, object store and record, localStorage, sessionStorage, Cache Storage) holds neither
// the name, nor the number, nor a JPEG. Sealing works offline after a reload (the seal module,
// fetched after sign-in, is in the service worker's cache), and the server accepts what the
// tablet sealed. Until the region has a key, the identity fields say why they are disabled.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { basic, canvasJpeg, cli, deploy, eventually, scratchDir, signIn, suiteServer, waitForServiceWorker, withPage } from './harness.mjs';
import { ALG, ENVELOPE_MAGIC, SEALED_CONTENT_TYPE } from './hpke.mjs';

const INSPECTOR = { name: 'ines.inspectora', password: 'selva verde 2026', role: 'inspector', regions: ['madre-de-dios'] };
const DB = 'madre-de-dios';
const PASSPHRASE = 'tortuga charapa duerme bajo aguaje morado';

// What the inspector types: none of it may reach the device's storage in clear.
const FIRST = {
  given: 'Yesenia Milagros', family: 'Huamantica Ccori', number: '47158236',
  phone: '987650123', address: 'Comunidad Nativa Shintuya',
};
const SECOND = { given: 'Wilmer Anacleto', family: 'Chimboras Tuesta', number: '70914482' };
const SECRETS = [FIRST.given, FIRST.family, FIRST.number, FIRST.phone, FIRST.address,
  SECOND.given, SECOND.family, SECOND.number];

/**
 * Everything the origin keeps, read raw in the page: every IndexedDB database, store, key and
 * value (binary values as latin1 text, so bytes can be searched), both web storages, and the
 * body of every Cache Storage entry. Returns `{text, binaries}`: all text joined, and the list of
 * binary values (as latin1 strings) with where they were found.
 */
async function dumpDevice(page) {
  return page.evaluate(async () => {
    const parts = [];
    const binaries = [];
    const latin1 = (bytes) => {
      let s = '';
      for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
      return s;
    };
    const walk = async (value, where) => {
      if (value === null || value === undefined) return;
      if (typeof value === 'string') { parts.push(value); return; }
      if (typeof value !== 'object') { parts.push(String(value)); return; }
      if (value instanceof Blob) value = new Uint8Array(await value.arrayBuffer());
      if (value instanceof ArrayBuffer) value = new Uint8Array(value);
      if (ArrayBuffer.isView(value)) {
        const text = latin1(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        binaries.push({ where, text });
        parts.push(text);
        return;
      }
      if (Array.isArray(value)) { for (const [i, v] of value.entries()) await walk(v, `${where}[${i}]`); return; }
      for (const [k, v] of Object.entries(value)) { parts.push(k); await walk(v, `${where}.${k}`); }
    };
    const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const databases = await indexedDB.databases();
    const stores = [];
    for (const { name } of databases) {
      const db = await request(indexedDB.open(name));
      for (const storeName of db.objectStoreNames) {
        const tx = db.transaction(storeName, 'readonly');
        const store = tx.objectStore(storeName);
        const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
        stores.push(`${name}/${storeName}: ${values.length}`);
        for (let i = 0; i < values.length; i++) {
          await walk(keys[i], `${name}/${storeName}#key${i}`);
          await walk(values[i], `${name}/${storeName}#${i}`);
        }
      }
      db.close();
    }
    for (const storage of [localStorage, sessionStorage]) {
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i);
        parts.push(key, storage.getItem(key));
      }
    }
    for (const cacheName of await caches.keys()) {
      const cache = await caches.open(cacheName);
      for (const req of await cache.keys()) {
        const res = await cache.match(req);
        await walk(new Uint8Array(await res.arrayBuffer()), `cache ${cacheName} ${req.url}`);
      }
    }
    return { text: parts.join('\n'), binaries, stores };
  });
}

/** Fails if anything typed is on the device in clear, as UTF-8 or as UTF-16. */
function assertNoSecretInClear(dump, secrets) {
  for (const secret of secrets) {
    assert.ok(!dump.text.includes(secret), `"${secret}" is on the device in clear`);
    // Also as UTF-16 (a string stored by a structured clone may be two bytes per character).
    const utf16 = [...secret].map((c) => `${c}\0`).join('');
    assert.ok(!dump.text.includes(utf16), `"${secret}" is on the device in clear (UTF-16)`);
  }
}

/** Fails if any JPEG is on the device in clear: as bytes, base64 or a data URL. */
function assertNoJpegInClear(dump) {
  for (const { where, text } of dump.binaries) {
    assert.ok(!text.startsWith('\xff\xd8\xff'), `a JPEG is on the device in clear: ${where}`);
  }
  // Every JPEG the browser's canvas encodes has a JFIF header; base64 JPEGs start with /9j/.
  assert.ok(!dump.text.includes('JFIF'), 'JPEG bytes are on the device in clear');
  assert.ok(!dump.text.includes('/9j/'), 'a base64 JPEG is on the device in clear');
  // (The app's own code, in Cache Storage, names "data:image/jpeg;base64," itself.)
  assert.ok(!/data:image\/jpeg;base64,[A-Za-z0-9+/]/.test(dump.text), 'a JPEG data URL is on the device');
}

async function typeIdentity(page, i, who) {
  await page.locator(`#identity-${i}-given-names`).fill(who.given);
  await page.locator(`#identity-${i}-family-names`).fill(who.family);
  await page.locator(`#identity-${i}-document-type`).selectOption('dni');
  await page.locator(`#identity-${i}-document-number`).fill(who.number);
  if (who.phone) await page.locator(`#identity-${i}-phone`).fill(who.phone);
  if (who.address) await page.locator(`#identity-${i}-address`).fill(who.address);
}

/**
 * Waits until the service worker holds the seal module (the JS glue and its wasm): in the
 * cache named `only` when given, else in any.
 */
async function sealModuleCached(page, only) {
  await eventually(() => page.evaluate(async (only) => {
    const urls = [];
    for (const name of only ? [only] : await caches.keys()) {
      for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
    }
    return urls.includes('/sealer.js') && urls.some((u) => /^\/sealer-[0-9a-f]+_bg\.wasm$/.test(u));
  }, only), 30_000, `the seal module in the service worker cache ${only ?? ''}`);
}

/**
 * Deploys "a new build" to `server`: the same files with a different build string in sw.js,
 * which is all the browser needs to install a new worker with a new cache (a real second Trunk
 * build takes minutes; the worker's install and activate run the same either way). Returns
 * the new cache's name.
 */
function deployNewWorker(server) {
  const next = join(scratchDir('dist-next'), 'dist');
  deploy(server.staticDir, next);
  const sw = join(next, 'sw.js');
  const build = `next${Date.now()}`;
  const text = readFileSync(sw, 'utf8');
  const changed = text.replace(/const BUILD\s*=\s*"[^"]*"/, `const BUILD = "${build}"`);
  assert.notEqual(changed, text, 'sw.js names its build');
  writeFileSync(sw, changed);
  deploy(next, server.staticDir);
  return `chaski-shell-${build}`;
}

describe('identities and photos of people on the tablet', () => {
  const server = suiteServer({ users: [INSPECTOR], dbs: [DB] });

  test('are sealed before they are stored, offline too, and the server takes them', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#inspections-empty').waitFor();
      await waitForServiceWorker(page);
      // The first load does not fetch the seal module; sign-in does (it is not precached).
      await sealModuleCached(page);

      // No key for the region yet: the identity fields are disabled and say why.
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill('Campamento Shintuya');
      await page.locator('#person-add').click();
      await page.locator('#identity-0-blocked').waitFor();
      assert.match(await page.locator('#identity-0-blocked').innerText(), /clave de sellado/);
      assert.equal(await page.locator('#identity-0-given-names').isDisabled(), true);
      assert.equal(await page.locator('#identity-0-seal').isDisabled(), true);
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });
      const recordUrl = page.url();

      // The office creates the region's key; the tablet receives it at its next connection.
      await server().restart((dataDir) =>
        cli(dataDir, ['keys', 'create', '--region', DB], { CHASKI_KEY_PASSPHRASE: PASSPHRASE }));
      await page.goto(recordUrl);
      await page.locator('#inspection-form').waitFor();
      await page.locator('#identity-0-blocked').waitFor({ state: 'detached', timeout: 20_000 });
      const keyId = await page.evaluate(() => JSON.parse(localStorage.getItem('chaski.session')).user.seal_keys[0].key_id);
      assert.match(keyId, /^madre-de-dios-[0-9a-f]{16}$/);

      // A name and a DNI number, sealed.
      await typeIdentity(page, 0, FIRST);
      await page.locator('#identity-0-seal').click();
      await page.locator('#identity-0-sealed').waitFor();
      assert.equal(await page.locator('#identity-0-given-names').count(), 0, 'the inputs are gone');
      assert.match(await page.locator('#identity-0-sealed').innerText(), /Identidad sellada/);
      // "Replace" shows empty inputs: the sealed identity is never shown again.
      await page.locator('#identity-0-replace').click();
      assert.equal(await page.locator('#identity-0-given-names').inputValue(), '');
      await page.locator('#identity-0-cancel').click();
      await page.locator('#identity-0-sealed').waitFor();

      // A photo that shows people (the switch is on by default): sealed, a placeholder shows.
      assert.equal(await page.locator('#photo-shows-people').isChecked(), true);
      const photo = await canvasJpeg(page, { width: 1600, height: 1200, quality: 0.9, patches: 2000 });
      await page.locator('#photo-input').setInputFiles({ name: 'personas.jpg', mimeType: 'image/jpeg', buffer: photo });
      await page.locator('.photo-thumb .photo-sealed').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('.photo-thumb img').count(), 0);
      assert.equal(await page.locator('#photo-shows-people').isChecked(), true);
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });

      let dump = await dumpDevice(page);
      // The controls: the record, its sealed identity and its sealed photo are there…
      assert.ok(dump.text.includes('Campamento Shintuya'), `the record is stored: ${dump.stores.join(', ')}`);
      assert.ok(dump.text.includes(keyId) && dump.text.includes(ALG), 'the sealed identity is stored');
      assert.ok(dump.binaries.some((b) => b.text.startsWith(ENVELOPE_MAGIC)), 'the sealed photo is stored');
      // …and nothing in clear.
      assertNoSecretInClear(dump, SECRETS);
      assertNoJpegInClear(dump);

      // A new build is deployed and its worker replaces the old one (and its cache) while the
      // page stays open: the new cache holds the seal module, without the app asking again,
      // so sealing still works offline after the update.
      const newCache = deployNewWorker(server());
      await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r.update()));
      await eventually(async () => {
        const keys = await page.evaluate(() => caches.keys());
        return keys.length === 1 && keys[0] === newCache;
      }, 60_000, 'the new worker to replace the old cache');
      await sealModuleCached(page, newCache);

      // Offline, after a reload: the record opens, and another identity is sealed.
      await browser.context.setOffline(true);
      await page.reload();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#identity-0-sealed').waitFor();
      await page.locator('#person-add').click();
      await typeIdentity(page, 1, SECOND);
      await page.locator('#identity-1-seal').click();
      await page.locator('#identity-1-sealed').waitFor({ timeout: 20_000 });
      // A person typed and removed before sealing takes what was typed along: the next person
      // added (who gets the same code back, the removed one having been the last) starts empty.
      await page.locator('#person-add').click();
      const third = await page.locator('.person').nth(2).getAttribute('data-code');
      await page.locator('#identity-2-given-names').fill('Nombre Que Se Va');
      await page.locator(`.person[data-code="${third}"] > button`).click();
      await eventually(async () => (await page.locator('.person').count()) === 2, 5_000, 'the person removed');
      await page.locator('#person-add').click();
      assert.equal(await page.locator('.person').nth(2).getAttribute('data-code'), third);
      assert.equal(await page.locator('#identity-2-given-names').inputValue(), '', 'a removed person\'s typing is gone');
      await page.locator(`.person[data-code="${third}"] > button`).click();
      await eventually(async () => (await page.locator('.person').count()) === 2, 5_000, 'the person removed');
      await page.locator('#photo-input').setInputFiles({ name: 'otra.jpg', mimeType: 'image/jpeg', buffer: photo });
      await eventually(async () => (await page.locator('.photo-thumb .photo-sealed').count()) === 2, 20_000, 'a second sealed photo');
      // A photo of a place, with the switch turned off, stays a JPEG (shown).
      await page.locator('#photo-shows-people').uncheck();
      await page.locator('#photo-input').setInputFiles({ name: 'lugar.jpg', mimeType: 'image/jpeg', buffer: photo });
      await page.locator('.photo-thumb img').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('#photo-shows-people').isChecked(), true, 'the switch is on again after a capture');
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });
      dump = await dumpDevice(page);
      assert.ok(dump.text.includes('Campamento Shintuya'));
      // The photo of a place is the one JPEG allowed, so only the secrets' check applies whole.
      assertNoSecretInClear(dump, SECRETS);
      assert.equal(dump.binaries.filter((b) => b.text.startsWith(ENVELOPE_MAGIC)).length, 2, 'two sealed photos are stored');
      assert.equal(dump.binaries.filter((b) => b.text.startsWith('\xff\xd8\xff')).length, 1, 'only the photo of a place is a JPEG');

      // Back online: the record syncs, and the server took the sealed values as they are.
      await browser.context.setOffline(false);
      await page.locator('#nav-home').click();
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Campamento Shintuya' }).waitFor({ timeout: 60_000 });
      const auth = { authorization: basic(INSPECTOR.name, INSPECTOR.password) };
      const all = await (await fetch(`${server().url}/db/${DB}/_all_docs?include_docs=true`, { headers: auth })).json();
      const doc = all.rows.map((r) => r.doc).find((d) => d.site_name === 'Campamento Shintuya');
      assert.ok(doc, 'the record is on the server');
      assert.equal(doc.people.length, 2);
      for (const person of doc.people) {
        assert.equal(person.sealed.alg, ALG, person.code);
        assert.equal(person.sealed.recipient_key_id, keyId, person.code);
      }
      const sealedPhotos = doc.photos.filter((p) => p.shows_people);
      assert.equal(sealedPhotos.length, 2);
      for (const p of sealedPhotos) {
        assert.equal(doc._attachments[p.attachment].content_type, SEALED_CONTENT_TYPE, p.attachment);
      }
      const serverText = JSON.stringify(doc);
      for (const secret of SECRETS) assert.ok(!serverText.includes(secret), `"${secret}" is on the server in clear`);
    });
  });

  test('the identity fields speak English when the app does', async () => {
    await withPage(async (page) => {
      await page.goto(`${server().url}/settings`);
      await page.locator('#lang-select').selectOption('en');
      await page.goto(server().url);
      await signIn(page, INSPECTOR, 'tableta-2');
      await page.locator('#new-inspection').click();
      await page.locator('#person-add').click();
      await page.locator('#identity-0-seal').waitFor();
      assert.equal((await page.locator('#identity-0-seal').innerText()).trim(), 'Seal identity');
      assert.match(await page.locator('#identity-0 legend').innerText(), /Identity/);
    });
  });
});
