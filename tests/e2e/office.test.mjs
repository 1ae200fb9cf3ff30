// The regional office and the loop back to the tablet (issue 8), in two browsers against the
// real server: the inspector submits offline and syncs; the supervisor sends it back with a
// note; the tablet shows the note offline and the inspector corrects and resubmits; the
// supervisor sees what changed, reviews, refers two people to a shelter, follows the referral,
// opens a prosecution under 168-B and records a conviction; the timeline and the tablet's list
// show every step.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canvasJpeg, eventually, fillNewInspection, recordOfflineThenSync, newBrowser, signIn, suiteServer, waitForServiceWorker } from './harness.mjs';

const DB = 'madre-de-dios';
const INSPECTOR = { name: 'ines.inspectora', password: 'selva verde 2026', role: 'inspector', regions: [DB] };
const SUPERVISOR = { name: 'sara.supervisora', password: 'oficina puerto maldonado 77', role: 'supervisor', regions: [DB] };
const SITE = 'Campamento Delta 1, Huepetuhe';
const NOTE = 'Falta el distrito correcto: la visita fue en Laberinto.';

/** Fills and submits a new inspection with two people found. */
async function submitInspection(page) {
  await fillNewInspection(page, { site: SITE, district: 'Huepetuhe', workers: [3, 1, 2] });
  const photo = await canvasJpeg(page, { width: 640, height: 480, quality: 0.9 });
  // A photo of the camp, not of people: kept as a JPEG.
  await page.locator('#photo-shows-people').uncheck();
  await page.locator('#photo-input').setInputFiles({ name: 'campamento.jpg', mimeType: 'image/jpeg', buffer: photo });
  await page.locator('.photo-thumb').first().waitFor({ timeout: 20_000 });
  await page.locator('#review-inspection').click();
  await submitReviewed(page);
}

/** From the review: submits, or fails naming what the review still lists. */
async function submitReviewed(page) {
  await page.locator('#summary-ready, #summary-problems').first().waitFor();
  if (await page.locator('#summary-problems').count()) {
    assert.fail(`the review lists problems: ${await page.locator('#summary-problems').innerText()}`);
  }
  await page.locator('#submit-inspection').click();
  await page.locator('#save-status[data-state="saved"]').waitFor({ timeout: 30_000 });
}

/** Records an event from the case page: opens the action, fills it, saves, waits for `state`. */
async function act(page, kind, fill, state) {
  await page.locator(`#act-${kind}`).click();
  await page.locator(`#form-${kind}`).waitFor();
  await fill(page.locator(`#form-${kind}`));
  await page.locator(`#save-${kind}`).click();
  const form = page.locator(`#form-${kind}`);
  // Saved: the case reloads and the form closes. Refused: the form says why, at the field.
  await eventually(async () => (await form.count()) === 0 || (await form.locator('.alert').count()) > 0, 15_000, `${kind} to be saved`);
  if (await form.count()) assert.fail(`${kind} not saved: ${await form.innerText()}`);
  if (state) await page.locator(`#case-state[data-state="${state}"]`).waitFor({ timeout: 15_000 });
}

describe('the regional office', () => {
  const server = suiteServer({ users: [INSPECTOR, SUPERVISOR], dbs: [DB] });

  test('reviews, sends back, follows a case to a conviction, and the tablet sees each step', async () => {
    const tablet = await newBrowser();
    const office = await newBrowser();
    let failure;
    try {
      const officeRequests = [];
      tablet.context.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/office')) officeRequests.push(r.url());
      });
      // 1. The inspector submits a record offline, then syncs.
      const t = await tablet.context.newPage();
      await t.goto(server().url);
      await signIn(t, INSPECTOR);
      await waitForServiceWorker(t);
      const row = await recordOfflineThenSync(tablet.context, t, submitInspection, SITE);
      await row.locator('.badge.case-state[data-case-state="awaiting_review"]').waitFor();

      // 2. The supervisor signs in on the inspector's app, is taken to the office, and marks the
      // record "tiene observaciones" (the note is required: refused empty, at its field).
      const o = await office.context.newPage();
      await o.goto(server().url);
      await signIn(o, SUPERVISOR, 'oficina-pc-1');
      await o.waitForURL(/\/office\/$/, { timeout: 15_000 });
      const inboxRow = o.locator('.inbox-row', { hasText: SITE });
      await inboxRow.waitFor({ timeout: 15_000 });
      assert.equal(await inboxRow.getAttribute('data-state'), 'awaiting_review');
      await inboxRow.locator('a').click();
      await o.locator('#case-state[data-state="awaiting_review"]').waitFor();
      assert.equal(await o.locator('#inspection-readonly #f-site-name').inputValue(), SITE);
      // Every section, and the photo (fetched with the supervisor's token).
      assert.equal(await o.locator('#inspection-readonly #f-people-1-sex').inputValue(), 'male');
      await o.locator('#case-photos img.case-photo').waitFor({ timeout: 15_000 });
      assert.ok(await o.locator('#case-photos img.case-photo').evaluate((img) => img.complete && img.naturalWidth > 0));
      await o.locator('#act-has_issues').click();
      await o.locator('#save-has_issues').click();
      assert.match(await o.locator('#form-has_issues .field[data-key="note"] .field-error').innerText(), /Obligatorio/);
      await act(o, 'has_issues', (f) => f.locator('#ev-has_issues-note').fill(NOTE), 'has_issues');

      // 3. The tablet syncs, then offline shows the note; the inspector corrects and resubmits.
      await t.reload();
      await t.locator('.inspection-row .badge.case-state[data-case-state="has_issues"]', { timeout: 60_000 }).waitFor({ timeout: 60_000 });
      await tablet.context.setOffline(true);
      await t.locator('.inspection-row', { hasText: SITE }).locator('a').click();
      await t.locator('#case-issues').waitFor();
      assert.equal(await t.locator('#issues-note').innerText(), NOTE);
      assert.match(await t.locator('#issues-by').innerText(), new RegExp(SUPERVISOR.name));
      await t.locator('#issues-fix').click();
      await t.locator('#f-district').fill('Laberinto');
      await t.locator('#review-inspection').click();
      await submitReviewed(t);
      await t.locator('#nav-home').click();
      await tablet.context.setOffline(false);
      await t.locator('.inspection-row[data-sync-state="synced"]', { hasText: SITE }).waitFor({ timeout: 60_000 });

      // 4. The office sees "resubmitted" and the changed field, and marks it reviewed.
      await eventually(async () => {
        await o.reload();
        await o.locator('#case-state').waitFor();
        return (await o.locator('#case-state').getAttribute('data-state')) === 'resubmitted';
      }, 30_000, 'the case to show as resubmitted');
      await o.locator('#changed-fields li[data-path="district"]').waitFor();
      await act(o, 'reviewed', async () => {}, 'reviewed');

      // 5. Two people referred to a shelter with consent (refused without it, at its field);
      // the referral goes sent → attended.
      await o.locator('#act-referred').click();
      const referral = o.locator('#form-referred');
      await referral.locator('input[data-person="P-001"]').check();
      await referral.locator('input[data-person="P-002"]').check();
      await referral.locator('#ev-referred-service').selectOption('shelter');
      await o.locator('#save-referred').click();
      await referral.locator('.field[data-key="consent"] .field-error').filter({ hasText: /\S/ }).waitFor();
      await act(o, 'referred', async (f) => {
        await f.locator('#ev-referred-consent').selectOption('given');
        await f.locator('#ev-referred-consent_by').selectOption('self');
        await f.locator('#ev-referred-reference').fill('CAR-MDD-2026-015');
      }, 'referred');
      await o.locator('#referrals li.referral[data-status="sent"]').waitFor();
      await act(o, 'referral_update', async (f) => {
        await f.locator('#ev-referral_update-referral').selectOption({ index: 1 });
        await f.locator('#ev-referral_update-status').selectOption('attended');
      });
      await o.locator('#referrals li.referral[data-status="attended"]').waitFor({ timeout: 15_000 });

      // 6. A prosecution under 168-B, then a conviction.
      await act(o, 'prosecution_opened', async (f) => {
        await f.locator('#ev-prosecution_opened-office').fill('Fiscalía Especializada en Trata de Personas de Madre de Dios');
        await f.locator('#ev-prosecution_opened-case_number').fill('2026-118');
        await f.locator('#ev-prosecution_opened-offence').selectOption('cp_168b');
      }, 'in_prosecution');
      await act(o, 'outcome', async (f) => {
        await f.locator('#ev-outcome-outcome').selectOption('conviction');
        await f.locator('#ev-outcome-sentence_years').fill('12');
      }, 'closed');
      await o.locator('#outcome[data-outcome="conviction"]').waitFor();

      // 7. The timeline shows every step, in order, with who wrote it.
      const kinds = await o.locator('.timeline-entry').evaluateAll((items) => items.map((li) => li.dataset.kind));
      assert.deepEqual(kinds, ['has_issues', 'reviewed', 'referred', 'referral_update', 'prosecution_opened', 'outcome']);
      assert.match(await o.locator('.timeline-entry').first().innerText(), new RegExp(SUPERVISOR.name));

      // 8. The tablet's list shows the case's state; it never loaded the office's code.
      await t.reload();
      await t.locator('.inspection-row .badge.case-state[data-case-state="closed"]').waitFor({ timeout: 60_000 });
      // The six events came with the sync, and none of them is a row of its own.
      assert.equal(await t.locator('.inspection-row').count(), 1);
      assert.deepEqual(officeRequests, []);
    } catch (error) {
      failure = error;
    }
    // Both browsers close whatever happened; a page error in either fails the test, and is
    // added to the test's own failure, which it often explains.
    const closed = await Promise.allSettled([tablet.close(), office.close()]);
    const pageErrors = closed.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    if (failure) {
      if (pageErrors.length) failure.message += `\n${pageErrors.join('\n')}`;
      throw failure;
    }
    if (pageErrors.length) throw new Error(pageErrors.join('\n'));
  });
});
