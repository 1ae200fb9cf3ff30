// The app's Content-Security-Policy in a real browser: a page shaped like Trunk's build (its
// inline module script loads a wasm module, `client/index.html`'s inline script registers the
// service worker) boots under the policy the server sends, and a script injected later, or
// `eval`, does not run. Needs no Trunk build: the page is made here, from the real index.html.

import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, scratchDir, startServer, withPage } from './harness.mjs';

const JS = 'boot-0123456789abcdef.js';
const WASM = 'boot-0123456789abcdef_bg.wasm';

// A module whose `answer` export returns 42.
const ANSWER_WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x07, 0x0a, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x00, // export "answer"
  0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // i32.const 42
]);

/** The real index.html with Trunk's links replaced by what Trunk injects (its default
 *  initializer, as trunk 0.21 writes it). */
function trunkShapedDist() {
  const dist = join(scratchDir('csp-dist'), 'dist');
  mkdirSync(dist, { recursive: true });
  const source = readFileSync(join(ROOT, 'client', 'index.html'), 'utf8');
  const withoutTrunkLinks = source.replace(/<link data-trunk[^>]*>\s*/g, '');
  const injected = `
<script type="module">
import init, * as bindings from '/${JS}';
const wasm = await init({ module_or_path: '/${WASM}' });

window.wasmBindings = bindings;

dispatchEvent(new CustomEvent("TrunkApplicationStarted", {detail: {wasm}}));

</script>`;
  const html = withoutTrunkLinks
    .replace('</head>', `<link rel="modulepreload" href="/${JS}" crossorigin="anonymous">\n</head>`)
    .replace('</body>', `${injected}</body>`);
  writeFileSync(join(dist, 'index.html'), html);
  writeFileSync(
    join(dist, JS),
    `export default async function init({ module_or_path }) {
  const bytes = await (await fetch(module_or_path)).arrayBuffer();
  const { instance } = await WebAssembly.instantiate(bytes);
  window.answer = instance.exports.answer();
  return instance;
}
export const bound = true;
`,
  );
  writeFileSync(join(dist, WASM), ANSWER_WASM);
  writeFileSync(join(dist, 'sw.js'), "self.addEventListener('fetch', () => {});\n");
  return dist;
}

describe("the app's Content-Security-Policy", () => {
  let server;
  before(async () => {
    server = await startServer({ dist: trunkShapedDist() });
  });
  after(async () => {
    await server?.stop();
  });

  test('lets the built page boot its wasm and register its worker, and nothing injected run', async () => {
    await withPage(async (page) => {
      const violations = [];
      await page.exposeFunction('reportViolation', (v) => violations.push(v));
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) =>
          window.reportViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
      });
      const response = await page.goto(`${server.url}/inspections/new`);
      const csp = response.headers()['content-security-policy'];
      assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
      assert.doesNotMatch(csp, /unsafe-inline/);

      await page.waitForFunction(() => window.answer === 42, null, { timeout: 10_000 });
      assert.equal(await page.evaluate(() => window.wasmBindings?.bound), true);
      await page.waitForFunction(
        async () => (await navigator.serviceWorker.getRegistrations()).length === 1,
        null,
        { timeout: 10_000 },
      );
      // A photo thumbnail is a data: URL.
      const shown = await page.evaluate(async () => {
        const img = new Image();
        img.src = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
        await img.decode();
        return img.naturalWidth;
      });
      assert.equal(shown, 1);
      assert.deepEqual(violations, [], 'the page itself breaks no rule');

      // What an attacker's text would do if it ever reached the page as HTML.
      const outcome = await page.evaluate(async () => {
        const script = document.createElement('script');
        script.textContent = 'window.pwned = true;';
        document.body.append(script);
        const div = document.createElement('div');
        div.innerHTML = '<img src="x" onerror="window.pwned = true">';
        document.body.append(div);
        await new Promise((r) => setTimeout(r, 300));
        let evaluated;
        try {
          evaluated = eval('1 + 1');
        } catch (err) {
          evaluated = err.name;
        }
        return { pwned: window.pwned ?? false, evaluated };
      });
      assert.deepEqual(outcome, { pwned: false, evaluated: 'EvalError' });
      assert.ok(violations.length >= 2, `violations reported: ${violations}`);
    });
  });
});
