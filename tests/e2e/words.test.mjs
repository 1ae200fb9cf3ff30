// What the inspector's app says, checked in a real browser: counts in the singular and plural,
// the review naming the indicator a problem belongs to, each evidence box naming its indicator,
// and the last successful sync still shown after a restart with no network.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, signIn, suiteServer, waitForServiceWorker, withPage } from './harness.mjs';

const INSPECTOR = { name: 'rosa.inspectora', password: 'rio tambopata 2026', role: 'inspector', regions: ['madre-de-dios'] };
const DB = 'madre-de-dios';

describe('the words of the inspector app', () => {
  const server = suiteServer({ users: [INSPECTOR], dbs: [DB] });

  test('the review counts in the singular and names the indicator of each problem', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-indicators-debt-bondage-seen').check();
      // Every evidence box says whose it is, to the eye and to a screen reader.
      const evidence = page.locator('#f-indicators-debt-bondage-evidence');
      assert.match(await page.locator('label[for="f-indicators-debt-bondage-evidence"]').innerText(), /Servidumbre por deudas/);
      assert.match(await evidence.evaluate((el) => el.labels[0].textContent), /Servidumbre por deudas/);
      await page.locator('#person-add').click();
      await page.locator('#review-inspection').click();
      const counts = await page.locator('#summary-counts').innerText();
      assert.match(counts, /1 indicador observado · 1 persona · 0 fotos/, counts);
      const problems = (await page.locator('#summary-problems li').allInnerTexts()).join('\n');
      assert.match(problems, /Servidumbre por deudas — Cuándo/, problems);
    });
  });

  test('the last successful sync is still shown after reopening the app offline', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await waitForServiceWorker(page);
      await page.locator('#sync-last', { hasText: 'Última sincronización' }).waitFor({ timeout: 60_000 });
      const before = await page.locator('#sync-last').innerText();

      await browser.context.setOffline(true);
      await page.reload();
      await page.locator('#sync-status').waitFor();
      assert.equal(await page.locator('#sync-last').innerText(), before);
    });
  });

  test('a panic kept on the device is listed in the settings and reaches the server with the next sync', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      // What the panic hook writes (a real panic aborts the module, which the harness's guard
      // treats as a failure).
      await page.evaluate(() => localStorage.setItem('chaski.client-errors', JSON.stringify([
        { at_ms: Date.now(), message: 'prueba de pánico', location: 'client/src/pages/inspection.rs:1:1', version: '0.1.0', sent: false },
      ])));
      await page.locator('#nav-settings').click();
      await page.locator('#client-errors .client-error', { hasText: 'prueba de pánico' }).waitFor();
      await page.locator('#nav-home').click();
      await page.locator('#sync-now').click();
      await eventually(() => server().log().includes('prueba de pánico'), 30_000, 'the report in the server log');
      await eventually(
        () => page.evaluate(() => JSON.parse(localStorage.getItem('chaski.client-errors'))[0].sent),
        10_000,
        'the entry marked sent',
      );
      await page.locator('#nav-settings').click();
      await page.locator('#client-errors .client-error[data-sent="true"]').waitFor();
    });
  });

  test('a field shows its message once it is left, a field not reached yet stays quiet, and the list shows the visit date', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill('Chacra Mazuko');
      await page.locator('#f-workers-total').fill('-2');
      assert.equal(await page.locator('#f-workers-total-error').count(), 0, 'quiet while typing');
      await page.locator('#f-workers-women').focus();
      await page.locator('#f-workers-total-error').waitFor();

      // Latitude typed and left: longitude, required with it, says nothing until it is left.
      await page.locator('#f-gps-lat').fill('-12.5');
      await page.locator('#f-district').focus();
      assert.equal(await page.locator('#f-gps-lon-error').count(), 0);
      await page.locator('#f-gps-lon').focus();
      await page.locator('#f-district').focus();
      await page.locator('#f-gps-lon-error').waitFor();
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 10_000 });

      await page.locator('#nav-home').click();
      const row = page.locator('.inspection-row', { hasText: 'Chacra Mazuko' });
      assert.match(await row.locator('.row-visit').innerText(), /^Visita: \d{4}-\d\d-\d\d \d\d:\d\d$/);
      assert.match(await row.locator('.row-edited').innerText(), /^editada \d{4}-\d\d-\d\d \d\d:\d\d$/);
    });
  });

  test('a record saved while online reaches the server a few seconds later, without waiting for the periodic sync', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      // The sync at sign-in is over: the next periodic one is 20 s away.
      await page.locator('#sync-last', { hasText: 'Última sincronización' }).waitFor({ timeout: 60_000 });
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill('Castañal Alerta');
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 10_000 });
      const saved = Date.now();
      await page.locator('#nav-home').click();
      await page.locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Castañal Alerta' }).waitFor({ timeout: 30_000 });
      // 3 s of quiet, then one run; generous for a loaded machine, yet well short of the poll.
      assert.ok(Date.now() - saved < 14_000, `synced ${Date.now() - saved} ms after the save`);
    });
  });
});
