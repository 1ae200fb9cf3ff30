// An inspector who works in two departments, and what signing out leaves on the tablet.
//
// Each region has its own database on the server and on the device. The inspector picks the
// working region at the top; a record written in one region still reaches the server after the
// inspector has switched to the other. Signing out erases the inspector's local databases.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basic, cli, eventually, signIn, suiteServer, waitForServiceWorker, withPage } from './harness.mjs';

const INSPECTOR = {
  name: 'rosa.inspectora',
  password: 'dos regiones 2026',
  role: 'inspector',
  regions: ['madre-de-dios', 'cusco'],
};
const ANOTHER = { name: 'otro.inspector', password: 'otra cuenta 2026', role: 'inspector', regions: ['cusco'] };

async function newInspection(page, site) {
  await page.locator('#nav-home').click();
  await page.locator('#new-inspection').click();
  await page.locator('#inspection-form').waitFor();
  await page.locator('#f-site-name').fill(site);
  await page.locator('#f-sector').selectOption('logging');
  await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 10_000 });
  return page.locator('#f-region').inputValue();
}

async function serverSites(server, db) {
  const auth = { authorization: basic(INSPECTOR.name, INSPECTOR.password) };
  const all = await (await fetch(`${server.url}/db/${db}/_all_docs?include_docs=true`, { headers: auth })).json();
  return all.rows.map((r) => r.doc.site_name).filter(Boolean).sort();
}

async function localDatabases(page) {
  return page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).sort());
}

describe('an inspector with two regions', () => {
  const server = suiteServer({ users: [INSPECTOR, ANOTHER], dbs: INSPECTOR.regions });

  test('records go to the working region, and one left in the other region still syncs', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#inspections-empty').waitFor();
      await waitForServiceWorker(page);
      // The server lists a user's regions in department order: Cusco comes first.
      assert.equal(await page.locator('#working-region').inputValue(), 'cusco');
      await page.locator('#working-region').selectOption('madre-de-dios');
      await page.locator('#inspections-empty').waitFor();

      // Offline in Madre de Dios, then the inspector moves on to Cusco.
      await browser.context.setOffline(true);
      assert.equal(await newInspection(page, 'Aserradero Tahuamanu'), 'madre-de-dios');
      await page.locator('#region-hint').waitFor();
      await page.locator('#working-region').selectOption('cusco');
      await page.locator('#inspections-empty').waitFor();
      assert.equal(await newInspection(page, 'Mina Ananea'), 'cusco');
      await page.locator('#nav-home').click();
      assert.deepEqual(await page.locator('.inspection-row .row-site').allInnerTexts(), ['Mina Ananea']);
      // Both records wait, and the strip counts them both.
      await eventually(async () => (await page.locator('#sync-pending').getAttribute('data-count')) === '2', 10_000, 'two pending');

      // The network returns: each record reaches its own region's database.
      await browser.context.setOffline(false);
      await eventually(async () => (await serverSites(server(), 'cusco')).includes('Mina Ananea'), 60_000, 'the Cusco record on the server');
      await eventually(async () => (await serverSites(server(), 'madre-de-dios')).includes('Aserradero Tahuamanu'), 60_000, 'the Madre de Dios record on the server');
      assert.deepEqual(await serverSites(server(), 'cusco'), ['Mina Ananea']);
      assert.deepEqual(await serverSites(server(), 'madre-de-dios'), ['Aserradero Tahuamanu']);

      // Back in Madre de Dios, its list shows its own record, synced.
      await page.locator('#working-region').selectOption('madre-de-dios');
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Aserradero Tahuamanu' }).waitFor({ timeout: 30_000 });
      assert.equal(await page.locator('.inspection-row').count(), 1);

      // Offline again, one more record in Cusco: back in Madre de Dios, the strip counts it
      // while this region's own record still shows as synced.
      await eventually(async () => (await page.locator('#sync-pending').getAttribute('data-count')) === '0', 30_000, 'nothing pending');
      await browser.context.setOffline(true);
      await page.locator('#working-region').selectOption('cusco');
      await page.locator('.inspection-row', { hasText: 'Mina Ananea' }).waitFor();
      await newInspection(page, 'Socavón Limbani');
      await page.locator('#working-region').selectOption('madre-de-dios');
      await page.locator('.inspection-row', { hasText: 'Aserradero Tahuamanu' }).waitFor();
      await eventually(async () => (await page.locator('#sync-pending').getAttribute('data-count')) === '1', 10_000, 'one pending in Cusco');
      assert.equal(await page.locator('.inspection-row', { hasText: 'Aserradero Tahuamanu' }).getAttribute('data-sync-state'), 'synced');
      await browser.context.setOffline(false);
      await eventually(async () => (await serverSites(server(), 'cusco')).length === 2, 60_000, 'the second Cusco record on the server');

      // The choice survives a reload.
      await page.reload();
      await page.locator('.inspection-row', { hasText: 'Aserradero Tahuamanu' }).waitFor();
      assert.equal(await page.locator('#working-region').inputValue(), 'madre-de-dios');
    });
  });

  test('signing out erases the inspector\'s local databases and no one else\'s', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      // Another inspector used this tablet before, and their records stay theirs.
      await signIn(page, ANOTHER);
      await newInspection(page, 'Chacra Quellouno');
      await page.locator('#nav-home').click();
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Chacra Quellouno' }).waitFor({ timeout: 60_000 });
      await page.locator('#logout').click();
      await page.locator('#login-name').waitFor();
      await eventually(async () => !(await localDatabases(page)).some((n) => n.startsWith(`chaski-${ANOTHER.name}-`)), 10_000, 'the first inspector\'s databases to go');

      await signIn(page, INSPECTOR);
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Mina Ananea' }).waitFor({ timeout: 60_000 });
      const mine = (await localDatabases(page)).filter((n) => n.startsWith(`chaski-${INSPECTOR.name}-`));
      assert.ok(mine.length >= 1, `the inspector's databases exist: ${mine}`);

      // A record typed a moment before "sign out" is counted even though the strip has not
      // seen it yet: the confirmation is asked, and cancelling keeps it.
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill('Escrito a última hora');
      await page.locator('#logout').click();
      await page.locator('#logout-dialog').waitFor({ timeout: 10_000 });
      assert.match(await page.locator('#logout-warning').innerText(), /\b1\b/);
      await page.locator('#logout-cancel').click();
      await page.locator('#nav-home').click();
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Escrito a última hora' }).waitFor({ timeout: 60_000 });

      // Everything is on the server, so no confirmation is asked: the databases simply go.
      await eventually(async () => (await page.locator('#sync-pending').getAttribute('data-count')) === '0', 30_000, 'nothing pending');
      await page.locator('#logout').click();
      await page.locator('#login-name').waitFor();
      await eventually(async () => !(await localDatabases(page)).some((n) => n.startsWith(`chaski-${INSPECTOR.name}-`)), 10_000, 'the inspector\'s databases to go');

      // Signed in again, the records come back from the server.
      await signIn(page, INSPECTOR);
      await page.locator('.inspection-row', { hasText: 'Mina Ananea' }).waitFor({ timeout: 60_000 });
    });
  });
});

const LUIS = { name: 'luis.inspector', password: 'una region 2026', role: 'inspector', regions: ['ucayali'] };

describe('a profile changed at the office', () => {
  const server = suiteServer({ users: [LUIS], dbs: ['ucayali', 'loreto'] });

  test('a region the office adds or takes away reaches the tablet at its next connection, and no record is erased unseen', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await signIn(page, LUIS);
      await waitForServiceWorker(page);
      await newInspection(page, 'Aserradero Masisea');
      await page.locator('#nav-home').click();
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Aserradero Masisea' }).waitFor({ timeout: 60_000 });
      assert.equal(await page.locator('#working-region').count(), 0);

      // The office adds Loreto (the command line needs the server stopped, as in an office).
      await server().restart((dataDir) => cli(dataDir, ['user', 'regions', LUIS.name, 'ucayali', 'loreto']));
      await page.reload();
      await page.locator('#working-region').waitFor({ timeout: 20_000 });
      assert.deepEqual(await page.locator('#working-region option').evaluateAll((os) => os.map((o) => o.value)), ['loreto', 'ucayali']);
      // Still signed in, the same records there.
      await page.locator('.inspection-row', { hasText: 'Aserradero Masisea' }).waitFor();
      await page.locator('#working-region').selectOption('loreto');
      assert.equal(await newInspection(page, 'Chacra Nauta'), 'loreto');
      await eventually(async () => {
        const auth = { authorization: basic(LUIS.name, LUIS.password) };
        const all = await (await fetch(`${server().url}/db/loreto/_all_docs?include_docs=true`, { headers: auth })).json();
        return all.rows?.some((r) => r.doc.site_name === 'Chacra Nauta');
      }, 60_000, 'the Loreto record on the server');

      // Offline, one more in Loreto; then the office takes Loreto away. Its record can no
      // longer reach the server, and signing out still counts it: the confirmation is asked.
      // (First the run that sent the last record checkpoints it: until then it counts as unsent.)
      await eventually(async () => (await page.locator('#sync-pending').getAttribute('data-count')) === '0', 30_000, 'nothing pending');
      await browser.context.setOffline(true);
      await newInspection(page, 'Huerto Santa Clara');
      await server().restart((dataDir) => cli(dataDir, ['user', 'regions', LUIS.name, 'ucayali']));
      await browser.context.setOffline(false);
      await page.reload();
      await eventually(async () => (await page.locator('#working-region').count()) === 0, 20_000, 'the profile without Loreto');
      await page.locator('#nav-home').click();
      await page.locator('.inspection-row', { hasText: 'Aserradero Masisea' }).waitFor({ timeout: 20_000 });
      // The list no longer shows Loreto, so it says in words that one record waits there.
      const orphaned = page.locator('.orphaned[data-region="loreto"]');
      await orphaned.waitFor({ timeout: 10_000 });
      assert.match(await orphaned.innerText(), /^1 .*Loreto/);
      await page.locator('#logout').click();
      await page.locator('#logout-dialog').waitFor({ timeout: 10_000 });
      assert.match(await page.locator('#logout-warning').innerText(), /\b1\b/);
      await page.locator('#logout-cancel').click();
    });
  });
});

describe('storage safety', () => {
  const server = suiteServer({ users: [ANOTHER], dbs: ['cusco'] });

  test('the settings say whether the browser keeps the data and how much is used', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, ANOTHER);
      // Asked at sign-in; headless Chromium refuses, and the list says so in words.
      const granted = await page.evaluate(() => navigator.storage.persisted());
      if (!granted) {
        await page.locator('#storage-warning').waitFor({ timeout: 10_000 });
        // A notice, not an alarm, and it can be put away for a day.
        assert.equal(await page.locator('#storage-warning').getAttribute('role'), 'status');
        // The one action that helps: install the app (then it asks again). The browser's offer
        // is kept for the notice's button; here a stand-in for it.
        await page.evaluate(() => {
          const offer = new Event('beforeinstallprompt', { cancelable: true });
          offer.prompt = () => { window.installPrompted = true; return Promise.resolve(); };
          offer.userChoice = Promise.resolve({ outcome: 'accepted' });
          window.dispatchEvent(offer);
        });
        await page.locator('#storage-install').click();
        assert.equal(await page.evaluate(() => window.installPrompted), true);
        assert.equal(await page.locator('#storage-install').count(), 0);
        await page.locator('#storage-warning-hide').click();
        assert.equal(await page.locator('#storage-warning').count(), 0);
        await page.reload();
        await page.locator('#new-inspection').waitFor();
        await page.waitForTimeout(1_000);
        assert.equal(await page.locator('#storage-warning').count(), 0, 'still hidden after a reload');
      }
      await page.locator('#nav-settings').click();
      const state = page.locator('#storage-persistent:not([data-persistent="unknown"])');
      await state.waitFor({ timeout: 10_000 });
      const persistent = await state.getAttribute('data-persistent');
      const text = await state.innerText();
      assert.equal(persistent, String(granted));
      if (persistent === 'true') {
        assert.equal(await page.locator('#storage-persist').count(), 0);
      } else {
        // Refused: said in words, with a way to ask again.
        assert.match(text, /borrar|eliminar|espacio|persist/i, text);
        await page.locator('#storage-persist').waitFor();
      }
      assert.match(await page.locator('#storage-usage').innerText(), /\d+(\.\d)? (B|KB|MB|GB)/);
    });
  });
});
