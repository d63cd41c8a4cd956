// SPDX-License-Identifier: Apache-2.0
// Agents (admin): the deployed list, one agent's versions with deploy / roll back / undeploy,
// its draft beside the deployed version (or any numbered one) with what differs, and a
// blueprint's graph with the selected block's fields and its type's documentation.
import { api, seg } from './api.js';
import { loadCatalogue } from './catalogue.js';
import { compareDefinitions } from './compare.js';
import { field, h, notice, pretty, replace, when } from './dom.js';
import { drawBlueprint } from './graph.js';

export async function renderList(ctx) {
  const { main } = ctx;
  const body = await api('GET', '/v1/agents');
  const list = Array.isArray(body.agents) ? body.agents : [];
  const details = await Promise.all(list.map((a) => api('GET', `/v1/agents/${seg(a.id)}`).catch(() => null)));
  const open = h('input', { type: 'text', name: 'agent', required: true, pattern: '[A-Za-z0-9_.\\-]{1,128}' });
  const form = h('form', { class: 'inline' }, field('Agent id', open, 'Drafts and undeployed agents are not listed: open one by id, or name a new one.'),
    h('button', { type: 'submit' }, 'Open'), h('button', { type: 'button', onclick: () => { if (open.reportValidity()) ctx.go(`#/agents/${seg(open.value)}/edit`); } }, 'New / edit draft'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.go(`#/agents/${seg(open.value)}`);
  });
  main.append(h('h1', {}, 'Agents'),
    list.length === 0 ? notice('info', 'No agent is deployed.') :
      h('table', {},
        h('caption', {}, 'Deployed agents'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Deployed version'), h('th', { scope: 'col' }, 'Last change'), h('th', { scope: 'col' }, 'API blueprints'))),
        h('tbody', {}, list.map((a, i) => h('tr', {},
          h('td', {}, h('a', { href: `#/agents/${seg(a.id)}` }, a.id)),
          h('td', {}, a.name),
          h('td', {}, `v${a.version}`),
          h('td', {}, details[i] ? when(details[i].updated_at) : '—'),
          h('td', {}, (a.blueprints || []).map((b, j) => [j ? ', ' : '', h('a', { href: `#/run/${seg(a.id)}/${seg(b.id)}` }, b.id)])))))),
    form);
}

function blueprintRows(agentId, blueprints) {
  return h('ul', { class: 'plain' }, blueprints.map((b) => h('li', {},
    h('a', { href: `#/agents/${seg(agentId)}/blueprints/${seg(b.id)}` }, b.id), ' ',
    b.name && b.name !== b.id ? h('span', { class: 'muted' }, `(${b.name}) `) : null,
    b.api_trigger === false ? h('span', { class: 'muted' }, 'no API trigger') : h('a', { href: `#/run/${seg(agentId)}/${seg(b.id)}` }, 'Run'))));
}

export async function renderAgent(ctx) {
  const { main, params: [agentId] } = ctx;
  const status = h('div', { 'aria-live': 'polite' });
  const view = h('div');
  main.append(h('h1', {}, 'Agent ', h('code', {}, agentId)), status, view);

  async function act(label, method, path, body) {
    replace(status, notice('info', `${label}…`));
    try {
      await api(method, path, body);
      replace(status, notice('ok', `${label}: done.`));
    } catch (e) {
      replace(status, notice('error', `${label} failed: ${e.message}`));
    }
    await draw();
  }

  let chosen = 0; // the version picked to show beside the draft (0: the deployed one, else the latest)

  /** The draft beside a numbered version: what differs, then both definitions side by side. */
  function comparison(agent, version, versions) {
    const title = h('h2', { id: 'compare-title' }, 'Draft and deployed version');
    if (!version) {
      return h('section', { 'aria-labelledby': 'compare-title' }, title,
        h('div', { class: 'columns' },
          h('section', { 'aria-labelledby': 'draft-title' }, h('h3', { id: 'draft-title' }, 'Draft'), blueprintRows(agentId, agent.blueprints || [])),
          h('section', { 'aria-labelledby': 'deployed-title' }, h('h3', { id: 'deployed-title' }, 'Deployed: none'),
            notice('info', 'No version yet: deploy the draft to make version 1. Runs answer 409 agent_not_deployed until then.'))));
    }
    const picker = h('select', { name: 'compare' }, versions.map((v) => h('option', { value: String(v), selected: v === version.version },
      `v${v}${v === agent.deployed_version ? ' (deployed)' : ''}`)));
    picker.addEventListener('change', () => {
      chosen = Number(picker.value);
      draw();
    });
    const label = `v${version.version}${version.deployed ? ' (deployed)' : ''}`;
    const changes = compareDefinitions(version.definition, agent.draft);
    const changeRows = changes.map((c) => h('tr', { class: `change ${c.change}` },
      h('td', {}, c.blueprint || '(agent)'),
      h('td', {}, c.block ? h('code', {}, c.block) : '—'),
      h('td', {}, c.change === 'added' ? `only in the draft` : c.change === 'removed' ? `only in ${label}` : 'changed'),
      h('td', {}, (c.parts || []).join(', '))));
    return h('section', { 'aria-labelledby': 'compare-title' }, title,
      h('div', { class: 'inline' }, field('Compare the draft with', picker)),
      changes.length === 0 ? notice('ok', `The draft is the same as ${label}.`) :
        h('table', { class: 'changes' }, h('caption', {}, `What the draft changes from ${label}`),
          h('thead', {}, h('tr', {}, ['Blueprint', 'Block', 'Difference', 'Parts'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, changeRows)),
      h('div', { class: 'columns' },
        h('section', { 'aria-labelledby': 'draft-title' }, h('h3', { id: 'draft-title' }, 'Draft'),
          blueprintRows(agentId, agent.blueprints || []),
          h('pre', { class: 'definition', 'aria-label': 'Draft definition' }, pretty(agent.draft))),
        h('section', { 'aria-labelledby': 'deployed-title' }, h('h3', { id: 'deployed-title' }, label),
          blueprintRows(agentId, version.blueprints || []),
          h('pre', { class: 'definition', 'aria-label': `Definition of ${label}` }, pretty(version.definition)))));
  }

  async function draw() {
    const agent = await api('GET', `/v1/agents/${seg(agentId)}`);
    const versions = [];
    for (let v = agent.latest_version; v >= 1; v -= 1) versions.push(v);
    const compared = versions.includes(chosen) ? chosen : agent.deployed_version || agent.latest_version || 0;
    const version = compared ? await api('GET', `/v1/agents/${seg(agentId)}/versions/${compared}`) : null;
    replace(view,
      h('dl', { class: 'facts' },
        h('dt', {}, 'Name'), h('dd', {}, agent.name),
        h('dt', {}, 'Deployed version'), h('dd', {}, agent.deployed_version ? `v${agent.deployed_version}` : 'not deployed'),
        h('dt', {}, 'Latest version'), h('dd', {}, agent.latest_version ? `v${agent.latest_version}` : 'none yet'),
        h('dt', {}, 'Last change'), h('dd', {}, when(agent.updated_at))),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: `#/agents/${seg(agentId)}/edit` }, 'Edit draft'),
        h('button', { type: 'button', class: 'primary', onclick: () => act('Deploy the draft', 'POST', `/v1/agents/${seg(agentId)}/deploy`, {}) }, 'Deploy draft'),
        h('button', { type: 'button', disabled: !agent.deployed_version, onclick: () => act('Undeploy', 'POST', `/v1/agents/${seg(agentId)}/undeploy`, {}) }, 'Undeploy'),
        h('a', { class: 'button', href: `#/jobs/${seg(agentId)}` }, 'Jobs')),
      comparison(agent, version, versions),
      h('h2', {}, 'Versions'),
      versions.length === 0 ? notice('info', 'No version yet: deploy the draft to make version 1.') :
        h('table', {}, h('caption', {}, 'Numbered versions, newest first'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Version'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Action'))),
          h('tbody', {}, versions.map((v) => h('tr', {},
            h('td', {}, `v${v}`),
            h('td', {}, v === agent.deployed_version ? h('strong', {}, 'deployed') : ''),
            h('td', {}, v === agent.deployed_version ? '' : h('button', {
              type: 'button',
              'aria-label': `Roll back to version ${v}`,
              onclick: () => act(`Roll back to v${v}`, 'POST', `/v1/agents/${seg(agentId)}/deploy`, { version: v }),
            }, v < (agent.deployed_version || 0) ? 'Roll back to this version' : 'Deploy this version')))))));
  }
  await draw();
}

/** A block type's documentation, from its manifest. */
export function typeDocs(manifest) {
  if (!manifest) return notice('info', 'This type is not in the current catalogue.');
  return h('div', { class: 'type-docs' },
    h('h3', {}, manifest.name || manifest.type, ' ', h('code', {}, manifest.type)),
    manifest.description ? h('p', {}, manifest.description) : null,
    h('p', {}, 'End states: ', (manifest.end_states || []).join(', ') || '—'),
    h('table', {}, h('caption', {}, 'Fields'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'About'))),
      h('tbody', {}, (manifest.fields || []).map((f) => h('tr', {},
        h('td', {}, h('code', {}, f.name), f.required ? ' (required)' : ''),
        h('td', {}, f.type || ''),
        h('td', {}, f.description || '', f.options ? ` Options: ${f.options.join(', ')}.` : ''))))),
    manifest.plugin ? h('p', { class: 'muted' }, `Plugin ${manifest.plugin.id} ${manifest.plugin.version}, generation ${manifest.plugin.generation}`) : null);
}

/** The selected block's panel: its id, type, fields and next, then its type's docs. */
export function blockPanel(block, catalogue) {
  if (!block) return h('p', { class: 'muted' }, 'Select a block (click, or Tab to it and press Enter) to see its fields and its type.');
  return h('div', {},
    h('h2', {}, 'Block ', h('code', {}, block.id)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Type'), h('dd', {}, block.type),
      h('dt', {}, 'Fields'), h('dd', {}, h('pre', {}, pretty(block.fields || {}))),
      h('dt', {}, 'Next'), h('dd', {}, h('pre', {}, pretty(block.next || {})))),
    typeDocs(catalogue.byType.get(block.type)));
}

export async function renderBlueprint(ctx) {
  const { main, params: [agentId, blueprintId] } = ctx;
  const [agent, catalogue] = await Promise.all([api('GET', `/v1/agents/${seg(agentId)}`), loadCatalogue()]);
  const blueprint = ((agent.draft && agent.draft.blueprints) || []).find((b) => b && b.id === blueprintId);
  main.append(h('h1', {}, 'Blueprint ', h('code', {}, blueprintId)),
    h('p', {}, 'Agent ', h('a', { href: `#/agents/${seg(agentId)}` }, agentId), ' (draft) · ',
      h('a', { href: `#/agents/${seg(agentId)}/edit` }, 'Edit'), ' · ', h('a', { href: `#/run/${seg(agentId)}/${seg(blueprintId)}` }, 'Run')));
  if (!blueprint) {
    main.append(notice('error', `The draft of agent ${agentId} has no blueprint ${blueprintId}.`));
    return;
  }
  const graphSlot = h('div', { class: 'graph-slot' });
  const panel = h('aside', { class: 'panel', 'aria-live': 'polite' });
  main.append(h('div', { class: 'split' }, graphSlot, panel));
  graphSlot.append(drawBlueprint(blueprint, {
    catalogue: catalogue.byType,
    onSelect: (block) => {
      for (const node of graphSlot.querySelectorAll('.node.selected')) node.classList.remove('selected');
      const node = graphSlot.querySelector(`[data-block="${CSS.escape(block.id)}"]`);
      if (node) node.classList.add('selected');
      replace(panel, blockPanel(block, catalogue));
    },
  }));
  replace(panel, blockPanel(null, catalogue));
}
