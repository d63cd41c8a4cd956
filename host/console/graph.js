// SPDX-License-Identifier: Apache-2.0
// A blueprint drawn as SVG: blocks as nodes (id and type), edges labelled with the end state they
// leave on, the API Trigger and Return Values marked, invalid blocks flagged. Laid out by
// layout.js (layered: a blueprint is a DAG, so ranks read top to bottom). The SVG is built
// detached and inserted once; one click and one keydown listener serve every block.
import { layeredLayout } from './layout.js';
import { h, s } from './dom.js';

const NODE_HEIGHT = 46;
const CHAR_WIDTH = 7.2; // 12px sans-serif, measured on the console's font; text is clipped past it
const MIN_WIDTH = 110;
const MAX_WIDTH = 230;
let graphCount = 0;

function targetsOf(next) {
  const edges = [];
  if (!next || typeof next !== 'object' || Array.isArray(next)) return edges;
  for (const [state, target] of Object.entries(next)) {
    for (const id of Array.isArray(target) ? target : [target]) {
      if (typeof id === 'string') edges.push([state, id]);
    }
  }
  return edges;
}

/** The role of a block: 'trigger', 'return' or ''. The catalogue says, else the type's name. */
export function roleOf(block, catalogue) {
  const type = catalogue && catalogue.get(block.type);
  if (type && type.role) return type.role;
  if (block.type === 'api_trigger') return 'trigger';
  if (block.type === 'return_value') return 'return';
  return '';
}

function clip(text, width) {
  const max = Math.floor((width - 16) / CHAR_WIDTH);
  return text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text;
}

/**
 * Draws `blueprint` ({id, blocks:[{id,type,fields,next}]}). Options: catalogue (Map type →
 * manifest), issues (Map block id → [messages]), selected (block id), onSelect(block).
 * Returns the figure element; its dataset.renderMs is the time taken by layout and drawing.
 */
export function drawBlueprint(blueprint, { catalogue, issues, selected, onSelect } = {}) {
  const started = performance.now();
  const blocks = Array.isArray(blueprint && blueprint.blocks) ? blueprint.blocks : [];
  const byId = new Map();
  for (const block of blocks) if (block && typeof block.id === 'string') byId.set(block.id, block);

  const layoutNodes = [];
  for (const [id, block] of byId) {
    const longest = Math.max(id.length, String(block.type || '').length + 2);
    const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, longest * CHAR_WIDTH + 28));
    layoutNodes.push({ id, width, height: NODE_HEIGHT });
  }
  const dangling = [];
  const layoutEdges = [];
  for (const [id, block] of byId) {
    for (const [state, target] of targetsOf(block.next)) {
      if (!byId.has(target)) {
        dangling.push(`${id} → ${target} (${state})`);
        continue;
      }
      layoutEdges.push({ from: id, to: target, state });
    }
  }
  const laid = layeredLayout(layoutNodes, layoutEdges, { nodesep: 24, ranksep: 46, margin: 8 });
  const laidOut = performance.now();

  const width = Math.max(1, Math.ceil(laid.width || 1));
  const height = Math.max(1, Math.ceil(laid.height || 1));
  const arrowId = `arrow-${++graphCount}`;
  const svg = s('svg', {
    class: 'graph',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'group',
    'aria-label': `Blueprint ${blueprint && blueprint.id ? blueprint.id : ''}: ${byId.size} blocks`,
  });
  svg.append(s('defs', {}, s('marker', { id: arrowId, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));

  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  laid.edges.forEach((edge, i) => {
    if (!edge) return;
    const state = layoutEdges[i].state;
    const d = edge.points.map((p, k) => `${k ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    edgeLayer.append(s('path', { d, class: `edge state-${state === 'error' ? 'error' : 'other'}`, 'marker-end': `url(#${arrowId})` }));
    const w = state.length * CHAR_WIDTH + 8;
    labelLayer.append(s('g', { class: 'edge-label', transform: `translate(${(edge.labelPoint.x - w / 2).toFixed(1)},${(edge.labelPoint.y - 8).toFixed(1)})` },
      s('rect', { width: w.toFixed(1), height: 16, rx: 3 }),
      s('text', { x: 4, y: 12 }, state)));
  });
  svg.append(edgeLayer, labelLayer);

  const nodeLayer = s('g', { class: 'nodes' });
  for (const [id, node] of laid.nodes) {
    const block = byId.get(id);
    const role = roleOf(block, catalogue);
    const problems = (issues && issues.get(id)) || [];
    const classes = ['node', role, problems.length ? 'invalid' : '', selected === id ? 'selected' : ''].filter(Boolean).join(' ');
    const label = `Block ${id}, type ${block.type}${role ? `, ${role === 'trigger' ? 'API trigger' : 'return value'}` : ''}${problems.length ? `, error: ${problems.join('; ')}` : ''}`;
    const group = s('g', {
      class: classes,
      transform: `translate(${(node.x - node.width / 2).toFixed(1)},${(node.y - node.height / 2).toFixed(1)})`,
      tabindex: onSelect ? 0 : undefined,
      role: onSelect ? 'button' : 'img',
      'aria-label': label,
      dataset: { block: id },
    },
    s('title', {}, problems.length ? `${id}: ${problems.join('\n')}` : `${id} (${block.type})`),
    s('rect', { width: node.width.toFixed(1), height: node.height, rx: 6 }),
    s('text', { x: 8, y: 19, class: 'block-id' }, clip(id, node.width)),
    s('text', { x: 8, y: 36, class: 'block-type' }, clip(`${role === 'trigger' ? '▶ ' : role === 'return' ? '⏎ ' : ''}${block.type || '?'}`, node.width)));
    if (problems.length) group.append(s('text', { x: node.width - 16, y: 19, class: 'badge' }, '!'));
    nodeLayer.append(group);
  }
  svg.append(nodeLayer);
  if (onSelect) {
    // One listener each for every block: the block is found from the event's target.
    const blockOf = (event) => {
      const group = event.target.closest && event.target.closest('.node');
      return group ? byId.get(group.dataset.block) : undefined;
    };
    svg.addEventListener('click', (event) => {
      const block = blockOf(event);
      if (block) onSelect(block);
    });
    svg.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      const block = blockOf(event);
      if (!block) return;
      event.preventDefault();
      onSelect(block);
    });
  }

  const figure = h('figure', { class: 'graph-frame' },
    h('div', { class: 'graph-scroll' }, svg),
    h('figcaption', {},
      h('span', { class: 'legend trigger' }, '▶ API trigger'), ' ',
      h('span', { class: 'legend return' }, '⏎ Return Value'), ' ',
      h('span', { class: 'legend invalid' }, '! invalid'), ' · edges are labelled with the end state they leave on'),
    dangling.length ? h('p', { class: 'notice error', role: 'alert' }, `Edges to blocks that do not exist: ${dangling.join(', ')}`) : null);
  figure.dataset.renderMs = (performance.now() - started).toFixed(1);
  figure.dataset.layoutMs = (laidOut - started).toFixed(1);
  figure.dataset.blocks = String(byId.size);
  return figure;
}
