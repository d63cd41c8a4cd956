// SPDX-License-Identifier: Apache-2.0
// What differs between two agent definitions ({"name", "blueprints": [{id, blocks: […]}]}), block
// by block: the agent page shows the draft beside a numbered version with this list on top.
// Blocks are matched by id within blueprints matched by id, so a moved line is no change and a
// renamed block is one removal and one addition.

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
/** JSON text with object keys sorted: equal values give equal text whatever their key order. */
const canonical = (v) => JSON.stringify(v, (key, value) => (isObject(value)
  ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]))
  : value));
const same = (a, b) => canonical(a) === canonical(b);

function byId(list) {
  const map = new Map();
  for (const item of Array.isArray(list) ? list : []) if (isObject(item) && typeof item.id === 'string' && !map.has(item.id)) map.set(item.id, item);
  return map;
}

/** The parts of a block that differ: 'type', 'fields.<name>', 'next', other top-level keys. */
function blockChanges(before, after) {
  const changed = [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (key === 'id') continue;
    if (key === 'fields' && isObject(before.fields) && isObject(after.fields)) {
      const names = new Set([...Object.keys(before.fields), ...Object.keys(after.fields)]);
      for (const name of names) if (!same(before.fields[name], after.fields[name])) changed.push(`fields.${name}`);
    } else if (!same(before[key], after[key])) {
      changed.push(key);
    }
  }
  return changed;
}

/**
 * Differences from `base` (e.g. the deployed version) to `next` (e.g. the draft):
 * [{blueprint, block?, change: 'added'|'removed'|'changed', parts?: [...]}], in the order of
 * `next` then what only `base` has. The agent's name counts as a change of blueprint "".
 */
export function compareDefinitions(base, next) {
  const changes = [];
  const baseName = isObject(base) ? base.name : undefined;
  const nextName = isObject(next) ? next.name : undefined;
  if (!same(baseName, nextName)) changes.push({ blueprint: '', change: 'changed', parts: ['name'] });
  const before = byId(isObject(base) ? base.blueprints : []);
  const after = byId(isObject(next) ? next.blueprints : []);
  for (const [id, blueprint] of after) {
    const old = before.get(id);
    if (!old) {
      changes.push({ blueprint: id, change: 'added' });
      continue;
    }
    if (!same(old.name, blueprint.name)) changes.push({ blueprint: id, change: 'changed', parts: ['name'] });
    const oldBlocks = byId(old.blocks);
    const newBlocks = byId(blueprint.blocks);
    for (const [blockId, block] of newBlocks) {
      const was = oldBlocks.get(blockId);
      if (!was) changes.push({ blueprint: id, block: blockId, change: 'added' });
      else {
        const parts = blockChanges(was, block);
        if (parts.length) changes.push({ blueprint: id, block: blockId, change: 'changed', parts });
      }
    }
    for (const blockId of oldBlocks.keys()) if (!newBlocks.has(blockId)) changes.push({ blueprint: id, block: blockId, change: 'removed' });
  }
  for (const id of before.keys()) if (!after.has(id)) changes.push({ blueprint: id, change: 'removed' });
  return changes;
}
