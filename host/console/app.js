// SPDX-License-Identifier: Apache-2.0
// The console's shell: log in, the navigation, and a hash router that renders one page at a time
// into <main>. Each page gets a context; what it starts (timers, streams) it hands to onLeave so
// it stops when the user goes elsewhere.
import { ApiFailure, forgetKey, probeScopes, saveKey, savedKey } from './api.js';
import { field, h, notice, replace } from './dom.js';
import * as agents from './agents.js';
import * as blocks from './blocks.js';
import * as editor from './editor.js';
import * as jobs from './jobs.js';
import * as overview from './overview.js';
import * as run from './run.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const logout = document.getElementById('logout');

let scopes = null;
let leaving = [];
let renders = 0;

// [pattern, page module, render function name, needs admin]
const ROUTES = [
  [/^\/overview$/, overview, 'render', false],
  [/^\/agents$/, agents, 'renderList', true],
  [/^\/agents\/([^/]+)$/, agents, 'renderAgent', true],
  [/^\/agents\/([^/]+)\/blueprints\/([^/]+)$/, agents, 'renderBlueprint', true],
  [/^\/agents\/([^/]+)\/edit$/, editor, 'render', true],
  [/^\/run$/, run, 'render', false],
  [/^\/run\/([^/]+)\/([^/]+)$/, run, 'render', false],
  [/^\/jobs$/, jobs, 'renderList', false],
  [/^\/jobs\/([^/]+)$/, jobs, 'renderList', false],
  [/^\/job\/([^/]+)$/, jobs, 'renderJob', false],
  [/^\/blocks$/, blocks, 'render', true],
];

function leave() {
  for (const stop of leaving) {
    try {
      stop();
    } catch (ignored) {
      // a page's cleanup must not keep the next page from rendering
    }
  }
  leaving = [];
}

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryText] = hash.split('?');
  return { path, query: new URLSearchParams(queryText || '') };
}

function adminOnly(title) {
  return h('section', { 'aria-labelledby': 'page-title' },
    h('h1', { id: 'page-title' }, title),
    notice('info', 'This page needs an API key with the admin scope; the key you logged in with has only the invoke scope. ',
      'Runs and jobs are open to it: ', h('a', { href: '#/run' }, 'Run'), ' · ', h('a', { href: '#/jobs' }, 'Jobs'), '.'));
}

const ADMIN_TITLES = { agents: 'Agents', blocks: 'Blocks' };

async function route() {
  leave();
  renders += 1;
  if (!savedKey() || !scopes) return renderLogin();
  const { path, query } = parseHash();
  if (path === '/') {
    location.hash = scopes.admin ? '#/overview' : '#/run';
    return undefined;
  }
  for (const link of nav.querySelectorAll('a')) {
    const current = path === link.getAttribute('href').slice(1) || path.startsWith(`${link.getAttribute('href').slice(1)}/`);
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  for (const [pattern, module, name, needsAdmin] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    if (needsAdmin && !scopes.admin) {
      replace(main, adminOnly(ADMIN_TITLES[path.split('/')[1]] || 'Admin page'));
      return undefined;
    }
    const params = match.slice(1).map(decodeURIComponent);
    // Each render gets its own container: a page still awaiting the API when the user moves on
    // fills a detached element, and what it starts late is stopped at once.
    const view = h('div', { class: 'view' });
    const generation = ++renders;
    const context = {
      main: view,
      params,
      query,
      scopes,
      onLeave: (stop) => (generation === renders ? leaving.push(stop) : stop()),
      go: (hash) => { location.hash = hash; },
    };
    replace(main, view);
    try {
      await module[name](context);
    } catch (e) {
      view.append(notice('error', e instanceof ApiFailure ? `${e.message} (${e.code})` : String(e)));
    }
    return undefined;
  }
  replace(main, h('h1', {}, 'Not found'), notice('error', 'No console page has this address.'));
  return undefined;
}

function showIdentity() {
  const names = [scopes.admin && 'admin', scopes.invoke && 'invoke'].filter(Boolean).join(' + ') || 'no scope';
  who.textContent = `Key scopes: ${names}`;
  nav.hidden = false;
  logout.hidden = false;
  for (const link of nav.querySelectorAll('[data-admin]')) link.classList.toggle('locked', !scopes.admin);
}

function renderLogin(message) {
  nav.hidden = true;
  logout.hidden = true;
  who.textContent = '';
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const error = h('div', { 'aria-live': 'assertive' }, message ? notice('error', message) : null);
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in'),
    h('p', {}, 'Paste an API key. It stays in this tab only (sessionStorage) and is sent as the Bearer header.'),
    field('API key', key),
    h('button', { type: 'submit', class: 'primary' }, 'Log in'),
    error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    saveKey(key.value.trim());
    try {
      scopes = await probeScopes();
    } catch (e) {
      forgetKey();
      scopes = null;
      replace(error, notice('error', e instanceof ApiFailure && e.status === 401 ? 'That key is not valid.' : String(e.message || e)));
      return;
    }
    showIdentity();
    if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = scopes.admin ? '#/overview' : '#/run';
    else route();
  });
  replace(main, form);
  key.focus();
}

logout.addEventListener('click', () => {
  forgetKey();
  scopes = null;
  location.hash = '#/';
  renderLogin();
});

window.addEventListener('hashchange', () => {
  route().then(() => main.focus({ preventScroll: true }));
});

async function start() {
  if (savedKey()) {
    try {
      scopes = await probeScopes();
      showIdentity();
    } catch (e) {
      forgetKey();
      scopes = null;
    }
  }
  route();
}

start();
