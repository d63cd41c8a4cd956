// SPDX-License-Identifier: Apache-2.0
// Jobs (invoke): an agent's jobs with a status filter and paging (limit/offset, so a million
// stored jobs cost one page), refreshed live; a job's page with its inputs, cancel / retry, its
// events (replayed, then followed) and its trace as a timeline.
import { ApiFailure, api, seg, stream } from './api.js';
import { field, h, notice, pretty, replace, when } from './dom.js';
import { eventLine } from './run.js';
import { drawTimeline } from './timeline.js';

const STATUSES = ['queued', 'in_progress', 'completed', 'error', 'cancelled'];
const PAGE = 25;
const FINISHED = new Set(['completed', 'error', 'cancelled']);

function chooser(ctx) {
  const agent = h('input', { type: 'text', required: true, name: 'agent' });
  const job = h('input', { type: 'text', name: 'job' });
  const byAgent = h('form', { class: 'inline' }, field('Agent id', agent), h('button', { type: 'submit' }, 'Show jobs'));
  byAgent.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.go(`#/jobs/${seg(agent.value)}`);
  });
  const byId = h('form', { class: 'inline' }, field('Job id', job), h('button', { type: 'submit' }, 'Open job'));
  byId.addEventListener('submit', (event) => {
    event.preventDefault();
    if (job.value) ctx.go(`#/job/${seg(job.value.trim())}`);
  });
  ctx.main.append(h('h1', {}, 'Jobs'), byAgent, byId);
}

export async function renderList(ctx) {
  const { main, params, query } = ctx;
  if (params.length === 0) return chooser(ctx);
  const [agentId] = params;
  const status = STATUSES.includes(query.get('status')) ? query.get('status') : '';
  const offset = Math.max(0, Number.parseInt(query.get('offset') || '0', 10) || 0);
  const filter = h('select', { name: 'status' }, h('option', { value: '' }, 'any'), STATUSES.map((st) => h('option', { value: st, selected: st === status }, st)));
  filter.addEventListener('change', () => ctx.go(`#/jobs/${seg(agentId)}?status=${filter.value}&offset=0`));
  const live = h('input', { type: 'checkbox', checked: true });
  const table = h('div', { 'aria-live': 'polite' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of jobs' });

  const pageLink = (to, label) => h('a', { class: 'button', href: `#/jobs/${seg(agentId)}?status=${status}&offset=${to}` }, label);
  async function load() {
    const page = await api('GET', `/v1/agents/${seg(agentId)}/jobs?limit=${PAGE}&offset=${offset}${status ? `&status=${status}` : ''}`);
    const jobs = page.result || [];
    replace(table, jobs.length === 0 ? notice('info', offset ? 'No jobs on this page.' : 'No jobs yet.') :
      h('table', {}, h('caption', {}, `Jobs of ${agentId}${status ? ` with status ${status}` : ''}, newest first`),
        h('thead', {}, h('tr', {}, ['Job', 'Status', 'Blueprint', 'Version', 'Created', 'Finished', 'Attempts'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, jobs.map((j) => h('tr', {},
          h('td', {}, h('a', { href: `#/job/${seg(j.job_id)}` }, j.job_id)),
          h('td', {}, h('span', { class: `status ${j.status}` }, j.status)),
          h('td', {}, j.blueprint_id), h('td', {}, `v${j.agent_version}`),
          h('td', {}, when(j.created_at)), h('td', {}, when(j.finished_at)), h('td', {}, String(j.attempts)))))));
    const total = Number(page.totalCount) || 0;
    replace(pager,
      h('span', {}, total ? `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}` : '0 jobs'), ' ',
      offset > 0 ? pageLink(0, 'First') : null, ' ',
      offset > 0 ? pageLink(Math.max(0, offset - PAGE), 'Previous') : null, ' ',
      offset + PAGE < total ? pageLink(offset + PAGE, 'Next') : null);
  }
  main.append(h('h1', {}, 'Jobs of ', h('code', {}, agentId)),
    h('div', { class: 'inline' }, field('Status', filter), h('label', { class: 'check' }, live, ' Live refresh')),
    table, pager);
  try {
    await load();
  } catch (e) {
    replace(table, notice('error', e instanceof ApiFailure ? `${e.message} (${e.code})` : String(e)));
  }
  const timer = setInterval(() => { if (live.checked && !document.hidden) load().catch(() => {}); }, 2000);
  ctx.onLeave(() => clearInterval(timer));
  return undefined;
}

export async function renderJob(ctx) {
  const { main, params: [jobId] } = ctx;
  const facts = h('div', { 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions' });
  const message = h('div', { 'aria-live': 'polite' });
  const events = h('ol', { class: 'events', 'aria-label': 'Job events' });
  const timeline = h('div');
  main.append(h('h1', {}, 'Job ', h('code', {}, jobId)), facts, actions, message,
    h('h2', {}, 'Trace'), timeline, h('h2', {}, 'Events'), events);
  const controller = new AbortController();
  let timer = 0;
  ctx.onLeave(() => { controller.abort(); clearTimeout(timer); });

  async function act(label, verb) {
    try {
      await api('POST', `/v1/agents/jobs/${seg(jobId)}/${verb}`, {});
      replace(message, notice('ok', `${label}: done.`));
    } catch (e) {
      replace(message, notice('error', `${label} failed: ${e.message}`));
    }
    await refresh();
    if (verb === 'retry') followEvents();
  }

  async function refresh() {
    clearTimeout(timer);
    const job = await api('GET', `/v1/agents/jobs/${seg(jobId)}`);
    replace(facts, h('dl', { class: 'facts' },
      h('dt', {}, 'Status'), h('dd', {}, h('span', { class: `status ${job.status}` }, job.status)),
      h('dt', {}, 'Agent'), h('dd', {}, h('a', { href: `#/jobs/${seg(job.agent_id)}` }, job.agent_id), ` v${job.agent_version}`),
      h('dt', {}, 'Blueprint'), h('dd', {}, h('a', { href: `#/run/${seg(job.agent_id)}/${seg(job.blueprint_id)}` }, job.blueprint_id)),
      h('dt', {}, 'Attempts'), h('dd', {}, String(job.attempts)),
      h('dt', {}, 'Created'), h('dd', {}, when(job.created_at)),
      h('dt', {}, 'Started'), h('dd', {}, when(job.started_at)),
      h('dt', {}, 'Finished'), h('dd', {}, when(job.finished_at)),
      h('dt', {}, 'Inputs'), h('dd', {}, job.inputs === null || job.inputs === undefined ? h('span', { class: 'muted' }, 'none (the trigger\'s Default result)') : h('pre', { class: 'inputs', 'aria-label': 'Job inputs' }, pretty(job.inputs))),
      h('dt', {}, 'Artifact'), h('dd', {}, job.artifact === null ? '—' : h('pre', { class: 'artifact' }, job.artifact)),
      h('dt', {}, 'Error'), h('dd', {}, job.error === null ? '—' : h('pre', { class: 'error-text' }, job.error))));
    replace(actions,
      h('button', { type: 'button', disabled: FINISHED.has(job.status), onclick: () => act('Cancel', 'cancel') }, 'Cancel job'),
      h('button', { type: 'button', disabled: job.status !== 'error', onclick: () => act('Retry', 'retry') }, 'Retry job'));
    replace(timeline, drawTimeline(job.trace));
    if (!FINISHED.has(job.status)) timer = setTimeout(() => refresh().catch(() => {}), 1000);
  }

  async function followEvents() {
    replace(events);
    try {
      await stream('GET', `/v1/agents/jobs/${seg(jobId)}/events`, undefined, {
        signal: controller.signal,
        onEvent: (event) => events.append(eventLine(event)),
      });
    } catch (e) {
      if (e.name !== 'AbortError') events.append(h('li', { class: 'error' }, e.message));
    }
  }

  await refresh();
  followEvents();
}
