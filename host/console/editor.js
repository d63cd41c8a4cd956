// SPDX-License-Identifier: Apache-2.0
// Edit a draft (admin): the agent's JSON in a text editor, its graph re-drawn as you type, the
// validation errors of the last save shown on the blocks they name; save, test, deploy.
import { ApiFailure, api, seg, stream } from './api.js';
import { loadCatalogue } from './catalogue.js';
import { field, h, notice, replace } from './dom.js';
import { blockPanel } from './agents.js';
import { drawBlueprint } from './graph.js';
import { eventLine } from './run.js';

const NEW_AGENT = {
  name: 'New agent',
  blueprints: [{
    id: 'main',
    name: 'Main',
    blocks: [
      { id: 'trigger', type: 'api_trigger', fields: { default_result: '{"inputs":{"name":"World"}}' }, next: { trigger: 'reply' } },
      { id: 'reply', type: 'return_value', fields: { value: 'Hello, @{result.inputs.name}!' } },
    ],
  }],
};

/** "line L, column C" of a JSON.parse error, when the engine reports a position. */
function parsePosition(text, error) {
  const match = /position (\d+)/.exec(error.message);
  if (!match) return '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
}

export async function render(ctx) {
  const { main, params: [agentId] } = ctx;
  const catalogue = await loadCatalogue();
  let initial = NEW_AGENT;
  let exists = true;
  try {
    const agent = await api('GET', `/v1/agents/${seg(agentId)}`);
    initial = agent.draft;
  } catch (e) {
    if (!(e instanceof ApiFailure) || e.status !== 404) throw e;
    exists = false;
  }

  const text = h('textarea', { class: 'code', rows: 24, spellcheck: 'false', autocomplete: 'off', wrap: 'off' });
  text.value = JSON.stringify(initial, null, 2);
  const picker = h('select', {});
  const testInputs = h('textarea', { class: 'code', rows: 4, spellcheck: 'false', autocomplete: 'off', placeholder: '{"name": "Ada"}' });
  const testCheck = h('div', { 'aria-live': 'polite' });
  const parseState = h('div', { 'aria-live': 'polite' });
  const result = h('div', { 'aria-live': 'polite', class: 'result' });
  const graphSlot = h('div', { class: 'graph-slot' });
  const panel = h('aside', { class: 'panel' });
  let issues = []; // [{blueprint, block, field, message}] from the last PUT
  let parsed = initial;

  function issueMap(blueprintId) {
    const map = new Map();
    for (const issue of issues) {
      if (!issue.block || (issue.blueprint && issue.blueprint !== blueprintId)) continue;
      if (!map.has(issue.block)) map.set(issue.block, []);
      map.get(issue.block).push(issue.message);
    }
    return map;
  }

  function redraw() {
    try {
      parsed = JSON.parse(text.value);
    } catch (e) {
      replace(parseState, notice('error', `Not valid JSON${parsePosition(text.value, e)}: ${e.message}`));
      text.setAttribute('aria-invalid', 'true');
      return;
    }
    text.removeAttribute('aria-invalid');
    replace(parseState);
    const blueprints = Array.isArray(parsed && parsed.blueprints) ? parsed.blueprints.filter((b) => b && typeof b === 'object') : [];
    const wanted = picker.value;
    replace(picker, blueprints.map((b) => h('option', { value: String(b.id) }, String(b.id))));
    if (blueprints.some((b) => String(b.id) === wanted)) picker.value = wanted;
    const blueprint = blueprints.find((b) => String(b.id) === picker.value);
    if (!blueprint) {
      replace(graphSlot, notice('info', 'The draft has no blueprint to draw.'));
      return;
    }
    replace(graphSlot, drawBlueprint(blueprint, {
      catalogue: catalogue.byType,
      issues: issueMap(blueprint.id),
      onSelect: (block) => replace(panel, blockPanel(block, catalogue)),
    }));
  }

  let timer = 0;
  text.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(redraw, 120);
  });
  picker.addEventListener('change', redraw);
  ctx.onLeave(() => clearTimeout(timer));

  async function save() {
    redraw();
    if (text.getAttribute('aria-invalid')) {
      replace(result, notice('error', 'Fix the JSON before saving.'));
      return false;
    }
    try {
      await api('PUT', `/v1/agents/${seg(agentId)}`, parsed);
      issues = [];
      exists = true;
      replace(result, notice('ok', 'Draft saved: it is valid.'));
      redraw();
      return true;
    } catch (e) {
      if (!(e instanceof ApiFailure)) throw e;
      issues = Array.isArray(e.details) ? e.details : [];
      const onBlocks = issues.filter((i) => i.block).length;
      replace(result, notice('error', `Not saved: ${e.message}`),
        issues.length ? h('ul', { class: 'issues' }, issues.map((i) => h('li', {}, i.message))) : null,
        onBlocks ? h('p', {}, `${onBlocks} of them are marked on the graph.`) : null);
      redraw();
      return false;
    }
  }

  async function deploy() {
    if (!(await save())) return;
    try {
      const agent = await api('POST', `/v1/agents/${seg(agentId)}/deploy`, {});
      replace(result, notice('ok', `Deployed as version ${agent.deployed_version}. `, h('a', { href: `#/agents/${seg(agentId)}` }, 'Versions')));
    } catch (e) {
      replace(result, notice('error', `Deploy failed: ${e.message}`));
    }
  }

  /** The test body: undefined (no body: the trigger's Default result), the inputs, or null when they are not a JSON object. */
  function testBody() {
    const textValue = testInputs.value.trim();
    replace(testCheck);
    testInputs.removeAttribute('aria-invalid');
    if (textValue === '') return undefined;
    let value;
    try {
      value = JSON.parse(textValue);
    } catch (e) {
      value = undefined;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      replace(testCheck, notice('error', 'Test inputs must be a JSON object, e.g. {"name": "Ada"}, or empty for the Default result.'));
      testInputs.setAttribute('aria-invalid', 'true');
      return null;
    }
    return { inputs: value };
  }

  async function test() {
    const body = testBody();
    if (body === null) return;
    if (!(await save())) return;
    const blueprintId = picker.value;
    const log = h('ol', { class: 'events' });
    replace(result, h('p', {}, `Test run of the draft's ${blueprintId} (${body ? 'with the inputs given' : "the trigger's Default result"}):`), log);
    try {
      await stream('POST', `/v1/agents/${seg(agentId)}/blueprints/${seg(blueprintId)}/test`, body, {
        onOpen: (response) => {
          const jobId = response.headers.get('X-Job-Id');
          if (jobId) log.before(h('p', { class: 'job-link' }, 'Test run ', h('a', { href: `#/job/${seg(jobId)}` }, jobId)));
        },
        onEvent: (event) => log.append(eventLine(event)),
      });
    } catch (e) {
      log.append(h('li', { class: 'error' }, e.message));
    }
  }

  main.append(
    h('h1', {}, exists ? 'Edit draft of ' : 'New agent ', h('code', {}, agentId)),
    h('p', {}, h('a', { href: `#/agents/${seg(agentId)}` }, 'Agent page'), ' · Test runs the saved draft with the test inputs, or with the trigger\'s Default result when they are empty.'),
    h('div', { class: 'split' },
      h('div', {},
        field('Agent JSON ({"name", "blueprints": […]})', text),
        parseState,
        field('Test inputs (JSON object; empty: the trigger\'s Default result)', testInputs),
        testCheck,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: save }, 'Save draft'),
          h('button', { type: 'button', onclick: test }, 'Test'),
          h('button', { type: 'button', onclick: deploy }, 'Save and deploy')),
        result),
      h('div', {}, field('Preview blueprint', picker), graphSlot, panel)));
  redraw();
}
