// War room: live entries (server-sent events), the command line with `!` autocomplete and
// history, and the context viewer.
'use strict';

(() => {
  const { api, h, clear, banner, toast, copy, entryElement } = Console;
  const HISTORY_KEY = 'xsoar-console-history';
  const HISTORY_MAX = 100;
  const SPECIAL_ARGS = [
    { name: 'using', description: 'Run on this instance only.', predefined: [] },
    { name: 'using-brand', description: 'Run on instances of this integration only.', predefined: [] },
    { name: 'raw-response', description: 'Show the raw response instead of the human-readable output.', predefined: ['true', 'false'] },
    { name: 'execution-timeout', description: 'Seconds before the command is stopped.', predefined: [] },
  ];

  let invId = null;
  let lastSeq = 0;
  let catalog = { commands: [], instances: [] };
  let catalogAt = 0;
  let context = {};
  let contextTimer = null;
  const openState = new Map();
  let suggestions = [];
  let selected = -1;
  let history = [];
  let historyPos = -1;
  let draft = '';

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // ---- entries -------------------------------------------------------------------------

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  function addEntry(e) {
    const list = $('entries');
    if (document.getElementById('entry-' + e.seq)) return;
    const stick = nearBottom(list);
    const el = entryElement(e);
    let before = null;
    for (const child of list.children) {
      const seq = Number(child.dataset.seq || 0);
      if (child.classList.contains('pending') || seq > e.seq) {
        before = child;
        break;
      }
    }
    el.dataset.seq = String(e.seq);
    list.insertBefore(el, before);
    lastSeq = Math.max(lastSeq, e.seq);
    const empty = list.querySelector('.empty');
    if (empty) empty.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  }

  async function catchUp() {
    try {
      const d = await api('GET', '/investigations/' + enc(invId) + '?after=' + lastSeq);
      d.entries.forEach(addEntry);
      scheduleContext();
    } catch (e) {
      banner('Cannot load new entries: ' + e.message);
    }
  }

  function connect() {
    const live = $('live');
    const es = new EventSource('/console/api/investigations/' + enc(invId) + '/events');
    es.addEventListener('open', () => {
      live.classList.add('on');
      live.title = 'Live updates: connected';
      catchUp();
    });
    es.addEventListener('entries', (ev) => {
      const d = JSON.parse(ev.data);
      d.entries.forEach(addEntry);
      scheduleContext();
    });
    es.addEventListener('resync', catchUp);
    es.addEventListener('error', () => {
      live.classList.remove('on');
      live.title = 'Live updates: reconnecting';
    });
  }

  // ---- running lines -------------------------------------------------------------------

  async function run(line) {
    const list = $('entries');
    const pending = h('div', { class: 'pending', role: 'status' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Running ', h('code', null, line));
    list.appendChild(pending);
    list.scrollTop = list.scrollHeight;
    try {
      const res = await api('POST', '/investigations/' + enc(invId) + '/execute', { line });
      res.entries.forEach(addEntry);
      pending.remove();
      scheduleContext(0);
    } catch (e) {
      pending.classList.add('failed');
      clear(pending).append('Request failed: ' + e.message);
    }
  }

  function remember(line) {
    history = history.filter((l) => l !== line);
    history.push(line);
    if (history.length > HISTORY_MAX) history = history.slice(-HISTORY_MAX);
    try {
      localStorage.setItem(HISTORY_KEY, JSON.stringify(history));
    } catch (e) {
      // Storage full or disabled: history lasts for this page only.
    }
    historyPos = -1;
  }

  function loadHistory() {
    try {
      const stored = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
      if (Array.isArray(stored)) history = stored.filter((l) => typeof l === 'string');
    } catch (e) {
      history = [];
    }
  }

  function browseHistory(step) {
    const input = $('command');
    if (history.length === 0) return;
    if (historyPos === -1) {
      if (step > 0) return;
      draft = input.value;
      historyPos = history.length;
    }
    historyPos += step;
    if (historyPos < 0) historyPos = 0;
    if (historyPos >= history.length) {
      historyPos = -1;
      input.value = draft;
    } else {
      input.value = history[historyPos];
    }
    input.setSelectionRange(input.value.length, input.value.length);
  }

  // ---- autocomplete --------------------------------------------------------------------

  /** Split the text before the caret into finished tokens and the one being typed. */
  function tokenize(text) {
    const tokens = [];
    let cur = '';
    let start = 1;
    let quote = null;
    for (let i = 1; i < text.length; i++) {
      const c = text[i];
      if (quote) {
        if (c === quote) quote = null;
        cur += c;
      } else if (c === '"' || c === '`') {
        quote = c;
        cur += c;
      } else if (/\s/.test(c)) {
        if (cur) tokens.push(cur);
        cur = '';
        start = i + 1;
      } else {
        cur += c;
      }
    }
    return { tokens, current: cur, start };
  }

  function ranked(items, prefix, key) {
    const p = prefix.toLowerCase();
    const starts = [];
    const contains = [];
    for (const it of items) {
      const n = key(it).toLowerCase();
      if (n.startsWith(p)) starts.push(it);
      else if (p && n.includes(p)) contains.push(it);
    }
    return starts.concat(contains).slice(0, 60);
  }

  function quoteValue(v) {
    return /[\s"=]/.test(v) ? '"' + v.replace(/"/g, '\\"') + '"' : v;
  }

  function computeSuggestions() {
    const input = $('command');
    const caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    const text = input.value.slice(0, caret);
    if (!text.startsWith('!')) return [];
    const { tokens, current, start } = tokenize(text);
    if (tokens.length === 0) {
      return ranked(catalog.commands, current, (c) => c.name).map((c) => ({
        label: c.name,
        tag: c.kind + (c.brands.length ? ' · ' + c.brands.join(', ') : ''),
        desc: c.description,
        start: 1,
        insert: c.name + ' ',
      }));
    }
    const cmd = catalog.commands.find((c) => c.name === tokens[0]);
    const args = (cmd ? cmd.arguments : []).concat(SPECIAL_ARGS.map((a) => Object.assign({ special: true }, a)));
    const eq = current.indexOf('=');
    if (eq >= 0) {
      const name = current.slice(0, eq);
      const valuePrefix = current.slice(eq + 1).replace(/^["`]/, '');
      let values = [];
      if (name === 'using') {
        const brands = cmd ? cmd.brands : [];
        values = catalog.instances
          .filter((i) => brands.length === 0 || brands.includes(i.brand))
          .map((i) => ({ value: i.name, desc: i.brand + (i.simulated ? ' (embedded SIGNL4 simulator)' : '') }));
      } else if (name === 'using-brand') {
        values = (cmd ? cmd.brands : []).map((b) => ({ value: b, desc: 'integration' }));
      } else {
        const arg = args.find((a) => a.name === name);
        if (arg) values = arg.predefined.map((v, i) => ({ value: v, desc: i === 0 ? arg.description : '' }));
      }
      return ranked(values, valuePrefix, (v) => v.value).map((v) => ({
        label: v.value,
        tag: name,
        desc: v.desc,
        start: start + eq + 1,
        insert: quoteValue(v.value) + ' ',
      }));
    }
    const used = new Set(tokens.slice(1).map((t) => t.split('=')[0]));
    const free = args.filter((a) => !used.has(a.name));
    return ranked(free, current, (a) => a.name).map((a) => ({
      label: a.name,
      required: !!a.required,
      tag: a.special ? 'special' : (a.required ? 'required' : (a.isArray ? 'list' : '')) +
        (a.predefined && a.predefined.length && !a.special ? ' · ' + a.predefined.join(' | ') : ''),
      desc: a.description,
      start,
      insert: a.name + '=',
    }));
  }

  function showSuggestions() {
    const input = $('command');
    const ul = $('suggestions');
    suggestions = computeSuggestions();
    selected = -1;
    clear(ul);
    if (suggestions.length === 0) {
      ul.hidden = true;
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
      return;
    }
    suggestions.forEach((s, i) => {
      ul.appendChild(h('li', {
        id: 'sugg-' + i,
        role: 'option',
        'aria-selected': 'false',
        'data-value': s.label,
        onmousedown: (ev) => {
          ev.preventDefault();
          accept(i);
        },
      },
      h('span', { class: 'name' }, s.label, s.required ? h('span', { class: 'req', title: 'required' }, ' *') : null),
      h('span', { class: 'tag' }, s.tag || ''),
      s.desc ? h('span', { class: 'desc', title: s.desc }, s.desc) : null));
    });
    ul.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  function closeSuggestions() {
    const ul = $('suggestions');
    ul.hidden = true;
    clear(ul);
    suggestions = [];
    selected = -1;
    $('command').setAttribute('aria-expanded', 'false');
    $('command').removeAttribute('aria-activedescendant');
  }

  function select(i) {
    const ul = $('suggestions');
    const n = suggestions.length;
    if (n === 0) return;
    selected = (i + n) % n;
    for (const li of ul.children) li.setAttribute('aria-selected', 'false');
    const li = document.getElementById('sugg-' + selected);
    if (li) {
      li.setAttribute('aria-selected', 'true');
      li.scrollIntoView({ block: 'nearest' });
      $('command').setAttribute('aria-activedescendant', li.id);
    }
  }

  function accept(i) {
    const s = suggestions[i];
    if (!s) return;
    const input = $('command');
    const caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    const before = input.value.slice(0, s.start);
    const after = input.value.slice(caret);
    input.value = before + s.insert + after;
    const pos = before.length + s.insert.length;
    input.setSelectionRange(pos, pos);
    input.focus();
    showSuggestions();
  }

  async function loadCatalog(force) {
    if (!force && Date.now() - catalogAt < 30000) return;
    try {
      catalog = await api('GET', '/catalog');
      catalogAt = Date.now();
    } catch (e) {
      banner('Cannot load the command list: ' + e.message);
    }
  }

  function onKey(ev) {
    const open = !$('suggestions').hidden && suggestions.length > 0;
    switch (ev.key) {
      case 'ArrowDown':
        ev.preventDefault();
        if (open) select(selected + 1);
        else browseHistory(1);
        break;
      case 'ArrowUp':
        ev.preventDefault();
        if (open) select(selected - 1);
        else browseHistory(-1);
        break;
      case 'Tab':
        if (open) {
          ev.preventDefault();
          accept(selected >= 0 ? selected : 0);
        }
        break;
      case 'Enter':
        if (open && selected >= 0) {
          ev.preventDefault();
          accept(selected);
        }
        break;
      case 'Escape':
        if (open) {
          ev.preventDefault();
          closeSuggestions();
        }
        break;
      default:
        break;
    }
  }

  // ---- context viewer ------------------------------------------------------------------

  function scheduleContext(delay) {
    clearTimeout(contextTimer);
    contextTimer = setTimeout(loadContext, delay === undefined ? 150 : delay);
  }

  async function loadContext() {
    try {
      context = await api('GET', '/investigations/' + enc(invId) + '/context');
      renderContext();
    } catch (e) {
      banner('Cannot load the context: ' + e.message);
    }
  }

  function childPath(parent, key, isIndex) {
    if (isIndex) return parent + '.[' + key + ']';
    return parent ? parent + '.' + key : key;
  }

  function isContainer(v) {
    return v !== null && typeof v === 'object';
  }

  function entriesOf(v) {
    return Array.isArray(v) ? v.map((x, i) => [String(i), x, true]) : Object.entries(v).map(([k, x]) => [k, x, false]);
  }

  function subtreeMatches(key, value, path, q) {
    if (key.toLowerCase().includes(q) || path.toLowerCase().includes(q)) return true;
    if (!isContainer(value)) return false;
    return entriesOf(value).some(([k, v, idx]) => subtreeMatches(k, v, childPath(path, k, idx), q));
  }

  function keyButton(label, path) {
    return h('button', {
      type: 'button',
      class: 'key',
      'data-path': path,
      title: 'Copy ${' + path + '}',
      onclick: async (ev) => {
        ev.preventDefault();
        ev.stopPropagation();
        const dt = '${' + path + '}';
        const ok = await copy(dt);
        toast(ok ? 'Copied ' + dt : 'Copy this path: ' + dt);
      },
    }, label);
  }

  function valueSpan(v) {
    if (typeof v === 'string') return h('span', { class: 'val str' }, JSON.stringify(v));
    return h('span', { class: 'val' }, JSON.stringify(v));
  }

  function buildList(value, parentPath, depth, q) {
    const ul = h('ul', { class: 'tree', role: depth === 0 ? 'tree' : 'group' });
    for (const [k, v, idx] of entriesOf(value)) {
      const path = childPath(parentPath, k, idx);
      if (q && !subtreeMatches(k, v, path, q)) continue;
      const label = idx ? '[' + k + ']' : k;
      const childQ = q && (k.toLowerCase().includes(q) || path.toLowerCase().includes(q)) ? '' : q;
      if (isContainer(v)) {
        const n = Array.isArray(v) ? v.length : Object.keys(v).length;
        const remembered = openState.get(path);
        const open = q ? true : remembered === undefined ? depth < 3 : remembered;
        const details = h('details', { open },
          h('summary', null, keyButton(label, path), ' ', h('span', { class: 'count' }, Array.isArray(v) ? '[' + n + ']' : '{' + n + '}')),
          buildList(v, path, depth + 1, childQ));
        details.addEventListener('toggle', () => {
          if (!q) openState.set(path, details.open);
        });
        ul.appendChild(h('li', { role: 'treeitem' }, details));
      } else {
        ul.appendChild(h('li', { role: 'treeitem' }, keyButton(label, path), ': ', valueSpan(v)));
      }
    }
    return ul;
  }

  function renderContext() {
    const root = clear($('context'));
    const q = $('ctx-search').value.trim().toLowerCase();
    if (!isContainer(context) || Object.keys(context).length === 0) {
      root.appendChild(h('p', { class: 'muted' }, 'The context is empty.'));
      return;
    }
    const list = buildList(context, '', 0, q);
    if (!list.firstChild) {
      root.appendChild(h('p', { class: 'muted' }, 'No key matches “' + q + '”.'));
      return;
    }
    root.appendChild(list);
  }

  // ---- start ---------------------------------------------------------------------------

  async function init() {
    await Console.ready;
    const param = document.body.dataset.investigation;
    let d;
    try {
      d = await api('GET', '/investigations/' + enc(param));
    } catch (e) {
      banner(e.status === 404 ? 'There is no investigation “' + param + '”.' : 'Cannot load the war room: ' + e.message);
      return;
    }
    invId = d.summary.id;
    const playground = d.summary.kind === 'playground';
    $('inv-title').textContent = playground ? 'Playground' : d.summary.name;
    document.title = (playground ? 'Playground' : 'War room: ' + d.summary.name) + ' · xsoar-emu';
    $('inv-meta').textContent = playground
      ? 'A war room without an incident'
      : 'Incident #' + d.summary.id + ' · ' + (Console.SEVERITY[d.summary.severity] || '') + ' · ' + (Console.STATUS[d.summary.status] || '');
    const list = $('entries');
    if (d.entries.length === 0) {
      list.appendChild(h('p', { class: 'muted empty' }, 'No entries yet. Type !Print value=hello, or !sig… and Tab to complete.'));
    }
    d.entries.forEach(addEntry);
    list.scrollTop = list.scrollHeight;
    loadContext();
    connect();
    await loadCatalog(true);
  }

  document.addEventListener('DOMContentLoaded', () => {
    loadHistory();
    const input = $('command');
    input.addEventListener('keydown', onKey);
    input.addEventListener('input', () => {
      historyPos = -1;
      showSuggestions();
    });
    input.addEventListener('focus', () => loadCatalog(false));
    input.addEventListener('blur', () => setTimeout(() => {
      if (document.activeElement !== input) closeSuggestions();
    }, 150));
    $('command-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const line = input.value.trim();
      if (!line || !invId) return;
      closeSuggestions();
      remember(line);
      input.value = '';
      run(line);
    });
    $('ctx-search').addEventListener('input', renderContext);
    init();
  });
})();
