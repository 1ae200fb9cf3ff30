// The inspector's day in the field, in a real browser against the real server: sign in, lose
// the network, record an inspection with an indicator, a person found and a photo, reload with
// no network and find it intact, get the network back and see it reach the server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basic, canvasJpeg, eventually, newBrowser, signIn, suiteServer, waitForServiceWorker, withPage } from './harness.mjs';

const INSPECTOR = { name: 'ines.inspectora', password: 'selva verde 2026', role: 'inspector', regions: ['madre-de-dios'] };
const DB = 'madre-de-dios';
const SITE = 'Campamento La Pampa, km 108';

describe('an inspection recorded offline', () => {
  const server = suiteServer({ users: [INSPECTOR], dbs: [DB] });

  test('survives an offline reload and reaches the server when the network returns', async () => {
    await withPage(async (page, browser) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR);
      await page.locator('#inspections-empty').waitFor();
      await waitForServiceWorker(page);
      // A large JPEG straight from a tablet's camera.
      const photo = await canvasJpeg(page, { width: 2400, height: 1800, quality: 0.95, patches: 4000 });
      assert.ok(photo.length > 400_000, `the test photo is large (${photo.length} bytes)`);

      await browser.context.setOffline(true);
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill(SITE);
      await page.locator('#f-sector').selectOption('gold_mining');
      // The region is the database's: shown, not editable.
      assert.equal(await page.locator('#f-region').inputValue(), DB);
      assert.equal(await page.locator('#f-region').isDisabled(), true);
      await page.locator('#f-district').fill('Inambari');
      // The tablet's GPS, with its accuracy (geolocation works with no network).
      await browser.context.grantPermissions(['geolocation'], { origin: server().url });
      await browser.context.setGeolocation({ latitude: -12.8412, longitude: -69.9903, accuracy: 14 });
      await page.locator('#gps-get').click();
      await eventually(async () => (await page.locator('#f-gps-lat').inputValue()) === '-12.8412', 10_000, 'the GPS fix fills the latitude');
      assert.equal(await page.locator('#f-gps-lon').inputValue(), '-69.9903');
      assert.match(await page.locator('#gps-source').innerText(), /14/);
      await page.locator('#f-indicators-debt-bondage-seen').check();
      await page.locator('#f-indicators-debt-bondage-stages label[data-value="during_work"] input').check();
      await page.locator('#f-indicators-debt-bondage-evidence').fill('Cuaderno de deudas por comida y herramientas.');
      await page.locator('#person-add').click();
      await page.locator('#f-people-0-age-band').selectOption('14_17');
      await page.locator('#f-people-0-sex').selectOption('female');
      // A photo of the camp, not of people: kept as a JPEG (a photo of people is sealed; see
      // sealing.test.mjs).
      await page.locator('#photo-shows-people').uncheck();
      await page.locator('#photo-input').setInputFiles({ name: 'campamento.jpg', mimeType: 'image/jpeg', buffer: photo });
      await page.locator('.photo-thumb').first().waitFor({ timeout: 20_000 });
      // 1280 pixels on the long side at most (the camera's was 2400).
      const width = await page.locator('.photo-thumb img').first().evaluate((img) => img.naturalWidth);
      assert.ok(width <= 1280 && width >= 640, `photo width ${width}`);
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });

      // A reload with no network: the record is read back from IndexedDB, all of it.
      await page.reload();
      await page.locator('#inspection-form').waitFor();
      assert.equal(await page.locator('#f-site-name').inputValue(), SITE);
      assert.equal(await page.locator('#f-district').inputValue(), 'Inambari');
      assert.equal(await page.locator('#f-gps-lat').inputValue(), '-12.8412');
      assert.equal(await page.locator('#f-indicators-debt-bondage-seen').isChecked(), true);
      assert.equal(await page.locator('#f-people-0-age-band').inputValue(), '14_17');
      assert.equal(await page.locator('.photo-thumb').count(), 1);
      await page.locator('#nav-home').click();
      const row = page.locator('.inspection-row', { hasText: SITE });
      await row.waitFor();
      assert.equal(await row.getAttribute('data-sync-state'), 'local');

      // The network comes back: the record syncs by itself.
      await browser.context.setOffline(false);
      await page.locator(`.inspection-row[data-sync-state="synced"]`, { hasText: SITE }).waitFor({ timeout: 60_000 });

      // And the server holds it, photo included, as the inspector wrote it.
      const auth = { authorization: basic(INSPECTOR.name, INSPECTOR.password) };
      const all = await (await fetch(`${server().url}/db/${DB}/_all_docs?include_docs=true`, { headers: auth })).json();
      const doc = all.rows.map((r) => r.doc).find((d) => d.site_name === SITE);
      assert.ok(doc, `the inspection is on the server: ${JSON.stringify(all).slice(0, 500)}`);
      assert.equal(doc.sector, 'gold_mining');
      assert.equal(doc.region, DB);
      assert.deepEqual(doc.gps, { lat: -12.8412, lon: -69.9903, accuracy_m: 14 });
      assert.equal(doc.location_source, 'gps');
      assert.equal(doc.indicators.debt_bondage.seen, true);
      assert.deepEqual(doc.indicators.debt_bondage.stages, ['during_work']);
      assert.equal(doc.people.length, 1);
      assert.equal(doc.people[0].age_band, '14_17');
      const attachments = Object.values(doc._attachments ?? {});
      assert.equal(attachments.length, 1);
      assert.equal(attachments[0].content_type, 'image/jpeg');
      // Aimed at about 120 KB, never over the 200 KB limit.
      assert.ok(attachments[0].length <= 120 * 1024, `photo shrunk on the device: ${attachments[0].length} bytes`);
    });
  });

  test('the review names what is missing, and a submitted record is protected against accidental edits', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR, 'tableta-3');
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill('Bocatoma Huaypetue');

      // The review lists every gap by the label the inspector sees, linked to the field.
      await page.locator('#review-inspection').click();
      const problems = page.locator('#summary-problems li');
      await problems.first().waitFor();
      const listed = (await problems.allInnerTexts()).join('\n');
      for (const label of ['Sector', 'Distrito', 'Fin de la visita']) assert.match(listed, new RegExp(label), listed);
      assert.doesNotMatch(listed, /visit_end|workers\.total/, listed);
      assert.equal(await page.locator('#submit-inspection').isDisabled(), true);
      assert.equal(await page.locator('#summary-problems a', { hasText: 'Distrito' }).getAttribute('href'), '#f-district');

      // Completed, it can be submitted.
      await page.locator('#f-sector').selectOption('gold_mining');
      await page.locator('#f-district').fill('Huepetuhe');
      await page.locator('#f-visit-end').fill(new Date(Date.now() + 3_600_000).toISOString().slice(0, 16));
      for (const [id, n] of [['total', '3'], ['women', '1'], ['men', '2']]) await page.locator(`#f-workers-${id}`).fill(n);
      await page.locator('#summary-ready').waitFor();
      await page.locator('#submit-inspection').click();

      // Submitted: read only until the inspector says they mean to edit, which makes it a draft again.
      await page.locator('#readonly-banner').waitFor();
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });
      assert.equal(await page.locator('#f-district').isDisabled(), true);
      await page.reload();
      await page.locator('#readonly-banner').waitFor();
      assert.equal(await page.locator('#f-district').isDisabled(), true);
      await page.locator('#nav-home').click();
      const row = page.locator('.inspection-row', { hasText: 'Bocatoma Huaypetue' });
      assert.equal(await row.getAttribute('data-status'), 'submitted');
      // "Finished by the inspector", in words that do not claim the office has it.
      assert.equal(await row.locator('.badge.status').innerText(), 'Terminada');
      await row.locator('a').click();
      await page.locator('#edit-inspection').click();
      // The confirmation says what editing does to it.
      assert.match(await page.locator('#readonly-banner').innerText(), /volverá a borrador/);
      await page.locator('#edit-confirm').click();
      assert.equal(await page.locator('#f-district').isDisabled(), false);
      await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });
      await page.locator('#nav-home').click();
      assert.equal(await page.locator('.inspection-row', { hasText: 'Bocatoma Huaypetue' }).getAttribute('data-status'), 'draft');
    });
  });

  test('leaving the form at once after a change or after finishing it keeps the record, with no error in the page', async () => {
    // The guard in the harness fails this test on any uncaught page error: leaving the form
    // while its autosave was pending used to panic (`RuntimeError: unreachable`).
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR, 'tableta-5');
      await page.locator('#new-inspection').click();
      await page.locator('#inspection-form').waitFor();
      await page.locator('#f-site-name').fill('Aserradero Iberia');
      await page.locator('#f-district').fill('Iberia');
      // Left before the autosave's pause is over: the change is written all the same.
      await page.locator('#nav-home').click();
      const row = page.locator('.inspection-row', { hasText: 'Aserradero Iberia' });
      await row.waitFor({ timeout: 10_000 });
      await row.locator('a').click();
      await page.locator('#inspection-form').waitFor();
      assert.equal(await page.locator('#f-district').inputValue(), 'Iberia');

      await page.locator('#f-sector').selectOption('logging');
      await page.locator('#f-visit-end').fill(new Date(Date.now() + 3_600_000).toISOString().slice(0, 16));
      for (const [id, n] of [['total', '2'], ['women', '1'], ['men', '1']]) await page.locator(`#f-workers-${id}`).fill(n);
      await page.locator('#review-inspection').click();
      await page.locator('#summary-ready').waitFor();
      // Finished, and "Inspecciones" tapped at once.
      await page.locator('#submit-inspection').click();
      await page.locator('#nav-home').click();
      await eventually(
        async () => (await page.locator('.inspection-row', { hasText: 'Aserradero Iberia' }).getAttribute('data-status')) === 'submitted',
        10_000,
        'the finished record in the list',
      );
      // Past the autosave's delay, when the old timer fired on the form's disposed state.
      await page.waitForTimeout(1_000);
      await page.reload();
      await page.locator('.inspection-row[data-status="submitted"]', { hasText: 'Aserradero Iberia' }).waitFor();
    });
  });

  test('a record the server rejects shows its reason while the others sync', async () => {
    await withPage(async (page) => {
      await page.goto(server().url);
      await signIn(page, INSPECTOR, 'tableta-2');
      await page.locator('#sync-status').waitFor();

      // Written into Madre de Dios's database but claiming Cusco: the server refuses it.
      for (const [site, region] of [['Ladrillera Cusco (mal registrada)', 'cusco'], ['Aserradero Laberinto', DB]]) {
        await page.locator('#nav-home').click();
        await page.locator('#new-inspection').click();
        await page.locator('#inspection-form').waitFor();
        await page.locator('#f-site-name').fill(site);
        // The form keeps a record in the working region; an outdated or tampered app might not.
        // The server is the authority either way.
        await page.locator('#f-region').evaluate((select) => (select.disabled = false));
        await page.locator('#f-region').selectOption(region);
        await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 10_000 });
      }
      await page.locator('#nav-home').click();
      await page.locator('#sync-now').click();
      const rejected = page.locator('.inspection-row[data-sync-state="rejected"]', { hasText: 'Ladrillera Cusco' });
      await rejected.waitFor({ timeout: 60_000 });
      // The server's own words, next to the record.
      const reason = await rejected.locator('.row-reason').innerText();
      assert.match(reason, /region/i, reason);
      await page
        .locator('.inspection-row[data-sync-state="synced"]', { hasText: 'Aserradero Laberinto' })
        .waitFor({ timeout: 60_000 });
    });
  });

  test('a record edited on two devices offline shows the conflict, resolved field by field everywhere', async () => {
    const [one, two] = [await newBrowser(), await newBrowser()];
    const SITE2 = 'Finca Las Palmas';
    try {
      const a = await one.context.newPage();
      const b = await two.context.newPage();
      for (const [page, device] of [[a, 'tableta-a'], [b, 'tableta-b']]) {
        await page.goto(server().url);
        await signIn(page, INSPECTOR, device);
        await page.locator('#sync-status').waitFor();
      }

      // Device A records it; device B receives it.
      await a.locator('#new-inspection').click();
      await a.locator('#inspection-form').waitFor();
      await a.locator('#f-site-name').fill(SITE2);
      await a.locator('#f-district').fill('Tambopata');
      await a.locator('#save-status[data-state="saved"]').waitFor({ timeout: 10_000 });
      await a.locator('#nav-home').click();
      await a.locator('#sync-now').click();
      await a.locator('.inspection-row[data-sync-state="synced"]', { hasText: SITE2 }).waitFor({ timeout: 60_000 });
      await b.locator('#sync-now').click();
      await b.locator('.inspection-row', { hasText: SITE2 }).waitFor({ timeout: 60_000 });

      // Both edit the district while offline.
      for (const [browser, page, district] of [[one, a, 'Inambari'], [two, b, 'Laberinto']]) {
        await browser.context.setOffline(true);
        await page.locator('.inspection-row', { hasText: SITE2 }).locator('a').first().click();
        await page.locator('#f-district').fill(district);
        // Each adds a different fact to the notes, the common case.
        await page.locator('#f-notes').fill(`Nota desde ${district}`);
        await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 10_000 });
        await page.locator('#nav-home').click();
      }

      // Back online: A pushes, B pushes and pulls, A pulls. Both now hold both edits.
      for (const [browser, page] of [[one, a], [two, b], [one, a]]) {
        await browser.context.setOffline(false);
        await page.locator('#sync-now').click();
        await page.waitForTimeout(1500);
      }
      const conflicted = a.locator('.inspection-row[data-sync-state="conflict"]', { hasText: SITE2 });
      await conflicted.waitFor({ timeout: 60_000 });
      // The strip counts it instead of claiming everything is synced, and leads to it.
      const strip = a.locator('#sync-conflicts');
      assert.equal(await strip.innerText(), '1 conflicto por resolver');
      assert.doesNotMatch(await a.locator('#sync-status').innerText(), /Todo sincronizado/);

      // A resolves it: the district from B.
      await strip.click();
      await a.locator('#conflict-view').waitFor();
      // Fields by the form's labels, versions by device and time of the edit, this device's
      // version marked in advance and said so.
      const rowNames = await a.locator('.conflict-row th').allInnerTexts();
      assert.ok(rowNames.includes('Distrito') && rowNames.some((n) => n.startsWith('Notas')), rowNames.join(' | '));
      assert.ok(!rowNames.some((n) => /district|notes/.test(n)), rowNames.join(' | '));
      const heads = await a.locator('.conflict-version').allInnerTexts();
      assert.ok(heads.some((h) => /^tableta-a · \d\d\/\d\d \d\d:\d\d \(este dispositivo\)$/.test(h)), heads.join(' | '));
      assert.ok(heads.some((h) => /^tableta-b · \d\d\/\d\d \d\d:\d\d$/.test(h)), heads.join(' | '));
      assert.match(await a.locator('#conflict-preselected').innerText(), /tableta-a/);
      const district = (text) => a.locator('.conflict-row[data-path="district"] label', { hasText: text }).locator('input');
      assert.equal(await district('Inambari').isChecked(), true);
      // A short field offers one side or the other; free text also offers both.
      assert.equal(await a.locator('.conflict-row[data-path="district"] .keep-both').count(), 0);
      await district('Laberinto').check();
      await a.locator('.conflict-row[data-path="notes"] .keep-both input').check();
      await a.locator('#resolve-conflict').click();
      await a.locator('#inspection-form').waitFor();
      assert.equal(await a.locator('#f-district').inputValue(), 'Laberinto');
      await a.locator('#nav-home').click();
      await a.locator('#sync-now').click();

      // The server has one version, with the choice, and no conflict left.
      const auth = { authorization: basic(INSPECTOR.name, INSPECTOR.password) };
      const doc = await eventually(async () => {
        const all = await (await fetch(`${server().url}/db/${DB}/_all_docs?include_docs=true&conflicts=true`, { headers: auth })).json();
        const found = all.rows.map((r) => r.doc).find((d) => d.site_name === SITE2);
        return found && !found._conflicts && found.district === 'Laberinto' ? found : null;
      }, 60_000, 'the resolution on the server');
      assert.equal(doc.district, 'Laberinto');
      assert.match(doc.notes, /\[tableta-a · [^\]]+\] Nota desde Inambari\n\n\[tableta-b · [^\]]+\] Nota desde Laberinto|\[tableta-b · [^\]]+\] Nota desde Laberinto\n\n\[tableta-a · [^\]]+\] Nota desde Inambari/, doc.notes);

      // And device B gets the resolution.
      await b.locator('#sync-now').click();
      await b.locator('.inspection-row[data-sync-state="synced"]', { hasText: SITE2 }).waitFor({ timeout: 60_000 });
      await b.locator('.inspection-row', { hasText: SITE2 }).locator('a').first().click();
      await eventually(async () => (await b.locator('#f-district').inputValue()) === 'Laberinto', 20_000, 'B to show the resolution');
    } finally {
      await one.close();
      await two.close();
    }
  });
});
