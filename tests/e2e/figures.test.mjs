// The office's "Cifras" page (issue 9 §3) against the real server: a small fixture written
// through the replication API (six submitted inspections in two regions, eight people, one
// referral, a prosecution and a conviction), then the page in Chromium. The charts' and the
// map's accessible tables must show the numbers worked out by hand below; "publicable (<5)"
// turns the small ones into "<5"; a table's CSV and the server's export download; and a
// screenshot goes to target/e2e-output/figures/.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { ROOT, basic, signIn, suiteServer, withPage } from './harness.mjs';

const MDD = 'madre-de-dios';
const CUSCO = 'cusco';
const ADMIN = { name: 'ana.nacional', password: 'oficina nacional lima 2026', role: 'admin', regions: [] };
const SUPERVISOR = { name: 'sara.supervisora', password: 'oficina puerto maldonado 77', role: 'supervisor', regions: [MDD] };
const OUTPUT = join(ROOT, 'target', 'e2e-output', 'figures');

// ---------------------------------------------------------------------------------------------
// The fixture. Inspections 0–4 in Madre de Dios, 5 in Cusco, visited 2026-03-0(n+1):
//   n  sector          findings                            indicators seen (stages)                    people (sex, age, nationality)
//   0  gold_mining     forced_labour, trafficking_suspected debt_bondage (recruitment, during_work),    P-001 female 18_24 PE, P-002 male 25_39 VE
//                                                          retention_of_identity_documents (during_work)
//   1  gold_mining     forced_labour                       debt_bondage (during_work)                   P-001 female 14_17 PE
//   2  logging         forced_labour, child_labour (a worker under 18)
//                                            isolation (when_trying_to_leave)             P-001 male 40_59 PE, P-002 male 18_24 PE, P-003 female 18_24 BO
//   3  brick_making    —                                   —                                            —
//   4  domestic_work   trafficking_suspected               deception (recruitment)                      P-001 female under_14 PE
//   5  agriculture     forced_labour                       excessive_overtime (during_work)             P-001 female 25_39 PE
// Events of inspection 0: P-001 referred to a shelter with consent (+10 days), a prosecution
// under 168-B (+30), a conviction to 8 years (+200).
// ---------------------------------------------------------------------------------------------
const PLAN = [
  { sector: 'gold_mining', findings: ['forced_labour', 'trafficking_suspected'],
    indicators: { debt_bondage: ['recruitment', 'during_work'], retention_of_identity_documents: ['during_work'] },
    people: [['female', '18_24', 'PE'], ['male', '25_39', 'VE']] },
  { sector: 'gold_mining', findings: ['forced_labour'], indicators: { debt_bondage: ['during_work'] },
    people: [['female', '14_17', 'PE']] },
  { sector: 'logging', findings: ['forced_labour', 'child_labour'], indicators: { isolation: ['when_trying_to_leave'] },
    minors: 1, people: [['male', '40_59', 'PE'], ['male', '18_24', 'PE'], ['female', '18_24', 'BO']] },
  { sector: 'brick_making', findings: [], indicators: {}, people: [] },
  { sector: 'domestic_work', findings: ['trafficking_suspected'], indicators: { deception: ['recruitment'] },
    people: [['female', 'under_14', 'PE']] },
  { sector: 'agriculture', findings: ['forced_labour'], indicators: { excessive_overtime: ['during_work'] },
    people: [['female', '25_39', 'PE']], region: CUSCO },
];

const id = (n) => `inspection:2026030${n + 1}T130000Z-0000000000f1${String(n).padStart(4, '0')}`;
const rev = (n) => `1-${(0xf1000 + n).toString(16).padStart(32, '0')}`;
const visit = (n) => `2026-03-0${n + 1}T08:00:00-05:00`;
const later = (n, days) => new Date(Date.parse(visit(n)) + days * 86_400_000).toISOString().replace('.000Z', 'Z');

function inspectionDoc(n) {
  const plan = PLAN[n];
  const indicators = Object.fromEntries(Object.entries(plan.indicators).map(([k, stages]) => [k, { seen: true, stages, evidence: 'Visto por el equipo.' }]));
  return {
    _id: id(n),
    _rev: rev(n),
    type: 'inspection',
    status: 'submitted',
    site_name: `Campamento ${n}`,
    sector: plan.sector,
    region: plan.region ?? MDD,
    district: 'Inambari',
    locality: 'La Pampa',
    gps: { lat: -12.9 - n / 100, lon: -69.9 - n / 100, accuracy_m: 10 },
    location_source: 'gps',
    visit_start: visit(n),
    visit_end: visit(n).replace('T08:', 'T11:'),
    team: [{ id: 'inspector-1', name: 'Ana Quispe' }],
    workers: { total: 10, women: 3, men: 7, other_or_unknown: 0, minors_under_18: plan.minors ?? 0, minors_under_14: 0, indigenous: 0, foreign: 0 },
    indicators,
    findings: plan.findings,
    people: plan.people.map(([sex, age_band, nationality], i) => ({
      code: `P-00${i + 1}`,
      age_band,
      sex,
      nationality,
      indigenous_people: 'none',
      // A minor's consent is given by a guardian.
      consent: { status: 'given', given_by: ['under_14', '14_17'].includes(age_band) ? 'guardian' : 'self' },
    })),
    notes: 'Sin nombres.',
    created_by: 'inspector-1',
    created_at: visit(n),
    updated_at: visit(n).replace('T08:', 'T11:'),
  };
}

function eventDoc(k, kind, days, extra) {
  return {
    _id: `event:${id(0)}:2026031${k}T120000Z-00000000000e${k}000`,
    _rev: `1-${(0xe100 + k).toString(16).padStart(32, '0')}`,
    type: 'case_event',
    inspection: id(0),
    kind,
    at: later(0, days),
    by: ADMIN.name,
    device: 'oficina',
    ...extra,
  };
}

const EVENTS = [
  eventDoc(1, 'referred', 10, { people: ['P-001'], service: 'shelter', consent: 'given', consent_by: 'self', reference: 'CAR-1' }),
  eventDoc(2, 'prosecution_opened', 30, { office: 'Fiscalía de Tambopata', case_number: 'CF-1', offence: 'cp_168b' }),
  eventDoc(3, 'outcome', 200, { outcome: 'conviction', sentence_years: 8, sentence_months: 0 }),
];

/** Writes documents as replication would (`new_edits: false`), failing on any refusal. */
async function load(url, db, docs) {
  const response = await fetch(`${url}/db/${db}/_bulk_docs`, {
    method: 'POST',
    headers: { authorization: basic(ADMIN.name, ADMIN.password), 'content-type': 'application/json' },
    body: JSON.stringify({ docs, new_edits: false }),
  });
  const body = await response.json();
  assert.ok(response.ok, JSON.stringify(body));
  for (const result of body) assert.equal(result.error, undefined, JSON.stringify(result));
}

/** A table's rows as { key: [cells...] }. */
async function tableOf(page, name) {
  return page.locator(`#table-${name} tbody tr`).evaluateAll((rows) =>
    Object.fromEntries(rows.map((tr) => [tr.dataset.key, [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())])));
}

/** The first column of a table, as { key: value }. */
async function countsOf(page, name) {
  const rows = await tableOf(page, name);
  return Object.fromEntries(Object.entries(rows).map(([k, cells]) => [k, cells[0]]));
}

/** Picks the counts of `keys` out of a table's counts. */
const pick = (counts, keys) => Object.fromEntries(keys.map((k) => [k, counts[k]]));

async function waitForFigures(page, generation) {
  await page.locator(`#figures[data-state="ready"]:not([data-generation="${generation}"])`).waitFor({ timeout: 20_000 });
  return page.locator('#figures').getAttribute('data-generation');
}

describe('the Cifras page', () => {
  const server = suiteServer({ users: [ADMIN, SUPERVISOR], dbs: [MDD, CUSCO] });
  before(async () => {
    const url = server().url;
    await load(url, MDD, [0, 1, 2, 3, 4].map(inspectionDoc));
    await load(url, CUSCO, [inspectionDoc(5)]);
    await load(url, MDD, EVENTS);
  });

  test('charts, funnel and map show the fixture’s figures, "<5" when publishable, with CSVs and a screenshot', async () => {
    const url = server().url;

    await withPage(async (page) => {
      await page.goto(`${url}/office/`);
      await signIn(page, ADMIN, 'oficina-lima');
      await page.locator('#nav-figures').click();
      await page.waitForURL(/\/office\/figures$/);
      let generation = await waitForFigures(page, '0');

      // Sectors, from the breakdown: every sector drawn, zeros included.
      assert.deepEqual(await countsOf(page, 'sectors'), {
        gold_mining: '2', logging: '1', agriculture: '1', brick_making: '1', domestic_work: '1',
        bars_and_nightclubs: '0', fishing: '0', textile: '0', other: '0',
      });
      assert.deepEqual(await countsOf(page, 'findings'), {
        forced_labour: '4', child_labour: '1', sexual_exploitation: '0', trafficking_suspected: '2',
      });
      const indicators = await countsOf(page, 'indicators');
      assert.equal(Object.keys(indicators).length, 11, 'the ILO’s 11 indicators');
      assert.deepEqual(pick(indicators, ['debt_bondage', 'retention_of_identity_documents', 'isolation', 'deception', 'excessive_overtime', 'withholding_of_wages']),
        { debt_bondage: '2', retention_of_identity_documents: '1', isolation: '1', deception: '1', excessive_overtime: '1', withholding_of_wages: '0' });
      // Stages count inspections: 0 and 4 saw an indicator at recruitment; 0, 1 and 5 during work.
      assert.deepEqual(await countsOf(page, 'stages'), { recruitment: '2', during_work: '3', when_trying_to_leave: '1' });
      assert.deepEqual(pick(await countsOf(page, 'sex'), ['female', 'male']), { female: '5', male: '3' });
      assert.deepEqual(pick(await countsOf(page, 'age'), ['under_14', '14_17', '18_24', '25_39', '40_59', '60_plus']),
        { under_14: '1', '14_17': '1', '18_24': '3', '25_39': '2', '40_59': '1', '60_plus': '0' });
      assert.deepEqual(pick(await countsOf(page, 'nationality'), ['PE', 'VE', 'BO']), { PE: '6', VE: '1', BO: '1' });
      assert.equal((await countsOf(page, 'services')).shelter, '1');
      assert.equal((await countsOf(page, 'offences')).cp_168b, '1');
      assert.deepEqual(await countsOf(page, 'funnel'), {
        inspections: '6', forced_labour: '4', people_identified: '8', referred: '1', prosecution: '1', conviction: '1',
      });
      const summary = await countsOf(page, 'summary');
      assert.deepEqual(pick(summary, ['inspections', 'people_identified', 'people_referred', 'with_consent', 'prosecutions', 'convictions', 'sentence_min', 'sentence_max']),
        { inspections: '6', people_identified: '8', people_referred: '1', with_consent: '1', prosecutions: '1', convictions: '1', sentence_min: '96', sentence_max: '96' });
      assert.equal(summary.days_to_referral_median, '10');

      // Each chart draws a bar per row of its table, with the count on hover.
      assert.equal(await page.locator('#chart-sectors g.bar').count(), 9);
      assert.equal(await page.locator('#chart-funnel g.bar[data-key="people_identified"] title').textContent(), 'Personas identificadas: 8');

      // The map: a tile per department, shaded by inspections, the count on hover and in the table.
      const map = await tableOf(page, 'map');
      assert.deepEqual(map[MDD], ['5', '7']);
      assert.deepEqual(map[CUSCO], ['1', '1']);
      assert.equal(await page.locator('#chart-map g.tile').count(), 25);
      const mdd = page.locator(`#chart-map g.tile[data-region="${MDD}"]`);
      assert.equal(await mdd.locator('title').textContent(), 'Madre de Dios: 5 inspecciones');
      assert.equal(await mdd.getAttribute('data-shade'), '5');
      assert.equal(await page.locator(`#chart-map g.tile[data-region="${CUSCO}"]`).getAttribute('data-shade'), '1');
      // Shaded by victims instead.
      await page.locator('#map-metric input[value="victims"]').check();
      assert.equal(await mdd.locator('title').textContent(), 'Madre de Dios: 7 víctimas');
      assert.equal(await mdd.locator('.tile-count').textContent(), '7');

      // A table's CSV, made in the browser.
      mkdirSync(OUTPUT, { recursive: true });
      const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('#csv-sex').click()]);
      assert.equal(csv.suggestedFilename(), 'chaski-cifras-sex.csv');
      const csvPath = join(OUTPUT, 'sex.csv');
      await csv.saveAs(csvPath);
      const lines = readFileSync(csvPath, 'utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
      assert.equal(lines[0], 'Categoría,Número,code');
      assert.ok(lines.includes('Mujer,5,female'), lines.join('\n'));
      assert.ok(lines.includes('Hombre,3,male'), lines.join('\n'));

      // The server's export of the inspections, fetched with the token.
      const [exported] = await Promise.all([
        Promise.race([
          page.waitForEvent('download'),
          page.locator('#export-error').waitFor().then(async () => assert.fail(await page.locator('#export-error').innerText())),
        ]),
        page.locator('#export-inspections').click(),
      ]);
      assert.equal(exported.suggestedFilename(), 'chaski-inspecciones.csv');
      const exportPath = join(OUTPUT, 'inspections.csv');
      await exported.saveAs(exportPath);
      const exportedText = readFileSync(exportPath, 'utf8');
      for (let n = 0; n < 6; n += 1) assert.ok(exportedText.includes(id(n)), `the export lists ${id(n)}`);

      await page.screenshot({ path: join(OUTPUT, 'cifras.png'), fullPage: true });

      // Publishable: every count under 5 becomes "<5"; 5 and over stay.
      await page.locator('#fig-public').check();
      generation = await waitForFigures(page, generation);
      assert.equal(await page.locator('#figures').getAttribute('data-public'), 'true');
      assert.deepEqual(pick(await countsOf(page, 'sex'), ['female', 'male']), { female: '5', male: '<5' });
      assert.deepEqual(await countsOf(page, 'funnel'), {
        inspections: '6', forced_labour: '<5', people_identified: '8', referred: '<5', prosecution: '<5', conviction: '<5',
      });
      assert.deepEqual((await tableOf(page, 'map'))[CUSCO], ['<5', '<5']);
      assert.equal(await page.locator('#chart-sectors g.bar[data-key="gold_mining"]').getAttribute('data-few'), 'true');
      await page.screenshot({ path: join(OUTPUT, 'cifras-publicable.png'), fullPage: true });

      // A period and a region narrow it: Cusco alone.
      await page.locator('#fig-public').uncheck();
      generation = await waitForFigures(page, generation);
      await page.locator('#fig-region').selectOption(CUSCO);
      generation = await waitForFigures(page, generation);
      assert.equal((await countsOf(page, 'summary')).inspections, '1');
      await page.locator('#fig-region').selectOption('');
      generation = await waitForFigures(page, generation);
      await page.locator('#fig-from').fill('2026-03-03');
      generation = await waitForFigures(page, generation);
      // Inspections 2–5 remain: no referral, prosecution or conviction any more.
      assert.deepEqual(await countsOf(page, 'funnel'), {
        inspections: '4', forced_labour: '2', people_identified: '5', referred: '0', prosecution: '0', conviction: '0',
      });

      // English on request.
      await page.locator('#lang').selectOption('en');
      await page.locator('#chart-sectors h2', { hasText: 'Inspections by sector' }).waitFor();
    });
  });

  test('a supervisor picks among their own regions and sees only them', async () => {
    await withPage(async (page) => {
      await page.goto(`${server().url}/office/figures`);
      await signIn(page, SUPERVISOR, 'oficina-pm');
      await waitForFigures(page, '0');
      const options = await page.locator('#fig-region option').evaluateAll((os) => os.map((o) => o.value));
      assert.deepEqual(options, ['', MDD]);
      assert.equal((await countsOf(page, 'summary')).inspections, '5');
      assert.deepEqual(Object.keys(await tableOf(page, 'map')), [MDD]);
      // No administration for a supervisor.
      assert.equal(await page.locator('#nav-admin').count(), 0);
    });
  });
});
