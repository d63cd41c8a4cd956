// SPDX-License-Identifier: Apache-2.0
// make_flows.js: writes the Node-RED peer's flows (issue 6) to stdout.
//   hello:   http in → change (SSE body from payload.inputs.name) → http response
//   chain40: http in → 40 × change (msg.state.k<i> = payload.inputs.name) → change → http response
// The answer has the host's SSE events and headers (an X-Job-Id of the same length, from the
// message id).
'use strict';

const path = (agent, blueprint) => `/v1/agents/${agent}/blueprints/${blueprint}`;

// JSONata: the SSE body; $string() JSON-encodes (escapes the name like the host does).
const sseBody = (blueprint, nameExpr) =>
  `'data: {"status":"in progress","message":null}\\n\\n' & ` +
  `'data: {"status":"executing","message":"Executing blueprint ${blueprint}..."}\\n\\n' & ` +
  `'data: ' & $string({"delta": "Hello, " & ${nameExpr} & "!"}) & '\\n\\n' & ` +
  `'data: [DONE]\\n\\n'`;

const headers = `{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", ` +
  `"X-Accel-Buffering": "no", ` +
  `"X-Job-Id": "00000000-0000-4000-" & $substring(_msgid, 0, 4) & "-" & $substring(_msgid, 4, 12)}`;

const nodes = [{ id: 'bench_tab', type: 'tab', label: 'bench', disabled: false, info: '' }];
let y = 40;

function change(id, rules, wires) {
  return { id, type: 'change', z: 'bench_tab', name: '', rules, x: 300, y, wires: [wires] };
}

function flow(key, agent, blueprint, chainLength) {
  const ids = [];
  const inId = `${key}_in`;
  const outId = `${key}_out`;
  for (let i = 1; i <= chainLength; ++i) ids.push(`${key}_s${i}`);
  const replyId = `${key}_reply`;
  nodes.push({ id: inId, type: 'http in', z: 'bench_tab', name: '', url: path(agent, blueprint),
               method: 'post', upload: false, swaggerDoc: '', x: 100, y,
               wires: [[ids[0] || replyId]] });
  ids.forEach((id, i) => nodes.push(change(id, [
    { t: 'set', p: `state.k${i + 1}`, pt: 'msg', to: 'payload.inputs.name', tot: 'msg' },
  ], [ids[i + 1] || replyId])));
  const nameExpr = chainLength > 0 ? `state.k${chainLength}` : 'payload.inputs.name';
  nodes.push(change(replyId, [
    { t: 'set', p: 'headers', pt: 'msg', to: headers, tot: 'jsonata' },
    { t: 'set', p: 'payload', pt: 'msg', to: sseBody(blueprint, nameExpr), tot: 'jsonata' },
  ], [outId]));
  nodes.push({ id: outId, type: 'http response', z: 'bench_tab', name: '', statusCode: '200',
               headers: {}, x: 500, y, wires: [] });
  y += 80;
}

flow('hello', 'hello', 'hello', 0);
flow('chain', 'chain40', 'chain', 40);
process.stdout.write(JSON.stringify(nodes, null, 2) + '\n');
