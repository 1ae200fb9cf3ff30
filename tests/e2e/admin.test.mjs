// The office's administration page (issue 10 §3) against the real, running server, in two
// browsers: an admin adds an inspector on the page (a guessable password is refused at its
// field first), changes the inspector's regions, disables and enables them and sets a new
// password (the last admin cannot be disabled: the page says why); the inspector signs in at
// once on a tablet and syncs; the admin revokes the tablet's device; the tablet's next sync is
// refused and the app says so in words. The audit log names each change.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, newBrowser, scratchDir, signIn, suiteServer, withPage } from './harness.mjs';

const DB = 'madre-de-dios';
const ADMIN = { name: 'ana.nacional', password: 'oficina nacional lima 2026', role: 'admin', regions: [] };
const NEW = { name: 'nuevo.inspector', password: 'balsa verde sobre el río inambari' };
const DEVICE = 'tableta-07';
const OUTPUT = join(ROOT, 'target', 'e2e-output', 'admin');

describe('the administration page', () => {
  const server = suiteServer({ users: [ADMIN], dbs: [DB] });

  test('an inspector added on the page signs in at once; a revoked device’s next sync is refused, in words', async () => {
    const office = await newBrowser();
    const tablet = await newBrowser();
    let failure;
    try {
      // 1. The admin opens the page from the header (only admins see it).
      const o = await office.context.newPage();
      await o.goto(`${server().url}/office/`);
      await signIn(o, ADMIN, 'oficina-lima');
      // A national admin has no region: the inbox says where to go instead.
      assert.match(await o.locator('#no-region').innerText(), /Administración/);
      await o.locator('#nav-admin').click();
      await o.waitForURL(/\/office\/admin$/);
      await o.locator(`#users-table tr.user-row[data-user="${ADMIN.name}"]`).waitFor();
      await o.locator('#relays-empty').waitFor();
      assert.ok(await o.locator(`#databases-list li[data-db="${DB}"]`).count());

      // 2. Adds an inspector. A guessable password is refused, and the server's reason shows
      // beside the password field; then a good one.
      await o.locator('#new-name').fill(NEW.name);
      await o.locator('#new-password').fill('1234567890');
      await o.locator('#new-role').selectOption('inspector');
      await o.locator(`#new-regions input[value="${DB}"]`).check();
      await o.locator('#add-user-submit').click();
      const passwordError = o.locator('#new-password-error');
      await passwordError.waitFor();
      assert.match(await passwordError.innerText(), /password/i);
      assert.equal(await o.locator('#new-name-error').isVisible(), false);
      await o.locator('#new-password').fill(NEW.password);
      await o.locator('#add-user-submit').click();
      await o.locator('#add-user-done').waitFor();
      const row = o.locator(`#users-table tr.user-row[data-user="${NEW.name}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-role'), 'inspector');
      assert.equal(await row.locator('.user-regions').innerText(), 'Madre de Dios');
      // A duplicate is refused at the name.
      await o.locator('#new-name').fill(NEW.name);
      await o.locator('#new-password').fill(NEW.password);
      await o.locator('#add-user-submit').click();
      await o.locator('#new-name-error').waitFor();
      assert.match(await o.locator('#new-name-error').innerText(), /already/);

      // Creates Cusco's database, then changes a user: regions, disable and enable, a password (a short one refused at its
      // field); the last active admin cannot be disabled, and the page says why.
      await o.locator('#new-db').fill('cusco');
      await o.locator('#add-database-submit').click();
      await o.locator('#databases-list li[data-db="cusco"]').waitFor();
      await o.locator('#add-database-done').waitFor();
      await row.locator('button', { hasText: 'Editar' }).click();
      const editor = o.locator(`#user-editor[data-user="${NEW.name}"]`);
      await editor.locator('#edit-regions input[value="cusco"]').check();
      await editor.locator('#edit-save').click();
      await o.locator(`#users-table tr.user-row[data-user="${NEW.name}"] .user-regions`, { hasText: 'Cusco, Madre de Dios' }).waitFor();
      await o.locator(`#edit-${NEW.name.replace('.', '\\.')}`).click();
      await o.locator('#edit-disable').click();
      await o.locator(`#users-table tr.user-row[data-user="${NEW.name}"][data-disabled="true"]`).waitFor();
      await o.locator('#edit-disable').click();
      await o.locator(`#users-table tr.user-row[data-user="${NEW.name}"][data-disabled="false"]`).waitFor();
      await o.locator('#edit-password').fill('corta');
      await o.locator('#edit-password-save').click();
      assert.match(await o.locator('#edit-password-error').innerText(), /10 caracteres/);
      await o.locator('#edit-password').fill(NEW.password.toUpperCase());
      await o.locator('#edit-password-save').click();
      await o.locator('#edit-done').waitFor();
      NEW.password = NEW.password.toUpperCase();
      await o.locator(`#edit-${ADMIN.name.replace('.', '\\.')}`).click();
      await o.locator(`#user-editor[data-user="${ADMIN.name}"] #edit-disable`).click();
      await o.locator('#edit-state-error').waitFor();
      assert.match(await o.locator('#edit-state-error').innerText(), /admin/i);
      await o.locator('#edit-close').click();

      // 3. The inspector signs in at once on a tablet (the inspector's app) and syncs.
      const t = await tablet.context.newPage();
      await t.goto(server().url);
      await signIn(t, NEW, DEVICE);
      await t.locator('#sync-last', { hasText: /\d\d\/\d\d \d\d:\d\d/ }).waitFor({ timeout: 30_000 });
      assert.equal(await t.locator('#sync-unauthorized').count(), 0);

      // 4. The admin finds the tablet among the user's devices and revokes it.
      await o.locator('#devices-user').selectOption(NEW.name);
      const device = o.locator(`#devices-table tr.device-row[data-device="${DEVICE}"]`);
      await device.waitFor();
      assert.equal(await device.getAttribute('data-revoked'), 'false');
      await device.locator('button.revoke').click();
      await device.locator('button.revoke-confirm').click();
      await o.locator(`#devices-table tr.device-row[data-device="${DEVICE}"][data-revoked="true"]`).waitFor();

      // 5. The tablet's next sync is refused, and the app says so in words (its records stay).
      await t.locator('#sync-now').click();
      const refused = t.locator('#sync-unauthorized');
      await refused.waitFor({ timeout: 30_000 });
      assert.match(await refused.innerText(), /ya no es válida/);

      // 6. The audit log names each change, newest first.
      await o.reload();
      await o.locator('#log-table').waitFor();
      const actions = await o.locator('#log-table tr.log-row').evaluateAll((rows) => rows.map((r) => r.dataset.action));
      // (After them, the command line's own: the admin and the first database, made before start.)
      assert.deepEqual(actions.slice(0, 7), ['token.revoke', 'user.password', 'user.enable', 'user.disable', 'user.regions', 'db.create', 'user.add']);
      mkdirSync(OUTPUT, { recursive: true });
      await o.screenshot({ path: join(OUTPUT, 'administracion.png'), fullPage: true });
    } catch (error) {
      failure = error;
    }
    const closed = await Promise.allSettled([office.close(), tablet.close()]);
    const pageErrors = closed.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    if (failure) {
      if (pageErrors.length) failure.message += `\n${pageErrors.join('\n')}`;
      throw failure;
    }
    if (pageErrors.length) throw new Error(pageErrors.join('\n'));
  });
});

// A relay set in the configuration file, to a national server that does not answer: the page
// shows its state and its last error in words.
const CONFIG = join(scratchDir('config'), 'chaski.toml');
writeFileSync(CONFIG, `[[relay]]
name = "lima"
databases = ["${DB}"]
target = "http://127.0.0.1:9/db"
direction = "push"
`);

describe('the administration page with a relay', () => {
  const server = suiteServer({ users: [ADMIN], dbs: [DB], args: ['--config', CONFIG] });
  after(() => rmSync(dirname(CONFIG), { recursive: true, force: true }));

  test('shows the relay’s state and its last error in words', async () => {
    await withPage(async (page) => {
      await page.goto(`${server().url}/office/admin`);
      await signIn(page, ADMIN, 'oficina-lima');
      const relay = page.locator('#relays-table tr.relay-row[data-relay="lima"]');
      await relay.waitFor();
      assert.match(await relay.innerText(), new RegExp(DB));
      // The first attempt has failed by the time the page reads the status; reload until it has.
      for (let i = 0; i < 20 && !(await relay.locator('.relay-error').innerText()).trim(); i += 1) {
        await page.waitForTimeout(500);
        await page.reload();
        await relay.waitFor();
      }
      assert.equal(await relay.getAttribute('data-state'), 'backing_off');
      assert.match(await relay.locator('.relay-error').innerText(), /unreachable/);
      assert.match(await relay.innerText(), /reintentando tras un fallo/);
    });
  });
});
