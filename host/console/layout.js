// SPDX-License-Identifier: Apache-2.0
// A layered graph layout for blueprints (Sugiyama's scheme, kept small): break cycles, rank by
// longest path, chain long edges through dummy points, order each rank by barycenter sweeps that
// keep the ordering with the fewest crossings, then place x by balanced neighbour averages.
// Every step is O((V + E) log V) per sweep, so a 200-block blueprint lays out in a few
// milliseconds (dagre, used before, rebuilt a graph per rank per sweep: 120–450 ms for the same
// graph, docs/decisions/013-console-layout-and-trace-offsets.md).

const SWEEPS = 12; // ordering passes; the best ordering seen is kept
const PLACEMENT_PASSES = 8; // x-placement passes (down, up, both, …)
const DUMMY_WIDTH = 10;

/**
 * Lays out `nodes` ([{id, width, height}]) and `edges` ([{from, to}], ids of `nodes`) top to
 * bottom. Options: nodesep (px between neighbours in a rank), ranksep (px between ranks),
 * margin. Returns {width, height, nodes: Map id → {x, y, width, height} (centre), edges:
 * [{from, to, points: [{x, y}…], labelPoint: {x, y}}]} in the order `edges` were given.
 */
export function layeredLayout(nodes, edges, { nodesep = 24, ranksep = 46, margin = 8 } = {}) {
  const n = nodes.length;
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const real = edges
    .map((edge, i) => ({ i, u: index.get(edge.from), v: index.get(edge.to) }))
    .filter((e) => e.u !== undefined && e.v !== undefined);

  // 1. Break cycles (a draft in the editor may have some): an iterative depth-first search
  // reverses every edge that points back to a block on the current path.
  const out = Array.from({ length: n }, () => []);
  for (const e of real) if (e.u !== e.v) out[e.u].push(e);
  const state = new Uint8Array(n); // 0 new, 1 on the path, 2 done
  for (let root = 0; root < n; root += 1) {
    if (state[root]) continue;
    const stack = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [u, k] = top;
      if (k === out[u].length) {
        state[u] = 2;
        stack.pop();
        continue;
      }
      top[1] = k + 1;
      const e = out[u][k];
      if (state[e.v] === 1) e.reversed = true;
      else if (state[e.v] === 0) {
        state[e.v] = 1;
        stack.push([e.v, 0]);
      }
    }
  }
  const dag = real.filter((e) => e.u !== e.v).map((e) => (e.reversed ? { ...e, u: e.v, v: e.u } : e));

  // 2. Ranks: longest path from the sources (Kahn's order), then sources without a predecessor
  // are pulled down next to their first successor, so a side input does not float at the top.
  const succ = Array.from({ length: n }, () => []);
  const pred = Array.from({ length: n }, () => []);
  for (const e of dag) {
    succ[e.u].push(e.v);
    pred[e.v].push(e.u);
  }
  const rank = new Int32Array(n);
  const indegree = Int32Array.from(pred, (p) => p.length);
  const order = [];
  for (let i = 0; i < n; i += 1) if (indegree[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k += 1) {
    const u = order[k];
    for (const v of succ[u]) {
      rank[v] = Math.max(rank[v], rank[u] + 1);
      if (--indegree[v] === 0) order.push(v);
    }
  }
  for (let k = order.length - 1; k >= 0; k -= 1) {
    const u = order[k];
    if (pred[u].length === 0 && succ[u].length > 0) rank[u] = Math.min(...succ[u].map((v) => rank[v])) - 1;
  }
  let maxRank = 0;
  for (let i = 0; i < n; i += 1) maxRank = Math.max(maxRank, rank[i]);

  // 3. Points: a block, or a dummy where an edge crosses a rank it does not stop in.
  const width = nodes.map((node) => node.width);
  const height = nodes.map((node) => node.height);
  const pointRank = Array.from(rank);
  const down = Array.from({ length: n }, () => []); // neighbours one rank below
  const up = Array.from({ length: n }, () => []); // neighbours one rank above
  const chains = new Array(edges.length); // edge index → the points it passes, top to bottom
  const addPoint = (r) => {
    pointRank.push(r);
    width.push(DUMMY_WIDTH);
    height.push(0);
    down.push([]);
    up.push([]);
    return pointRank.length - 1;
  };
  for (const e of dag) {
    const chain = [e.u];
    for (let r = rank[e.u] + 1; r < rank[e.v]; r += 1) chain.push(addPoint(r));
    chain.push(e.v);
    for (let k = 1; k < chain.length; k += 1) {
      down[chain[k - 1]].push(chain[k]);
      up[chain[k]].push(chain[k - 1]);
    }
    chains[e.i] = e.reversed ? chain.slice().reverse() : chain;
  }
  const points = pointRank.length;

  // 4. Order within ranks: first by a depth-first walk (children near their parent), then
  // barycenter sweeps, keeping the ordering with the fewest crossings.
  const layers = Array.from({ length: maxRank + 1 }, () => []);
  const seen = new Uint8Array(points);
  for (const start of [...order, ...Array.from({ length: points }, (_, i) => i)]) {
    if (seen[start]) continue;
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const p = stack.pop();
      layers[pointRank[p]].push(p);
      for (let k = down[p].length - 1; k >= 0; k -= 1) {
        const q = down[p][k];
        if (!seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
  }
  const position = new Float64Array(points);
  const numberLayers = () => layers.forEach((layer) => layer.forEach((p, i) => { position[p] = i; }));
  numberLayers();
  let best = layers.map((layer) => layer.slice());
  let bestCrossings = crossings(layers, down, position);
  for (let sweep = 0; sweep < SWEEPS && bestCrossings > 0; sweep += 1) {
    const downward = sweep % 2 === 0;
    const from = downward ? 1 : maxRank - 1;
    const step = downward ? 1 : -1;
    for (let r = from; r >= 0 && r <= maxRank; r += step) {
      const layer = layers[r];
      const keyed = layer.map((p) => {
        const near = downward ? up[p] : down[p];
        if (near.length === 0) return [position[p], p];
        let sum = 0;
        for (const q of near) sum += position[q];
        return [sum / near.length, p];
      });
      keyed.sort((a, b) => a[0] - b[0] || position[a[1]] - position[b[1]]);
      layers[r] = keyed.map(([, p]) => p);
      layers[r].forEach((p, i) => { position[p] = i; });
    }
    const count = crossings(layers, down, position);
    if (count < bestCrossings) {
      bestCrossings = count;
      best = layers.map((layer) => layer.slice());
    }
  }
  best.forEach((layer, r) => { layers[r] = layer; });
  numberLayers();

  // 5. x: packed left to right, then moved toward the mean x of their neighbours (rank above,
  // below, then both), each pass resolved in order so no two points come closer than allowed.
  const x = new Float64Array(points);
  const gap = (a, b) => (width[a] + width[b]) / 2 + (height[a] === 0 && height[b] === 0 ? 4 : nodesep);
  for (const layer of layers) {
    for (let i = 0; i < layer.length; i += 1) x[layer[i]] = i === 0 ? width[layer[0]] / 2 : x[layer[i - 1]] + gap(layer[i - 1], layer[i]);
  }
  for (let pass = 0; pass < PLACEMENT_PASSES; pass += 1) {
    const mode = pass % 3; // 0: above, 1: below, 2: both
    const ranks = mode === 1 ? layers.slice().reverse() : layers;
    for (const layer of ranks) {
      const want = layer.map((p) => {
        const near = mode === 0 ? up[p] : mode === 1 ? down[p] : up[p].concat(down[p]);
        if (near.length === 0) return x[p];
        let sum = 0;
        for (const q of near) sum += x[q];
        return sum / near.length;
      });
      const left = new Float64Array(layer.length);
      const right = new Float64Array(layer.length);
      for (let i = 0; i < layer.length; i += 1) left[i] = i === 0 ? want[0] : Math.max(want[i], left[i - 1] + gap(layer[i - 1], layer[i]));
      for (let i = layer.length - 1; i >= 0; i -= 1) right[i] = i === layer.length - 1 ? want[i] : Math.min(want[i], right[i + 1] - gap(layer[i], layer[i + 1]));
      for (let i = 0; i < layer.length; i += 1) x[layer[i]] = (left[i] + right[i]) / 2;
    }
  }
  let minX = Infinity;
  let maxX = -Infinity;
  for (let p = 0; p < points; p += 1) {
    minX = Math.min(minX, x[p] - width[p] / 2);
    maxX = Math.max(maxX, x[p] + width[p] / 2);
  }
  if (points === 0) minX = maxX = 0;

  // y: each rank as tall as its tallest block.
  const rankTop = new Float64Array(maxRank + 2);
  const rankHeight = new Float64Array(maxRank + 1);
  for (let p = 0; p < points; p += 1) rankHeight[pointRank[p]] = Math.max(rankHeight[pointRank[p]], height[p]);
  rankTop[0] = margin;
  for (let r = 0; r <= maxRank; r += 1) rankTop[r + 1] = rankTop[r] + rankHeight[r] + ranksep;
  const centreX = (p) => x[p] - minX + margin;
  const centreY = (p) => rankTop[pointRank[p]] + rankHeight[pointRank[p]] / 2;

  const placed = new Map();
  nodes.forEach((node, i) => placed.set(node.id, { x: centreX(i), y: centreY(i), width: width[i], height: height[i] }));

  // Edge ends spread along a block's bottom (out) and top (in) edge, in the order of where they
  // go, so fan-outs and joins do not all meet in one point.
  const slots = (lists, key) => {
    const slot = new Map();
    lists.forEach((list, p) => {
      list.sort((a, b) => key(a) - key(b));
      list.forEach((edgeIndex, k) => {
        const spread = Math.min(14, width[p] / (list.length + 1));
        slot.set(edgeIndex, (k - (list.length - 1) / 2) * spread);
      });
    });
    return slot;
  };
  const outgoing = Array.from({ length: n }, () => []);
  const incoming = Array.from({ length: n }, () => []);
  for (const e of real) {
    if (e.u === e.v || !chains[e.i]) continue;
    outgoing[e.u].push(e.i);
    incoming[e.v].push(e.i);
  }
  const sourceSlot = slots(outgoing, (i) => x[chains[i][1]]);
  const targetSlot = slots(incoming, (i) => x[chains[i][chains[i].length - 2]]);

  // Edges between the same two blocks (two end states to one target) put their labels at
  // different heights of the first segment, so the labels do not cover each other.
  const parallel = new Map();
  const labelAt = edges.map((edge) => {
    const key = `${edge.from}\u0000${edge.to}`;
    const k = parallel.get(key) || 0;
    parallel.set(key, k + 1);
    return k;
  });

  const laidEdges = edges.map((edge, i) => {
    const u = index.get(edge.from);
    const v = index.get(edge.to);
    if (u === undefined || v === undefined) return null;
    if (u === v) {
      // A block that points at itself: a small loop on its right side.
      const cx = centreX(u) + width[u] / 2;
      const cy = centreY(u);
      const loop = [{ x: cx, y: cy - 8 }, { x: cx + 18, y: cy - 8 }, { x: cx + 18, y: cy + 8 }, { x: cx, y: cy + 8 }];
      return { from: edge.from, to: edge.to, points: loop, labelPoint: { x: cx + 18, y: cy } };
    }
    const chain = chains[i];
    const pts = chain.map((p) => ({ x: centreX(p), y: centreY(p) }));
    const first = pts[0];
    const last = pts[pts.length - 1];
    const goingDown = pointRank[chain[0]] < pointRank[chain[chain.length - 1]];
    first.x += sourceSlot.get(i) || 0;
    first.y += (goingDown ? 1 : -1) * (height[chain[0]] / 2);
    last.x += targetSlot.get(i) || 0;
    last.y += (goingDown ? -1 : 1) * (height[chain[chain.length - 1]] / 2);
    const second = pts[1];
    const t = (labelAt[i] + 1) / (parallel.get(`${edge.from}\u0000${edge.to}`) + 1);
    return { from: edge.from, to: edge.to, points: pts, labelPoint: { x: first.x + (second.x - first.x) * t, y: first.y + (second.y - first.y) * t } };
  });

  return {
    width: maxX - minX + 2 * margin,
    height: rankTop[maxRank + 1] - ranksep + margin,
    nodes: placed,
    edges: laidEdges,
  };
}

/** Edge crossings between every pair of neighbouring ranks (sorted pairs, inversions counted). */
function crossings(layers, down, position) {
  let total = 0;
  for (let r = 0; r + 1 < layers.length; r += 1) {
    const targets = [];
    for (const p of layers[r]) {
      const below = down[p].map((q) => position[q]).sort((a, b) => a - b);
      for (const t of below) targets.push(t);
    }
    total += inversions(targets, layers[r + 1].length);
  }
  return total;
}

/** Pairs i < j with values[i] > values[j], by a Fenwick tree over positions 0..size-1. */
function inversions(values, size) {
  const tree = new Int32Array(size + 1);
  let count = 0;
  for (let k = values.length - 1; k >= 0; k -= 1) {
    for (let i = values[k]; i > 0; i -= i & -i) count += tree[i];
    for (let i = values[k] + 1; i <= size; i += i & -i) tree[i] += 1;
  }
  return count;
}
