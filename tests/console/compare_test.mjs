// SPDX-License-Identifier: Apache-2.0
// What the agent page lists as the difference between the draft and a version
// (host/console/compare.js), in Node: blocks matched by id within blueprints matched by id,
// changed parts named, and definitions of any shape (missing lists, non-objects) never throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const { compareDefinitions } = await import(join(HERE, '..', '..', 'host', 'console', 'compare.js'));

const agent = (blocks, name = 'Agent') => ({ name, blueprints: [{ id: 'main', name: 'Main', blocks }] });
const trigger = { id: 'trigger', type: 'api_trigger', fields: {}, next: { trigger: 'reply' } };
const reply = (value) => ({ id: 'reply', type: 'return_value', fields: { value } });

test('the same definition, in any key order, has no differences', () => {
  const save = { id: 'save', type: 'set_state', fields: { key: 'k', value: { a: 1, b: [1, { c: 2, d: 3 }] } }, next: { success: 'reply', error: 'reply' } };
  const a = agent([trigger, save, reply('hi')]);
  const b = { blueprints: [{ blocks: [{ next: { trigger: 'reply' }, fields: {}, type: 'api_trigger', id: 'trigger' },
    { next: { error: 'reply', success: 'reply' }, fields: { value: { b: [1, { d: 3, c: 2 }], a: 1 }, key: 'k' }, type: 'set_state', id: 'save' },
    reply('hi')], name: 'Main', id: 'main' }], name: 'Agent' };
  assert.deepEqual(compareDefinitions(a, b), []);
});

test('changed fields, added and removed blocks and blueprints are named', () => {
  const deployed = agent([trigger, reply('hi'), { id: 'old', type: 'delay', fields: { ms: 1 } }]);
  const draft = agent([{ ...trigger, next: { trigger: ['reply', 'log'] } }, reply('hello'),
    { id: 'log', type: 'log_message', fields: { message: 'x' } }], 'Renamed');
  draft.blueprints.push({ id: 'extra', blocks: [] });
  assert.deepEqual(compareDefinitions(deployed, draft), [
    { blueprint: '', change: 'changed', parts: ['name'] },
    { blueprint: 'main', block: 'trigger', change: 'changed', parts: ['next'] },
    { blueprint: 'main', block: 'reply', change: 'changed', parts: ['fields.value'] },
    { blueprint: 'main', block: 'log', change: 'added' },
    { blueprint: 'main', block: 'old', change: 'removed' },
    { blueprint: 'extra', change: 'added' },
  ]);
  assert.deepEqual(compareDefinitions(draft, deployed).filter((c) => c.blueprint === 'extra'), [{ blueprint: 'extra', change: 'removed' }]);
});

test('definitions of any shape never throw', () => {
  for (const odd of [null, 1, 'text', [], {}, { blueprints: 'no' }, { blueprints: [null, 1, { id: 2 }, { id: 'x', blocks: 'no' }] }]) {
    assert.doesNotThrow(() => compareDefinitions(odd, agent([trigger])));
    assert.doesNotThrow(() => compareDefinitions(agent([trigger]), odd));
  }
});
