// The app shell in a real browser against the real server: language, offline start,
// installability, and a new build reaching the user.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join } from 'node:path';
import {
  deploy,
  eventually,
  newBrowser,
  scratchDir,
  signIn,
  startServer,
  trunkBuild,
  suiteServer,
  waitForServiceWorker,
  withPage,
} from './harness.mjs';

const INSPECTOR = { name: 'ines.inspectora', password: 'selva verde 2026', role: 'inspector', regions: ['madre-de-dios'] };

describe('the PWA shell', () => {
  const server = suiteServer({ users: [INSPECTOR], dbs: ['madre-de-dios'] });

  test('speaks Spanish by default', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await page.locator('#login-title').waitFor();
      assert.match(await page.locator('#login-title').innerText(), /Iniciar sesión/);
      assert.equal(await page.getAttribute('html', 'lang'), 'es');
      await signIn(page, INSPECTOR);
      await page.locator('#inspections-empty').waitFor();
      assert.match(await page.locator('#inspections-empty').innerText(), /Todavía no hay inspecciones/);
      assert.match(await page.locator('header').innerText(), /Chaski/);
      assert.match(await page.locator('#net-status').innerText(), /En línea/);
      assert.equal(await page.getAttribute('#net-status', 'data-online'), 'true');
    });
  });

  test('switching to English changes the text and survives a reload', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#nav-settings').click();
      await page.locator('#lang-select').selectOption('en');
      await page.locator('#nav-home').click();
      const empty = page.locator('#inspections-empty');
      await empty.waitFor();
      assert.doesNotMatch(await empty.innerText(), /Todavía/);
      assert.match(await empty.innerText(), /inspections/i);
      assert.equal(await page.getAttribute('html', 'lang'), 'en');

      await page.reload();
      await empty.waitFor();
      assert.match(await empty.innerText(), /inspections/i);
      assert.doesNotMatch(await empty.innerText(), /Todavía/);
      assert.match(await page.locator('#net-status').innerText(), /Online/);
    });
  });

  test('a reload with the network cut still opens the app for a signed-in inspector', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#inspections-empty').waitFor();
      await waitForServiceWorker(page);

      // Data is never answered from the shell's cache: offline, a request for it must fail
      // rather than return a stale copy.
      const online = await page.evaluate(() => fetch('/api/health').then((r) => r.status));
      assert.equal(online, 200);

      await browser.context.setOffline(true);
      const offline = await page.evaluate(() => fetch('/api/health').then((r) => r.status, () => 'failed'));
      assert.equal(offline, 'failed');
      await page.reload();
      await page.locator('#signed-in-as').waitFor();
      await page.locator('#inspections-empty').waitFor();
      assert.match(await page.locator('#inspections-empty').innerText(), /Todavía no hay inspecciones/);
      await page.locator('#net-status[data-online="false"]').waitFor();
      assert.match(await page.locator('#net-status').innerText(), /Sin conexión/);

      // A client route opened for the first time while offline is served too.
      await page.goto(`${server().url}/settings`);
      await page.locator('#lang-select').waitFor();

      await browser.context.setOffline(false);
      await page.locator('#net-status[data-online="true"]').waitFor();
    });
  });

  test('Chromium finds the app installable', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await page.locator('#login-title').waitFor();
      await waitForServiceWorker(page);
      const cdp = await browser.context.newCDPSession(page);
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      assert.deepEqual(installabilityErrors, []);
      const manifest = await cdp.send('Page.getAppManifest');
      assert.deepEqual(manifest.errors, []);
    });
  });
});

describe('deploying a new build', () => {
  test('an online reload shows the new version, and offline keeps working', async () => {
    const server = await startServer();
    const browser = await newBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(server.url);
      const version = page.locator('#app-version');
      await version.waitFor();
      await waitForServiceWorker(page);
      const before = await version.innerText();
      const oldCaches = await page.evaluate(() => caches.keys());
      assert.equal(oldCaches.length, 1, `one cache per build: ${oldCaches}`);

      const note = `rebuild-${Date.now()}`;
      const nextDist = join(scratchDir('dist-next'), 'dist');
      trunkBuild(nextDist, { CHASKI_BUILD_NOTE: note });
      assert.doesNotMatch(before, new RegExp(note));
      deploy(nextDist, server.staticDir);

      await page.reload();
      // A debug server on a loaded 2-core machine: generous, but a stuck cache still fails.
      await page.locator('#app-version', { hasText: note }).waitFor({ timeout: 45_000 });

      // The worker of the new build replaces the old cache with its own, which keeps the new
      // build for offline use.
      await eventually(
        async () => {
          const keys = await page.evaluate(() => caches.keys());
          return keys.length === 1 && !oldCaches.includes(keys[0]);
        },
        60_000,
        'the new build to replace the old cache',
      );
      await browser.context.setOffline(true);
      await page.reload();
      await page.locator('#app-version', { hasText: note }).waitFor({ timeout: 15_000 });
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});
