// Shared helpers of the console pages: API calls, safe DOM building, notices.
// Pages build their DOM with `h()`, which sets text with textContent; the only HTML ever
// inserted is the sanitised entry HTML the server renders (see `trustedHtml`).
'use strict';

const Console = (() => {
  /** Error from the API, with the HTTP status. */
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Call the console API. State-changing calls carry the CSRF header. */
  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      opts.headers['X-Requested-With'] = 'xsoar-console';
    }
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch('/console/api' + path, opts);
    } catch (e) {
      throw new ApiError(0, 'The console server cannot be reached.');
    }
    if (res.status === 401) {
      goLogin();
      throw new ApiError(401, 'Log in first.');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { error: text };
      }
    }
    if (!res.ok) {
      throw new ApiError(res.status, (data && data.error) || res.statusText || 'Request failed');
    }
    return data;
  }

  function goLogin() {
    if (location.pathname !== '/login') {
      location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    }
  }

  /**
   * Build an element. `attrs` values: strings become attributes, `on*` functions become
   * listeners, `class` sets className. Children: nodes, strings (as text), arrays, null.
   */
  function h(tag, attrs, ...children) {
    const el = tag.startsWith('svg:')
      ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v);
      } else if (k === 'class') {
        el.setAttribute('class', v);
      } else if (v === true) {
        el.setAttribute(k, '');
      } else {
        el.setAttribute(k, String(v));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
  }

  /** Insert server-rendered, sanitised HTML (entry bodies only). */
  function trustedHtml(el, html) {
    el.innerHTML = html;
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function banner(message) {
    const b = document.getElementById('banner');
    if (!b) return;
    if (message) {
      b.textContent = message;
      b.hidden = false;
    } else {
      b.hidden = true;
      b.textContent = '';
    }
  }

  let toastTimer = null;
  function toast(message) {
    const t = document.getElementById('toast');
    if (!t) return;
    t.textContent = message;
    t.classList.add('show');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove('show'), 2200);
  }

  /** Copy text: the clipboard API, or a hidden textarea where it is unavailable. */
  async function copy(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (e) {
      // Permission denied or not focused: fall back.
    }
    const ta = h('textarea', { class: 'visually-hidden', readonly: true, 'aria-hidden': 'true' });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    ta.remove();
    return ok;
  }

  function time(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toLocaleString();
  }

  const SEVERITY = ['Unknown', 'Low', 'Medium', 'High', 'Critical'];
  const STATUS = ['Pending', 'Active', 'Closed', 'Archived'];

  /** Render one war-room entry (shared by the war room and the playbook task panel). */
  function entryElement(e) {
    const meta = h('div', { class: 'meta' },
      h('span', { class: 'user' }, e.user || 'DBot'),
      e.command ? h('code', { class: 'cmd', title: 'Command' }, e.command) : null,
      e.brand && e.brand !== 'none'
        ? h('span', { class: 'source' }, e.brand + (e.instance && e.instance !== e.brand ? ' / ' + e.instance : ''))
        : null,
      e.simulated ? h('span', { class: 'badge sim' }, 'embedded SIGNL4 simulator') : null,
      e.task ? h('span', { class: 'badge' }, 'task ' + e.task.taskId + ': ' + (e.task.taskName || '')) : null,
      e.kind === 'error' ? h('span', { class: 'badge error' }, 'error') : null,
      h('time', { datetime: e.created }, time(e.created)));
    const body = trustedHtml(h('div', { class: 'body' }), e.html || '');
    const parts = [meta, body];
    if (e.json) {
      const lines = e.json.split('\n').length;
      parts.push(h('details', { class: 'json', open: !e.html && lines <= 30 },
        h('summary', null, e.html ? 'Raw contents (JSON)' : 'JSON contents (' + lines + ' lines)'),
        h('pre', null, e.json)));
    }
    if (e.file) {
      parts.push(h('p', { class: 'muted' }, 'File: ' + e.file));
    }
    return h('article', { class: 'entry kind-' + e.kind, id: 'entry-' + e.seq, 'data-entry-id': e.id }, parts);
  }

  /**
   * Resolves once the browser may call the API; sends it to the login page (and never
   * resolves) when it has no session. Pages await it before their first API call.
   */
  const ready = (async () => {
    let s = { authenticated: true, authRequired: false };
    try {
      const res = await fetch('/console/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (res.ok) s = await res.json();
    } catch (e) {
      // The API calls report an unreachable server.
    }
    const onLogin = location.pathname === '/login';
    if (!s.authenticated && !onLogin) {
      goLogin();
      await new Promise(() => {});
    }
    const wire = () => {
      const logout = document.getElementById('logout');
      if (!logout || onLogin) return;
      logout.hidden = !s.authRequired;
      logout.addEventListener('click', async () => {
        await fetch('/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Requested-With': 'xsoar-console' } });
        location.assign('/login');
      });
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
    else wire();
    return s;
  })();

  return { api, ApiError, h, clear, trustedHtml, banner, toast, copy, time, SEVERITY, STATUS, entryElement, ready };
})();
