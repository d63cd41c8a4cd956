// SPDX-License-Identifier: Apache-2.0
// The web console (host/console/, issue 14) in a real browser: Playwright (npm playwright-core,
// pinned in package-lock.json) drives Debian's chromium against a real blueprint-host started here
// on a free 127.0.0.1 port and ended by its own PID. Run by ctest (tests/CMakeLists.txt) with:
//   BLUEPRINT_HOST_BINARY  the built blueprint-host
//   BLUEPRINT_CORE_PLUGIN  the built core_blocks.so
//   BLUEPRINT_CONSOLE_OUT  where screenshots go (a failing test saves <test name>.png there;
//                          every run makes console.png, the README's docs/console.png, and
//                          console-overview.png, console-run.png, console-job.png, console-390.png)
// Prints the first render time of a 200-block blueprint graph; no timing is asserted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const HOST_BINARY = process.env.BLUEPRINT_HOST_BINARY || join(REPO, 'build/dev/host/blueprint-host');
const CORE_PLUGIN = process.env.BLUEPRINT_CORE_PLUGIN || join(REPO, 'build/dev/plugins/core_blocks.so');
const OUT = process.env.BLUEPRINT_CONSOLE_OUT || join(REPO, 'build/dev/tests/console');
const CHROMIUM = process.env.BLUEPRINT_CHROMIUM || '/usr/bin/chromium';
const XSS = '<img src=x onerror=alert(1)>';
const TIMEOUT_MS = 30000;

const ADMIN_KEY = `bp_admin_${randomBytes(12).toString('hex')}`;
const INVOKE_KEY = `bp_invoke_${randomBytes(12).toString('hex')}`;
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** A real blueprint-host in its own temp directory, on a port the kernel picks. */
class Host {
  constructor(name, env = {}) {
    this.dir = mkdtempSync(join(tmpdir(), `bp-console-${name}-`));
    this.env = env;
  }

  async start(agents) {
    for (const sub of ['plugins', 'agents', 'data']) mkdirSync(join(this.dir, sub));
    copyFileSync(CORE_PLUGIN, join(this.dir, 'plugins', 'core_blocks.so'));
    for (const [id, definition] of Object.entries(agents)) writeFileSync(join(this.dir, 'agents', `${id}.json`), JSON.stringify(definition));
    writeFileSync(join(this.dir, 'api-keys.json'), JSON.stringify({ keys: [
      { name: 'ops', sha256: sha256(ADMIN_KEY), scopes: ['admin', 'invoke'] },
      { name: 'client', sha256: sha256(INVOKE_KEY), scopes: ['invoke'] },
    ] }));
    writeFileSync(join(this.dir, 'host.json'), JSON.stringify({ job_workers: 2, threads: 32, min_threads: 2 }));
    this.log = '';
    this.child = spawn(HOST_BINARY, [
      `--config=${join(this.dir, 'host.json')}`, '--listen=127.0.0.1:0',
      `--plugins=${join(this.dir, 'plugins')}`, `--agents=${join(this.dir, 'agents')}`,
      `--data=${join(this.dir, 'data')}`, `--api-keys=${join(this.dir, 'api-keys.json')}`,
    ], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    const listening = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`blueprint-host did not start in time:\n${this.log}`)), TIMEOUT_MS);
      const onData = (chunk) => {
        this.log += chunk;
        const match = /blueprint-host listening on http:\/\/([0-9.]+):(\d+)/.exec(this.log);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[2]));
        }
      };
      this.child.stdout.on('data', onData);
      this.child.stderr.on('data', onData);
      this.child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`blueprint-host exited with ${code}:\n${this.log}`));
      });
    });
    this.port = await listening;
    this.url = `http://127.0.0.1:${this.port}`;
    for (let i = 0; i < 200; i += 1) {
      const status = await rawGet(this.url, '/readyz').then((r) => r.status, () => 0);
      if (status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`blueprint-host never became ready:\n${this.log}`);
  }

  /** Ends the child by its own PID: SIGTERM, then SIGKILL past a bound. */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    process.kill(this.pid, 'SIGTERM');
    const timer = setTimeout(() => process.kill(this.pid, 'SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * GET with node:http: no automatic decompression (sizes are what went over the wire), and the
 * path sent as written (a URL string would have its dot segments resolved first).
 */
function rawGet(base, path, headers = {}) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    httpGet({ hostname, port, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

const hello = JSON.parse(readFileSync(join(REPO, 'examples/agents/hello.json'), 'utf8'));
const xssAgent = {
  name: XSS,
  blueprints: [{
    id: 'echo',
    name: XSS,
    blocks: [
      { id: 'trigger', type: 'api_trigger', fields: { default_result: '{"inputs":{}}' }, next: { trigger: 'reply' } },
      { id: 'reply', type: 'return_value', fields: { value: XSS } },
    ],
  }],
};
/** Two 300 ms delays on parallel branches, then a join: their trace bars must overlap. */
const parallelAgent = {
  name: 'Parallel',
  blueprints: [{
    id: 'fan',
    name: 'Fan out',
    blocks: [
      { id: 'trigger', type: 'api_trigger', fields: {}, next: { trigger: ['left', 'right'] } },
      { id: 'left', type: 'delay', fields: { ms: 300 }, next: { success: 'reply' } },
      { id: 'right', type: 'delay', fields: { ms: 300 }, next: { success: 'reply' } },
      { id: 'reply', type: 'return_value', fields: { value: 'both done' } },
    ],
  }],
};
/** 200 blocks: a trigger, 198 log lines in a chain with a fan-out every tenth block, a return. */
function bigAgent() {
  const blocks = [{ id: 'trigger', type: 'api_trigger', fields: {}, next: { trigger: 'b1' } }];
  for (let i = 1; i <= 198; i += 1) {
    const next = [i < 198 ? `b${i + 1}` : 'done'];
    if (i % 10 === 0 && i + 5 <= 198) next.push(`b${i + 5}`);
    blocks.push({ id: `b${i}`, type: 'log_message', fields: { level: 'info', message: `step ${i}` }, next: { success: next } });
  }
  blocks.push({ id: 'done', type: 'return_value', fields: { value: 'done' } });
  return { name: 'Two hundred blocks', blueprints: [{ id: 'big', name: 'Big', blocks }] };
}

let host;
let browser;
const dialogs = [];
const cspViolations = [];

before(async () => {
  mkdirSync(OUT, { recursive: true });
  host = new Host('main');
  await host.start({ hello, xss: xssAgent, big: bigAgent(), parallel: parallelAgent });
  // headless: true passes --headless, and Playwright gives every launch a fresh --user-data-dir.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (host) await host.stop();
});

/** A fresh page at `viewport`, watching for dialogs and CSP reports; screenshot on failure. */
async function withPage(name, body, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(`${name}: ${dialog.type()} ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) cspViolations.push(`${name}: ${message.text()}`);
  });
  try {
    await body(page);
  } catch (error) {
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
}

async function logIn(page, key) {
  await page.goto(`${host.url}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#who').filter({ hasText: 'Key scopes' }).waitFor();
}

test('serves the console: / redirects, assets gzip-compressed with ETag, CSP, within 150 KiB', async () => {
  const root = await rawGet(host.url, '/');
  assert.equal(root.status, 302);
  assert.equal(root.headers.location, '/console/');
  const bare = await rawGet(host.url, '/console');
  assert.equal(bare.status, 302);
  const index = await rawGet(host.url, '/console/', { 'Accept-Encoding': 'gzip' });
  assert.equal(index.status, 200);
  assert.equal(index.headers['content-encoding'], 'gzip');
  assert.match(index.headers['content-security-policy'], /^default-src 'self'/);
  assert.ok(index.headers.etag);
  const again = await rawGet(host.url, '/console/', { 'If-None-Match': index.headers.etag });
  assert.equal(again.status, 304);
  const plain = await rawGet(host.url, '/console/app.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(plain.headers['content-type'], /^text\/javascript/);
  assert.equal((await rawGet(host.url, '/console/no-such-file.js')).status, 404);
  assert.equal((await rawGet(host.url, '/console/../openapi.json')).status, 404);

  // Everything a browser loads for the console, as sent (gzip): the budget is 150 KiB.
  await withPage('assets', async (page) => {
    let total = 0;
    const files = [];
    page.on('response', async (response) => {
      if (!response.url().startsWith(`${host.url}/console/`)) return;
      const headers = await response.allHeaders();
      files.push(`${response.url().slice(host.url.length)} ${headers['content-length']} B ${headers['content-encoding'] || 'identity'}`);
      total += Number(headers['content-length'] || 0);
    });
    await page.goto(`${host.url}/console/`);
    await page.getByLabel('API key').waitFor();
    console.log(`# console assets as sent: ${total} bytes (${(total / 1024).toFixed(1)} KiB) in ${files.length} files`);
    assert.ok(total > 0 && total <= 150 * 1024, `assets total ${total} bytes:\n${files.join('\n')}`);
  });
});

test('"console": false answers 404', async () => {
  const off = new Host('off', { BLUEPRINT_CONSOLE: 'false' });
  try {
    await off.start({});
    assert.equal((await rawGet(off.url, '/console/')).status, 404);
    assert.equal((await rawGet(off.url, '/')).status, 404);
    assert.equal((await rawGet(off.url, '/healthz')).status, 200);
  } finally {
    await off.stop();
  }
});

test('log in: a wrong key is refused, the admin key sees every page', async () => {
  await withPage('log-in', async (page) => {
    await page.goto(`${host.url}/`);
    await page.getByLabel('API key').fill('bp_wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('That key is not valid.').waitFor();
    await logIn(page, ADMIN_KEY);
    assert.equal(await page.locator('#who').textContent(), 'Key scopes: admin + invoke');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('.tile').first().waitFor();
    await page.screenshot({ path: join(OUT, 'console-overview.png') });
    // The key lives in sessionStorage only: never in the URL or a cookie.
    assert.ok(!page.url().includes(ADMIN_KEY));
    assert.equal((await page.context().cookies()).length, 0);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('blueprint.console.key')), ADMIN_KEY);
  });
});

test('run hello with inputs: "Hello, Ada!" arrives on the stream, the job id is linked', async () => {
  await withPage('run-hello', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/run/hello/hello`);
    await page.getByLabel(/^Inputs/).fill('{"name": "Ada"}');
    assert.match(await page.getByLabel(/^The same call with curl/).inputValue(), /-d '\{"inputs":\{"name":"Ada"\}\}'.*\/v1\/agents\/hello\/blueprints\/hello/);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('output.artifact').filter({ hasText: 'Hello, Ada!' }).waitFor();
    await page.locator('.events li.ev-done').waitFor();
    await page.locator('.job-link a').waitFor();
    // Inputs that are not a JSON object are refused before anything is sent.
    await page.getByLabel(/^Inputs/).fill('[1, 2]');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByText('Inputs must be a JSON object').waitFor();
    await page.getByLabel(/^Inputs/).fill('{"name": "Ada"}');
    await page.screenshot({ path: join(OUT, 'console-run.png') });
    // The run shows in the overview: counted, and its time in the p50 from the histogram.
    await page.goto(`${host.url}/console/#/overview`);
    const p50 = page.locator('.tile').filter({ hasText: 'p50 run time' }).locator('.tile-value');
    await p50.filter({ hasText: /\d.* m?s$/ }).waitFor();
  });
});

test('submit a job and open its trace timeline', async () => {
  await withPage('job-trace', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/run/hello/place_order`);
    await page.getByLabel(/^Inputs/).fill('{"user_id": "7", "items": ["tea"]}');
    await page.getByRole('button', { name: 'Run as job' }).click();
    await page.locator('.job-link a').click();
    await page.locator('.facts .status.completed').waitFor();
    const rows = page.locator('.trace .trace-row');
    await rows.filter({ hasText: 'trigger' }).first().waitFor();
    const labels = await rows.locator('.trace-label code').allTextContents();
    for (const block of ['trigger', 'save', 'log', 'reply']) assert.ok(labels.includes(block), `trace rows: ${labels}`);
    assert.match(await page.locator('pre.artifact').textContent(), /Placed order for 7/);
    // The inputs it was given, shown back as text.
    assert.deepEqual(JSON.parse(await page.locator('pre.inputs').textContent()), { user_id: '7', items: ['tea'] });
    await page.locator('.events li.ev-done').waitFor();
    await page.screenshot({ path: join(OUT, 'console-job.png'), fullPage: true });
    // The jobs list of the agent shows it, with the status filter.
    await page.goto(`${host.url}/console/#/jobs/hello?status=completed`);
    await page.locator('table tbody tr').first().waitFor();
    assert.match(await page.locator('.pager').textContent(), /of \d+/);
    // The blueprint it ran, with a block selected: the README's screenshot (docs/console.png).
    await page.goto(`${host.url}/console/#/agents/hello/blueprints/place_order`);
    await page.locator('.node[data-block="save"]').click();
    await page.getByRole('heading', { name: 'Block save' }).waitFor();
    await page.screenshot({ path: join(OUT, 'console.png') });
  });
});

test('parallel branches overlap on the trace timeline (real start offsets)', async () => {
  await withPage('timeline-overlap', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/run/parallel/fan`);
    await page.getByLabel(/^Inputs/).fill('{}');
    await page.getByRole('button', { name: 'Run as job' }).click();
    await page.locator('.job-link a').click();
    await page.locator('.facts .status.completed').waitFor();
    await page.getByText(/Each bar starts when its block started/).waitFor();
    const span = async (block) => {
      const bar = page.locator('.trace-row').filter({ has: page.locator('code', { hasText: new RegExp(`^${block}$`) }) }).locator('svg.trace-bar');
      const start = Number(await bar.getAttribute('data-start-us'));
      return [start, start + Number(await bar.getAttribute('data-duration-us'))];
    };
    const [left, right, reply] = [await span('left'), await span('right'), await span('reply')];
    assert.ok(left[0] < right[1] && right[0] < left[1], `left ${left} and right ${right} do not overlap`);
    assert.ok(reply[0] >= Math.max(left[1], right[1]), `reply ${reply} starts before the branches end`);
    // Drawn so too: the two bars share some x range.
    const box = async (block) => page.locator('.trace-row').filter({ has: page.locator('code', { hasText: new RegExp(`^${block}$`) }) }).locator('rect.bar').boundingBox();
    const [l, r] = [await box('left'), await box('right')];
    assert.ok(l.x < r.x + r.width && r.x < l.x + l.width, `bars ${JSON.stringify(l)} ${JSON.stringify(r)} do not overlap`);
    await page.screenshot({ path: join(OUT, 'console-timeline.png'), fullPage: true });
  });
});

test('test a draft with given inputs, and with the Default result', async () => {
  await withPage('test-inputs', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/agents/hello/edit`);
    await page.getByLabel(/^Agent JSON/).waitFor();
    await page.getByLabel(/^Test inputs/).fill('{"name": "Tess"}');
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page.locator('.result .events li.ev-delta').filter({ hasText: 'Hello, Tess!' }).waitFor();
    await page.locator('.result .job-link a').click();
    await page.locator('pre.inputs').filter({ hasText: 'Tess' }).waitFor();
    await page.goBack();
    await page.getByLabel(/^Test inputs/).fill('');
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page.locator('.result .events li.ev-delta').filter({ hasText: 'Hello, World!' }).waitFor();
    // Not an object: refused before anything is sent.
    await page.getByLabel(/^Test inputs/).fill('[1]');
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    await page.getByText('Test inputs must be a JSON object').waitFor();
  });
});

test('edit a draft with an error: shown on the block; fix, deploy, roll back', async () => {
  await withPage('edit-deploy', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/agents/hello/edit`);
    const editor = page.getByLabel(/^Agent JSON/);
    await editor.waitFor();
    const broken = structuredClone(hello);
    broken.blueprints[0].blocks[1].fields = { valeu: 'Hello' };
    await editor.fill(JSON.stringify(broken, null, 2));
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.locator('.graph-slot .node.invalid[data-block="greet"]').waitFor();
    assert.match(await page.locator('.issues').textContent(), /greet/);
    // The preview follows the text: invalid JSON is reported, not drawn.
    await editor.fill('{"name": ');
    await page.getByText(/Not valid JSON/).waitFor();
    await editor.fill(JSON.stringify(hello, null, 2));
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved: it is valid.').waitFor();
    assert.equal(await page.locator('.graph-slot .node.invalid').count(), 0);
    await page.getByRole('button', { name: 'Save and deploy' }).click();
    await page.getByText(/Deployed as version 2/).waitFor();
    // A draft that differs from the deployed version: the agent page shows both, and what differs.
    const changed = structuredClone(hello);
    changed.blueprints[0].blocks[1].fields.value = 'Howdy, @{result.inputs.name}!';
    await editor.fill(JSON.stringify(changed, null, 2));
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved: it is valid.').waitFor();
    await page.goto(`${host.url}/console/#/agents/hello`);
    await page.getByText('v2', { exact: true }).first().waitFor();
    const row = page.locator('table.changes tbody tr').filter({ hasText: 'greet' });
    await row.waitFor();
    assert.match(await row.textContent(), /changed.*fields\.value/);
    assert.match(await page.getByLabel('Draft definition').textContent(), /Howdy/);
    assert.match(await page.getByLabel('Definition of v2 (deployed)').textContent(), /Hello, @\{result/);
    await page.screenshot({ path: join(OUT, 'console-compare.png'), fullPage: true });
    await page.getByRole('button', { name: 'Roll back to version 1' }).click();
    await page.getByText('Roll back to v1: done.').waitFor();
    await page.locator('dd').filter({ hasText: /^v1$/ }).first().waitFor();
  });
});

test('reload plugins from the blocks catalogue', async () => {
  await withPage('reload-plugins', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/blocks`);
    await page.getByText(/block types from/).waitFor();
    await page.getByRole('button', { name: 'Reload plugins' }).click();
    await page.getByText(/Reloaded: catalogue generation \d+/).waitFor();
    await page.locator('details.block-type summary').filter({ hasText: 'api_trigger' }).waitFor();
  });
});

test(`the payload ${XSS} in names and results is shown as text and never runs`, async () => {
  await withPage('xss', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/agents`);
    await page.getByRole('cell', { name: XSS, exact: true }).waitFor();
    await page.goto(`${host.url}/console/#/agents/xss`);
    await page.getByText(XSS, { exact: false }).first().waitFor();
    // The deployed version's definition beside the draft: text too.
    await page.getByLabel('Definition of v1 (deployed)').filter({ hasText: XSS }).waitFor();
    assert.equal(await page.locator('img').count(), 0, 'an <img> element was created from a definition');
    await page.goto(`${host.url}/console/#/run/xss/echo`);
    await page.getByLabel(/^Inputs/).fill(JSON.stringify({ name: XSS }));
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('output.artifact').filter({ hasText: XSS }).waitFor();
    assert.equal(await page.locator('output.artifact').textContent(), XSS);
    await page.locator('.job-link a').click();
    await page.locator('pre.artifact').filter({ hasText: XSS }).waitFor();
    await page.locator('pre.inputs').filter({ hasText: XSS }).waitFor();
    assert.equal(await page.locator('img').count(), 0, 'an <img> element was created from API text');
    await page.waitForTimeout(200); // an onerror handler would have fired by now
  });
  assert.deepEqual(dialogs, []);
});

test('an invoke-only key runs and sees jobs, but cannot reach admin actions', async () => {
  await withPage('invoke-only', async (page) => {
    await logIn(page, INVOKE_KEY);
    assert.equal(await page.locator('#who').textContent(), 'Key scopes: invoke');
    for (const path of ['#/agents', '#/blocks', '#/agents/hello', '#/agents/hello/edit']) {
      await page.goto(`${host.url}/console/${path}`);
      await page.getByText('This page needs an API key with the admin scope').waitFor();
      assert.equal(await page.getByRole('button', { name: /Reload plugins|Deploy|Roll back|Undeploy|Save/ }).count(), 0, path);
    }
    await page.goto(`${host.url}/console/#/run/hello/hello`);
    await page.getByLabel(/^Inputs/).fill('{"name": "Ada"}');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('output.artifact').filter({ hasText: 'Hello, Ada!' }).waitFor();
    // A key sees only the jobs it created (docs/security.md): submit one, then find it listed.
    await page.getByRole('button', { name: 'Run as job' }).click();
    await page.locator('.job-link').filter({ hasText: 'Queued job' }).waitFor();
    const jobId = (await page.locator('.job-link a').textContent()).trim();
    await page.goto(`${host.url}/console/#/jobs/hello`);
    await page.locator('table tbody tr').first().waitFor();
    assert.match(await page.locator('table tbody').textContent(), new RegExp(jobId));
  });
});

test('a 200-block blueprint graph renders (time printed, not asserted); 390 px wide stays usable', async () => {
  await withPage('graph-200', async (page) => {
    await logIn(page, ADMIN_KEY);
    await page.goto(`${host.url}/console/#/agents`);
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    const started = await page.evaluate(() => {
      const t = performance.now();
      location.hash = '#/agents/big/blueprints/big';
      return t;
    });
    await page.locator('.graph-frame[data-blocks="200"] .node').nth(199).waitFor();
    // Painted: the frame after the graph is in the document (style, layout and paint included).
    const [finished, drawMs, layoutMs] = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => {
      const frame = document.querySelector('.graph-frame');
      resolve([performance.now(), frame.dataset.renderMs, frame.dataset.layoutMs]);
    }))));
    console.log(`# first render of a 200-block blueprint: ${(finished - started).toFixed(0)} ms from navigation to painted (two API calls included), ${drawMs} ms layout + SVG (${layoutMs} ms of it layout)`);
    await page.screenshot({ path: join(OUT, 'console-graph-200.png') });
    // A generous bound: it answered at all (the 300 ms is printed above, not asserted).
    assert.ok(Number(drawMs) < 3000, `layout + SVG took ${drawMs} ms`);
    // Every block has its own place: no two nodes overlap.
    const boxes = await page.evaluate(() => [...document.querySelectorAll('.graph-frame .node > rect')].map((r) => {
      const b = r.getBoundingClientRect();
      return [b.left, b.top, b.right, b.bottom];
    }));
    for (let i = 0; i < boxes.length; i += 1) {
      for (let j = i + 1; j < boxes.length; j += 1) {
        const [a, b] = [boxes[i], boxes[j]];
        assert.ok(a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1], `nodes ${i} and ${j} overlap`);
      }
    }
    assert.equal(await page.locator('.graph-frame .edge-label').count() >= 199, true);
    // Keyboard: Tab reaches a block; Enter opens its fields and type docs.
    await page.locator('.node[data-block="b5"]').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Block b5' }).waitFor();
  });
  await withPage('narrow', async (page) => {
    await logIn(page, ADMIN_KEY);
    const pages = [['#/overview', '.tile'], ['#/run/hello/hello', 'textarea'], ['#/jobs/hello', '.pager span'],
      ['#/blocks', 'details.block-type'], ['#/agents/hello', 'table tbody tr'], ['#/agents/hello/blueprints/hello', '.graph-frame .node']];
    for (const [path, ready] of pages) {
      await page.goto(`${host.url}/console/${path}`);
      await page.locator(ready).first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow} px at 390 px`);
    }
    await page.screenshot({ path: join(OUT, 'console-390.png'), fullPage: true });
  }, { width: 390, height: 844 });
  assert.deepEqual(cspViolations, []);
});
