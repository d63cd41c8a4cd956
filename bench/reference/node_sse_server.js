// SPDX-License-Identifier: Apache-2.0
// node_sse_server.js: the plain Node.js peer of the sync benchmark (issue 6): an `http` handler
// that parses the trigger body and answers the host's SSE events and headers in one write.
//   node node_sse_server.js PORT [KEY]
'use strict';
const http = require('http');
const crypto = require('crypto');

const port = Number(process.argv[2] || 18092);
const key = process.argv[3] || '';

function fail(res, status, code, message) {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (key && req.headers.authorization !== 'Bearer ' + key) {
    return fail(res, 401, 'unauthorized', 'missing or wrong API key');
  }
  const blueprint = req.url.split('/').pop();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let payload;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      return fail(res, 400, 'invalid_request', 'malformed JSON');
    }
    if (!payload || typeof payload.inputs !== 'object' || payload.inputs === null) {
      return fail(res, 400, 'invalid_request', 'the body must be a JSON object with an object `inputs`');
    }
    const name = payload.inputs.name;
    const greeting = 'Hello, ' + (typeof name === 'string' ? name : JSON.stringify(name)) + '!';
    const body =
      'data: {"status":"in progress","message":null}\n\n' +
      'data: ' + JSON.stringify({ status: 'executing', message: 'Executing blueprint ' + blueprint + '...' }) + '\n\n' +
      'data: ' + JSON.stringify({ delta: greeting }) + '\n\n' +
      'data: [DONE]\n\n';
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      'X-Job-Id': crypto.randomUUID(),
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1', () => console.log('node peer listening on 127.0.0.1:' + port));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
