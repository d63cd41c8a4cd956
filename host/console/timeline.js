// SPDX-License-Identifier: Apache-2.0
// A run's trace as a timeline: one bar per block execution (duration, end state, error, logs),
// nested under the loop or sub-blueprint block that ran it.
//
// The trace (GET /v1/agents/jobs/{id} → "trace") lists executions in the order they ended, each
// with its duration and nesting depth, not its start time. So nesting is rebuilt from that order
// (a block's nested executions end before it does), and each bar starts where its previous
// sibling ended: exact for a chain, shown in sequence for branches that ran concurrently.
import { h, s } from './dom.js';

/** Entries in end order → roots [{entry, children, start_us}] with estimated starts. */
export function nest(trace) {
  const pending = []; // pending[d]: ended executions at depth d not yet claimed by a parent
  for (const entry of Array.isArray(trace) ? trace : []) {
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
    const x = (node.start_us / total) * 1000;
    const w = Math.max(2, ((Number(e.duration_us) || 0) / total) * 1000);
    rows.push(h('li', { class: `trace-row depth-${Math.min(depth, 6)}${failed ? ' failed' : ''}`, 'aria-label': `${e.block} (${e.type}) ended ${e.end_state || 'without an end state'} after ${formatDuration(e.duration_us)}${failed ? `, error: ${e.error}` : ''}` },
      h('span', { class: 'trace-label' },
        h('code', {}, String(e.block)), ' ', h('span', { class: 'muted' }, String(e.type)),
        e.blueprint ? h('span', { class: 'muted' }, ` in ${e.blueprint}`) : null),
      s('svg', { class: 'trace-bar', viewBox: '0 0 1000 14', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
        s('rect', { class: 'track', x: 0, y: 0, width: 1000, height: 14 }),
        s('rect', { class: `bar${failed ? ' failed' : ''}`, x: x.toFixed(1), y: 1, width: w.toFixed(1), height: 12 })),
      h('span', { class: 'trace-end' }, h('span', { class: `state${failed ? ' failed' : ''}` }, String(e.end_state || '—')), ' ', formatDuration(e.duration_us)),
      failed ? h('p', { class: 'trace-error' }, String(e.error)) : null,
      Array.isArray(e.logs) && e.logs.length ? h('details', { class: 'trace-logs' }, h('summary', {}, `${e.logs.length} log line${e.logs.length > 1 ? 's' : ''}`),
        h('pre', {}, e.logs.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'))) : null));
  }, 0);
  return h('div', { class: 'timeline' },
    h('p', { class: 'muted' }, `${rows.length} block executions, ${formatDuration(total)} of block time. Bars follow the order blocks ended; nested runs sit under their block.`),
    h('ol', { class: 'trace', 'aria-label': 'Trace timeline' }, rows));
}
