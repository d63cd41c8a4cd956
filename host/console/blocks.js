// SPDX-License-Identifier: Apache-2.0
// Blocks (admin): the catalogue from GET /v1/blocks (types, fields, end states, plugin, version,
// generation, last_error) and Reload plugins (POST /v1/plugins/reload) with what it reports.
import { api } from './api.js';
import { loadCatalogue } from './catalogue.js';
import { h, notice, pretty, replace } from './dom.js';
import { typeDocs } from './agents.js';

export async function render(ctx) {
  const { main } = ctx;
  const report = h('div', { 'aria-live': 'polite' });
  const list = h('div');

  async function draw(fresh) {
    const catalogue = await loadCatalogue({ fresh });
    replace(list,
      h('p', {}, `Catalogue generation ${catalogue.generation}: ${catalogue.blocks.length} block types from ${catalogue.plugins.length} plugins.`),
      h('table', {}, h('caption', {}, 'Plugins'),
        h('thead', {}, h('tr', {}, ['File', 'Plugin', 'Version', 'Generation', 'Types', 'Last error'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, (catalogue.plugins || []).map((p) => h('tr', {},
          h('td', {}, p.file), h('td', {}, p.id), h('td', {}, p.version), h('td', {}, String(p.generation)),
          h('td', {}, (p.types || []).join(', ')),
          h('td', { class: p.last_error ? 'error-text' : '' }, p.last_error || '—'))))),
      h('h2', {}, 'Block types'),
      catalogue.blocks.map((manifest) => h('details', { class: 'block-type' },
        h('summary', {}, h('code', {}, manifest.type), ` ${manifest.name || ''}`, h('span', { class: 'muted' }, ` · ${(manifest.end_states || []).join(', ')}`)),
        typeDocs(manifest))));
  }

  async function reload() {
    replace(report, notice('info', 'Reloading plugins…'));
    try {
      const result = await api('POST', '/v1/plugins/reload', {});
      const rejected = result.rejected || [];
      replace(report, notice(rejected.length ? 'error' : 'ok', `Reloaded: catalogue generation ${result.catalog_generation}; ${(result.loaded || []).length} loaded, ${rejected.length} rejected, ${(result.removed || []).length} removed.`),
        rejected.length ? h('pre', {}, pretty(rejected)) : null);
    } catch (e) {
      replace(report, notice('error', `Reload failed: ${e.message}`));
    }
    await draw(true);
  }

  main.append(h('h1', {}, 'Blocks'),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: reload }, 'Reload plugins')),
    report, list);
  await draw(false);
}
