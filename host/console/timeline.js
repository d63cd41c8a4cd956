// SPDX-License-Identifier: Apache-2.0
// A run's trace as a timeline: one bar per block execution (start, duration, end state, error,
// logs), nested under the loop or sub-blueprint block that ran it.
//
// The trace (GET /v1/agents/jobs/{id} → "trace") lists executions in the order they ended, each
// with its start offset from the run's start (`start_us`), duration and nesting depth. Nesting
// is rebuilt from the end order (a block's nested executions end before it does); bars are drawn
// at their real offsets, so branches that ran concurrently overlap. A trace recorded before the
// host kept start offsets has none: its bars are placed one after the other, in the order of
// the end order, which is exact only for chains.
import { h, s } from './dom.js';

const hasStart = (entry) => Number.isFinite(entry.start_us) && entry.start_us >= 0;

/** Entries in end order → roots [{entry, children, start_us}], siblings in start order. */
export function nest(trace) {
  const entries = (Array.isArray(trace) ? trace : []).filter((e) => e && typeof e === 'object');
  const pending = []; // pending[d]: ended executions at depth d not yet claimed by a parent
  for (const entry of entries) {
    const depth = Number.isInteger(entry.depth) && entry.depth > 0 ? entry.depth : 0;
    const node = { entry, children: [] };
    for (let d = depth + 1; d < pending.length; d += 1) {
      if (pending[d]) node.children.push(...pending[d]);
      pending[d] = [];
    }
    (pending[depth] = pending[depth] || []).push(node);
  }
  const roots = [];
  for (const level of pending) if (level) roots.push(...level);
  if (entries.length > 0 && entries.every(hasStart)) {
    const place = (nodes) => {
      nodes.sort((a, b) => a.entry.start_us - b.entry.start_us);
      for (const node of nodes) {
        node.start_us = node.entry.start_us;
        place(node.children);
      }
    };
    place(roots);
    return roots;
  }
  const place = (nodes, start) => {
    let at = start;
    for (const node of nodes) {
      node.start_us = at;
      place(node.children, at);
      at += Math.max(0, Number(node.entry.duration_us) || 0);
    }
    return at;
  };
  place(roots, 0);
  return roots;
}

export function formatDuration(us) {
  const n = Number(us) || 0;
  if (n < 1000) return `${n} µs`;
  if (n < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 2 : 1)} ms`;
  return `${(n / 1e6).toFixed(2)} s`;
}

/** The timeline element for a trace array. */
export function drawTimeline(trace) {
  const roots = nest(trace);
  if (roots.length === 0) return h('p', { class: 'muted' }, 'No trace: the run has not executed a block yet (or the job was cancelled while queued).');
  let total = 0;
  const walk = (nodes, fn, depth) => nodes.forEach((n) => { fn(n, depth); walk(n.children, fn, depth + 1); });
  walk(roots, (n) => { total = Math.max(total, n.start_us + (Number(n.entry.duration_us) || 0)); }, 0);
  total = Math.max(total, 1);
  const rows = [];
  walk(roots, (node, depth) => {
    const e = node.entry;
    const failed = 'error' in e;
    const w = Math.max(2, ((Number(e.duration_us) || 0) / total) * 1000);
    const x = Math.min((node.start_us / total) * 1000, 1000 - w); // a 2-unit sliver at the end stays in view
    rows.push(h('li', { class: `trace-row depth-${Math.min(depth, 6)}${failed ? ' failed' : ''}`, 'aria-label': `${e.block} (${e.type}) started at ${formatDuration(node.start_us)}, ended ${e.end_state || 'without an end state'} after ${formatDuration(e.duration_us)}${failed ? `, error: ${e.error}` : ''}` },
      h('span', { class: 'trace-label' },
        h('code', {}, String(e.block)), ' ', h('span', { class: 'muted' }, String(e.type)),
        e.blueprint ? h('span', { class: 'muted' }, ` in ${e.blueprint}`) : null),
      s('svg', { class: 'trace-bar', viewBox: '0 0 1000 14', preserveAspectRatio: 'none', 'aria-hidden': 'true', dataset: { startUs: String(node.start_us), durationUs: String(Number(e.duration_us) || 0) } },
        s('rect', { class: 'track', x: 0, y: 0, width: 1000, height: 14 }),
        s('rect', { class: `bar${failed ? ' failed' : ''}`, x: x.toFixed(1), y: 1, width: w.toFixed(1), height: 12 })),
      h('span', { class: 'trace-end' }, h('span', { class: `state${failed ? ' failed' : ''}` }, String(e.end_state || '—')), ' ', formatDuration(e.duration_us)),
      failed ? h('p', { class: 'trace-error' }, String(e.error)) : null,
      Array.isArray(e.logs) && e.logs.length ? h('details', { class: 'trace-logs' }, h('summary', {}, `${e.logs.length} log line${e.logs.length > 1 ? 's' : ''}`),
        h('pre', {}, e.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'))) : null));
  }, 0);
  const exact = Array.isArray(trace) && trace.every((e) => e && hasStart(e));
  return h('div', { class: 'timeline' },
    h('p', { class: 'muted' }, exact
      ? `${rows.length} block executions over ${formatDuration(total)}. Each bar starts when its block started, so branches that ran at the same time overlap; nested runs sit under their block.`
      : `${rows.length} block executions, ${formatDuration(total)} of block time. This trace has no start times (recorded by an older host): bars follow the order blocks ended; nested runs sit under their block.`),
    h('ol', { class: 'trace', 'aria-label': 'Trace timeline' }, rows));
}
