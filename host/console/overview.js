// SPDX-License-Identifier: Apache-2.0
// Overview: the host's health from GET /metrics (Prometheus text) and GET /readyz, refreshed
// every 2 s. Rates are the change between two refreshes; percentiles come from the run duration
// histogram's buckets (interpolated inside a bucket, as Prometheus' histogram_quantile does).
import { h, replace } from './dom.js';

const REFRESH_MS = 2000;

/** Prometheus text → [{name, labels, value}]. */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function sum(samples, name, where = () => true) {
  return samples.filter((x) => x.name === name && where(x.labels)).reduce((t, x) => t + x.value, 0);
}

/** The q-quantile (0..1) of the run duration histogram, summed over run kinds; null if empty. */
export function quantile(samples, q) {
  const buckets = new Map();
  for (const x of samples) {
    if (x.name !== 'blueprint_run_duration_seconds_bucket') continue;
    const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
    buckets.set(le, (buckets.get(le) || 0) + x.value);
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = bounds.length ? buckets.get(bounds[bounds.length - 1]) : 0;
  if (!total) return null;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const bound of bounds) {
    const count = buckets.get(bound);
    if (count >= rank) {
      if (bound === Infinity) return previousBound;
      const inBucket = count - previousCount;
      return previousBound + (bound - previousBound) * (inBucket ? (rank - previousCount) / inBucket : 1);
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}

function seconds(value) {
  if (value === null || Number.isNaN(value)) return '—';
  return value < 1 ? `${(value * 1000).toFixed(value < 0.01 ? 2 : 1)} ms` : `${value.toFixed(2)} s`;
}

function tile(label, value, hint) {
  return h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), hint ? h('div', { class: 'tile-hint' }, hint) : null);
}

export async function render(ctx) {
  const { main } = ctx;
  const tiles = h('div', { class: 'tiles', 'aria-live': 'off' });
  const updated = h('p', { class: 'muted', role: 'status' });
  main.append(h('h1', {}, 'Overview'), tiles, updated);
  let previous = null;

  async function refresh() {
    const [metricsText, ready] = await Promise.all([
      fetch('/metrics', { cache: 'no-store' }).then((r) => r.text()),
      fetch('/readyz', { cache: 'no-store' }).then((r) => r.json().catch(() => ({ status: `HTTP ${r.status}` }))),
    ]);
    const samples = parseMetrics(metricsText);
    const now = performance.now();
    const runs = sum(samples, 'blueprint_runs_total');
    const errors = sum(samples, 'blueprint_runs_total', (l) => l.status === 'error');
    let rate = '—';
    let errorRate = runs ? `${((errors / runs) * 100).toFixed(1)} % since start` : '—';
    if (previous) {
      const dRuns = runs - previous.runs;
      const dt = (now - previous.at) / 1000;
      rate = `${(dRuns / dt).toFixed(1)}`;
      if (dRuns > 0) errorRate = `${(((errors - previous.errors) / dRuns) * 100).toFixed(1)} %`;
    }
    previous = { at: now, runs, errors };
    replace(tiles,
      tile('Runs / s', rate, 'sync and async, last 2 s'),
      tile('Error rate', errorRate),
      tile('p50 run time', seconds(quantile(samples, 0.5)), 'since start'),
      tile('p99 run time', seconds(quantile(samples, 0.99)), 'since start'),
      tile('Active runs', String(sum(samples, 'blueprint_runs_active'))),
      tile('Queue depth', String(sum(samples, 'blueprint_jobs_queued')), 'jobs waiting'),
      tile('Storage', String(ready.storage || '—'), `readiness: ${ready.status || ready.error?.code || '—'}`),
      tile('Plugin generation', String(sum(samples, 'blueprint_plugin_catalog_generation')), `${ready.block_types ?? '—'} block types`),
      tile('Zombie generations', String(sum(samples, 'blueprint_plugin_zombie_generations')), 'unloaded but still mapped'),
      tile('Runs finished', String(runs), `${errors} with an error`));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
  }

  await refresh();
  const timer = setInterval(() => { if (!document.hidden) refresh().catch((e) => { updated.textContent = `Refresh failed: ${e.message}`; }); }, REFRESH_MS);
  ctx.onLeave(() => clearInterval(timer));
}
