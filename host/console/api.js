// SPDX-License-Identifier: Apache-2.0
// The public HTTP API, with the user's key. The key is kept in sessionStorage (gone when the tab
// closes) and sent only as the Authorization header: never in a URL, never in a cookie.

const KEY_ITEM = 'blueprint.console.key';

export function savedKey() {
  return sessionStorage.getItem(KEY_ITEM) || '';
}
export function saveKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}
export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/** An API answer that was not 2xx: status plus the error shape's code, message and details. */
export class ApiFailure extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function headers(extra) {
  const all = { ...extra };
  const key = savedKey();
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

async function failureOf(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  let details;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      details = body.error.details;
    }
  } catch (ignored) {
    // not the JSON error shape: keep the status line
  }
  return new ApiFailure(response.status, code, message, details);
}

/** Calls the API; resolves to the parsed JSON body (or text), rejects with ApiFailure. */
export async function api(method, path, body, extraHeaders) {
  const init = { method, headers: headers(extraHeaders), cache: 'no-store' };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failureOf(response);
  const type = response.headers.get('Content-Type') || '';
  return type.includes('json') ? response.json() : response.text();
}

/**
 * A run answered as text/event-stream, read with fetch streaming (EventSource cannot send the
 * Authorization header). `onOpen(response)` sees the headers (X-Job-Id) first, then `onEvent`
 * gets each `data:` payload as it arrives (parsed JSON, or the text "[DONE]").
 */
export async function stream(method, path, body, { onOpen, onEvent, signal }) {
  const init = { method, headers: headers({ Accept: 'text/event-stream' }), signal, cache: 'no-store' };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failureOf(response);
  if (onOpen) onOpen(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!block.split('\n').some((line) => line.startsWith('data:'))) continue; // a comment
      let event = data;
      if (data !== '[DONE]') {
        try {
          event = JSON.parse(data);
        } catch (ignored) {
          event = data;
        }
      }
      onEvent(event);
    }
  }
}

/**
 * What the key may do, found with two harmless reads: GET /v1/blocks needs admin; a job id that
 * cannot exist answers 404 with the invoke scope and 403 without. 401 means a wrong key.
 */
export async function probeScopes() {
  const scopes = { admin: false, invoke: false };
  try {
    await api('GET', '/v1/blocks');
    scopes.admin = true;
  } catch (e) {
    if (!(e instanceof ApiFailure) || e.status !== 403) throw e;
  }
  try {
    await api('GET', '/v1/agents/jobs/console-scope-check');
    scopes.invoke = true;
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e;
    if (e.status === 404) scopes.invoke = true;
    else if (e.status !== 403) throw e;
  }
  return scopes;
}

/** The path segment for an id (ids are validated by the host; this keeps URLs well-formed). */
export const seg = (id) => encodeURIComponent(id);
