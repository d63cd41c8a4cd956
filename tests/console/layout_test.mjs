// SPDX-License-Identifier: Apache-2.0
// The console's graph layout (host/console/layout.js) on its own, in Node: the shapes a draft in
// the editor can take (cycles, self-loops, several edges between two blocks, islands, edges to
// nowhere, thousands of blocks) and seeded random graphs. Every block gets a finite place, no two
// blocks overlap, every edge runs from its source's border to its target's, and acyclic edges
// point down. Run by ctest as Console.Layout (no browser needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const { layeredLayout } = await import(join(HERE, '..', '..', 'host', 'console', 'layout.js'));

const node = (id, width = 120) => ({ id, width, height: 46 });

/** Checks the invariants of a layout of `nodes` and `edges`. */
function check(nodes, edges, laid) {
  assert.ok(Number.isFinite(laid.width) && laid.width > 0, `width ${laid.width}`);
  assert.ok(Number.isFinite(laid.height) && laid.height > 0, `height ${laid.height}`);
  assert.equal(laid.nodes.size, nodes.length);
  const boxes = nodes.map((n) => {
    const p = laid.nodes.get(n.id);
    assert.ok(p && Number.isFinite(p.x) && Number.isFinite(p.y), `${n.id} has no finite place`);
    assert.ok(p.x - p.width / 2 >= 0 && p.x + p.width / 2 <= laid.width + 0.01, `${n.id} outside the width`);
    assert.ok(p.y - p.height / 2 >= 0 && p.y + p.height / 2 <= laid.height + 0.01, `${n.id} outside the height`);
    return [p.x - p.width / 2, p.y - p.height / 2, p.x + p.width / 2, p.y + p.height / 2, n.id];
  });
  // No two blocks overlap: sorted by top, only blocks of the same rank can meet.
  boxes.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  for (let i = 0; i < boxes.length; i += 1) {
    for (let j = i + 1; j < boxes.length && boxes[j][1] < boxes[i][3]; j += 1) {
      const [a, b] = [boxes[i], boxes[j]];
      assert.ok(a[2] <= b[0] + 0.01 || b[2] <= a[0] + 0.01, `${a[4]} and ${b[4]} overlap`);
    }
  }
  assert.equal(laid.edges.length, edges.length);
  const ids = new Set(nodes.map((n) => n.id));
  edges.forEach((e, i) => {
    const out = laid.edges[i];
    if (!ids.has(e.from) || !ids.has(e.to)) {
      assert.equal(out, null, `edge ${i} to a missing block is laid out`);
      return;
    }
    assert.ok(out.points.length >= 2);
    for (const p of [...out.points, out.labelPoint]) assert.ok(Number.isFinite(p.x) && Number.isFinite(p.y), `edge ${i}: ${JSON.stringify(p)}`);
    if (e.from === e.to) return;
    const [from, to] = [laid.nodes.get(e.from), laid.nodes.get(e.to)];
    const [first, last] = [out.points[0], out.points[out.points.length - 1]];
    assert.ok(Math.abs(Math.abs(first.y - from.y) - from.height / 2) < 0.01, `edge ${i} does not start on ${e.from}'s border`);
    assert.ok(Math.abs(Math.abs(last.y - to.y) - to.height / 2) < 0.01, `edge ${i} does not end on ${e.to}'s border`);
  });
}

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function random(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('a chain with fan-outs: edges point down, ranks follow the chain', () => {
  const nodes = [node('trigger'), node('a'), node('b'), node('c'), node('reply')];
  const edges = [
    { from: 'trigger', to: 'a' }, { from: 'a', to: 'b' }, { from: 'a', to: 'c' },
    { from: 'b', to: 'reply' }, { from: 'c', to: 'reply' }, { from: 'trigger', to: 'reply' },
  ];
  const laid = layeredLayout(nodes, edges);
  check(nodes, edges, laid);
  const y = (id) => laid.nodes.get(id).y;
  assert.ok(y('trigger') < y('a') && y('a') < y('b') && y('b') === y('c') && y('c') < y('reply'));
  for (const e of laid.edges) assert.ok(e.points[0].y < e.points[e.points.length - 1].y, `${e.from} → ${e.to} points up`);
});

test('cycles, self-loops, parallel edges, islands and edges to nowhere', () => {
  const nodes = ['a', 'b', 'c', 'd', 'lonely'].map((id) => node(id));
  const edges = [
    { from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'a' }, { from: 'c', to: 'c' },
    { from: 'b', to: 'd' }, { from: 'b', to: 'd' }, { from: 'd', to: 'nowhere' }, { from: 'ghost', to: 'a' },
  ];
  const laid = layeredLayout(nodes, edges);
  check(nodes, edges, laid);
  const [first, second] = [laid.edges[4].labelPoint, laid.edges[5].labelPoint];
  assert.ok(Math.abs(first.y - second.y) >= 12, 'labels of two edges between b and d sit on each other');
});

test('nothing to draw', () => {
  const laid = layeredLayout([], []);
  assert.equal(laid.nodes.size, 0);
  assert.deepEqual(laid.edges, []);
});

test('random graphs, cyclic and acyclic, keep every invariant', () => {
  for (let seed = 1; seed <= 60; seed += 1) {
    const next = random(seed);
    const count = 1 + Math.floor(next() * 60);
    const nodes = Array.from({ length: count }, (_, i) => node(`n${i}`, 40 + Math.floor(next() * 200)));
    const edges = [];
    const acyclic = seed % 2 === 0;
    for (let k = Math.floor(next() * count * 2); k > 0; k -= 1) {
      let [u, v] = [Math.floor(next() * count), Math.floor(next() * count)];
      if (acyclic && u > v) [u, v] = [v, u];
      if (acyclic && u === v) continue;
      edges.push({ from: `n${u}`, to: `n${v}` });
    }
    try {
      check(nodes, edges, layeredLayout(nodes, edges));
    } catch (error) {
      error.message = `seed ${seed}: ${error.message}`;
      throw error;
    }
  }
});

test('2,000 blocks lay out (time printed, bounded generously)', () => {
  const nodes = [];
  const edges = [];
  for (let i = 0; i < 2000; i += 1) {
    nodes.push(node(`b${i}`));
    if (i > 0) edges.push({ from: `b${i - 1}`, to: `b${i}` });
    if (i % 7 === 0 && i + 9 < 2000) edges.push({ from: `b${i}`, to: `b${i + 9}` });
  }
  const started = performance.now();
  const laid = layeredLayout(nodes, edges);
  const ms = performance.now() - started;
  console.log(`# 2,000 blocks laid out in ${ms.toFixed(0)} ms`);
  check(nodes, edges, laid);
  assert.ok(ms < 20000, `${ms} ms`);
});
