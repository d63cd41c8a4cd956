// SPDX-License-Identifier: Apache-2.0
// Run a deployed blueprint (invoke): an inputs editor checked before sending, the SSE stream shown
// event by event as it arrives, the run's X-Job-Id linked, Run as job, and the same call as curl.
import { api, seg, stream } from './api.js';
import { field, h, notice, replace } from './dom.js';

/** One SSE event as a list item. */
export function eventLine(event) {
  if (event === '[DONE]') return h('li', { class: 'ev-done' }, '[DONE]');
  if (event && typeof event === 'object') {
    if ('delta' in event) return h('li', { class: 'ev-delta' }, h('span', { class: 'tag' }, 'delta'), ' ', typeof event.delta === 'string' ? event.delta : JSON.stringify(event.delta));
    if (event.status === 'error') return h('li', { class: 'ev-error' }, h('span', { class: 'tag' }, 'error'), ' ', String(event.message));
    if ('status' in event) return h('li', { class: 'ev-status' }, h('span', { class: 'tag' }, String(event.status)), event.message ? ` ${event.message}` : '');
  }
  return h('li', {}, typeof event === 'string' ? event : JSON.stringify(event));
}

function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The curl line for the same call; the key stays a variable, never the real one. */
export function curlLine(path, body) {
  return `curl -N -H "Authorization: Bearer $BLUEPRINT_KEY" -H 'Content-Type: application/json' -d ${shellQuote(body)} ${shellQuote(location.origin + path)}`;
}

async function chooser(ctx) {
  const { main, scopes } = ctx;
  main.append(h('h1', {}, 'Run a blueprint'));
  if (scopes.admin) {
    const agents = (await api('GET', '/v1/agents')).agents || [];
    const items = agents.flatMap((a) => (a.blueprints || []).map((b) => h('li', {}, h('a', { href: `#/run/${seg(a.id)}/${seg(b.id)}` }, `${a.id} / ${b.id}`), b.name && b.name !== b.id ? ` (${b.name})` : '')));
    main.append(items.length ? h('ul', { class: 'plain' }, items) : notice('info', 'No deployed blueprint has an API trigger.'));
  }
  const agent = h('input', { type: 'text', required: true, name: 'agent' });
  const blueprint = h('input', { type: 'text', required: true, name: 'blueprint' });
  const form = h('form', { class: 'inline' }, field('Agent id', agent), field('Blueprint id', blueprint), h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.go(`#/run/${seg(agent.value)}/${seg(blueprint.value)}`);
  });
  main.append(form);
}

export async function render(ctx) {
  const { main, params } = ctx;
  if (params.length < 2) return chooser(ctx);
  const [agentId, blueprintId] = params;
  const path = `/v1/agents/${seg(agentId)}/blueprints/${seg(blueprintId)}`;
  const inputs = h('textarea', { class: 'code', rows: 8, spellcheck: 'false', autocomplete: 'off' });
  inputs.value = ctx.query.get('inputs') || '{\n  "name": "Ada"\n}';
  const check = h('div', { 'aria-live': 'polite' });
  const curl = h('input', { type: 'text', readonly: true, class: 'code' });
  const output = h('output', { class: 'artifact', 'aria-label': 'Run output' });
  const events = h('ol', { class: 'events', 'aria-label': 'Stream events' });
  const jobLink = h('p', { class: 'job-link' });
  let controller = null;
  ctx.onLeave(() => controller && controller.abort());

  function body() {
    let value;
    try {
      value = JSON.parse(inputs.value);
    } catch (e) {
      replace(check, notice('error', `Inputs are not valid JSON: ${e.message}`));
      inputs.setAttribute('aria-invalid', 'true');
      return null;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      replace(check, notice('error', 'Inputs must be a JSON object, e.g. {"name": "Ada"}.'));
      inputs.setAttribute('aria-invalid', 'true');
      return null;
    }
    inputs.removeAttribute('aria-invalid');
    replace(check);
    return JSON.stringify({ inputs: value });
  }
  function refreshCurl() {
    const text = body();
    curl.value = text ? curlLine(path, text) : '';
  }
  inputs.addEventListener('input', refreshCurl);

  async function runNow() {
    const text = body();
    if (!text) return;
    if (controller) controller.abort();
    controller = new AbortController();
    replace(events);
    replace(jobLink);
    output.textContent = '';
    try {
      await stream('POST', path, text, {
        signal: controller.signal,
        onOpen: (response) => {
          const id = response.headers.get('X-Job-Id');
          if (id) replace(jobLink, 'Job ', h('a', { href: `#/job/${seg(id)}` }, id));
        },
        onEvent: (event) => {
          events.append(eventLine(event));
          if (event && typeof event === 'object' && 'delta' in event) output.textContent += typeof event.delta === 'string' ? event.delta : JSON.stringify(event.delta);
        },
      });
    } catch (e) {
      if (e.name !== 'AbortError') events.append(h('li', { class: 'error' }, `${e.message}${e.code ? ` (${e.code})` : ''}`));
    }
  }

  async function runAsJob() {
    const text = body();
    if (!text) return;
    try {
      const job = await api('POST', `${path}/jobs`, text);
      replace(jobLink, 'Queued job ', h('a', { href: `#/job/${seg(job.job_id)}` }, job.job_id));
    } catch (e) {
      replace(jobLink, notice('error', `${e.message}${e.code ? ` (${e.code})` : ''}`));
    }
  }

  async function copyCurl() {
    curl.select();
    try {
      await navigator.clipboard.writeText(curl.value);
      replace(check, notice('ok', 'Copied.'));
    } catch (e) {
      replace(check, notice('info', 'Select the line and copy it (the clipboard is not available here).'));
    }
  }

  main.append(
    h('h1', {}, 'Run ', h('code', {}, `${agentId} / ${blueprintId}`)),
    h('p', {}, h('a', { href: `#/jobs/${seg(agentId)}` }, `Jobs of ${agentId}`)),
    field('Inputs (JSON object, sent as {"inputs": …})', inputs),
    check,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onclick: runNow }, 'Run'),
      h('button', { type: 'button', onclick: runAsJob }, 'Run as job'),
      h('button', { type: 'button', onclick: () => controller && controller.abort() }, 'Stop watching')),
    field('The same call with curl ($BLUEPRINT_KEY holds your key)', curl),
    h('button', { type: 'button', onclick: copyCurl }, 'Copy curl line'),
    jobLink,
    h('h2', {}, 'Output'), output,
    h('h2', {}, 'Events'), events);
  refreshCurl();
  return undefined;
}
