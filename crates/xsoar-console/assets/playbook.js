// Playbook work plan: the task graph drawn as SVG from the YAML view positions, runs on an
// incident with live task states, task details, and completion of manual tasks.
'use strict';

(() => {
  const { api, h, clear, banner, toast, entryElement, time } = Console;
  const W = 260;
  const H = 58;
  const enc = encodeURIComponent;
  const $ = (id) => document.getElementById(id);

  let graph = null;
  let view = null; // RunView of the selected incident, when it runs this playbook
  let selectedTask = null;
  let invId = null;
  let events = null;
  let busy = false;

  const svg = (tag, attrs, ...children) => h('svg:' + tag, attrs, ...children);

  function labelText(label) {
    if (label === '#none#') return '';
    if (label === '#default#') return 'else';
    if (label === '#error#') return 'error';
    return label;
  }

  function truncate(s, n) {
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  function taskRun(id) {
    return view && view.run && view.run.root.tasks[id] ? view.run.root.tasks[id] : null;
  }

  function stateOf(id) {
    const t = taskRun(id);
    return t ? t.state : 'Pending';
  }

  function stateWord(state) {
    return {
      Pending: 'pending', Running: 'running', Waiting: 'waiting', Completed: 'completed', Error: 'error',
      Skipped: 'skipped', NotExecuted: 'not executed', Blocked: 'blocked',
    }[state] || String(state).toLowerCase();
  }

  // ---- drawing -------------------------------------------------------------------------

  function draw() {
    const el = clear($('graph'));
    const pos = new Map(graph.tasks.map((t) => [t.id, t]));
    const xs = graph.tasks.map((t) => t.x);
    const ys = graph.tasks.map((t) => t.y);
    const minX = Math.min(...xs) - 60;
    const minY = Math.min(...ys) - 30;
    const maxX = Math.max(...xs) + W + 100;
    const maxY = Math.max(...ys) + H + 30;
    const width = maxX - minX;
    const height = maxY - minY;
    el.setAttribute('viewBox', [minX, minY, width, height].join(' '));
    el.setAttribute('width', String(width));
    el.setAttribute('height', String(height));
    el.appendChild(svg('defs', null,
      svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }))));
    const edges = svg('g', { class: 'edges' });
    const labels = svg('g', { class: 'labels' });
    for (const e of graph.edges) {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      if (!a || !b) continue;
      let d;
      let mx;
      let my;
      if (b.y > a.y + H / 2) {
        const x1 = a.x + W / 2;
        const y1 = a.y + H;
        const x2 = b.x + W / 2;
        const y2 = b.y;
        const c = Math.max(30, (y2 - y1) / 2);
        d = `M ${x1} ${y1} C ${x1} ${y1 + c}, ${x2} ${y2 - c}, ${x2} ${y2}`;
        mx = (x1 + x2) / 2;
        my = (y1 + y2) / 2;
      } else {
        // Back edge or same row: go round the right-hand side.
        const x1 = a.x + W;
        const y1 = a.y + H / 2;
        const x2 = b.x + W;
        const y2 = b.y + H / 2;
        const out = Math.max(x1, x2) + 60;
        d = `M ${x1} ${y1} C ${out} ${y1}, ${out} ${y2}, ${x2} ${y2}`;
        mx = out - 15;
        my = (y1 + y2) / 2;
      }
      edges.appendChild(svg('path', { d, class: 'edge' + (e.label === '#error#' ? ' error' : ''), 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
      const text = labelText(e.label);
      if (text) {
        const w = text.length * 6.6 + 12;
        labels.appendChild(svg('g', { class: 'edge-label', transform: `translate(${mx - w / 2} ${my - 9})` },
          svg('rect', { width: String(w), height: '18', rx: '9' }),
          svg('text', { x: String(w / 2), y: '13', 'text-anchor': 'middle' }, text)));
      }
    }
    el.appendChild(edges);
    const tasks = svg('g', { class: 'tasks' });
    for (const t of graph.tasks) {
      const state = stateOf(t.id);
      const sub = t.type === 'start' ? 'start' : t.type + (t.target ? ' · ' + t.target : '') + (t.manual ? ' · manual' : '');
      const g = svg('g', {
        class: `task type-${t.type} st-${String(state).toLowerCase()}` + (selectedTask === t.id ? ' selected' : ''),
        transform: `translate(${t.x} ${t.y})`,
        tabindex: '0',
        role: 'button',
        'data-task': t.id,
        'data-state': state,
        'aria-label': `Task ${t.id}: ${t.name || t.type}, ${stateWord(state)}`,
        onclick: () => selectTask(t.id),
        onkeydown: (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            selectTask(t.id);
          }
        },
      },
      svg('title', null, `${t.name || t.type} (${stateWord(state)})`),
      svg('rect', { width: String(W), height: String(H), rx: t.type === 'condition' ? '18' : '6' }),
      svg('text', { x: String(W / 2), y: '24', 'text-anchor': 'middle' }, truncate(`#${t.id} ${t.name || ''}`.trim(), 34)),
      svg('text', { x: String(W / 2), y: '44', 'text-anchor': 'middle', class: 'sub' }, truncate(sub + ' · ' + stateWord(state), 42)));
      tasks.appendChild(g);
    }
    el.appendChild(tasks);
    el.appendChild(labels);
  }

  // ---- task panel ----------------------------------------------------------------------

  function selectTask(id) {
    selectedTask = id;
    draw();
    renderPanel();
    const g = document.querySelector(`#graph [data-task="${CSS.escape(id)}"]`);
    if (g) g.focus();
  }

  function json(v) {
    return JSON.stringify(v, null, 2);
  }

  function renderPanel() {
    const panel = clear($('task-panel'));
    const t = graph.tasks.find((x) => x.id === selectedTask);
    if (!t) {
      panel.appendChild(h('p', { class: 'muted' }, 'Select a task to see its inputs, entries and outputs.'));
      return;
    }
    const run = taskRun(t.id);
    const state = run ? run.state : 'Pending';
    panel.appendChild(h('h2', null, `#${t.id} ${t.name || t.type}`));
    if (t.description) panel.appendChild(h('p', { class: 'muted' }, t.description));
    panel.appendChild(h('dl', null,
      h('dt', null, 'Type'), h('dd', null, t.type + (t.manual ? ' (manual)' : '')),
      t.target ? [h('dt', null, 'Runs'), h('dd', null, h('code', null, t.target))] : null,
      h('dt', null, 'State'), h('dd', null, h('span', { class: 'badge ' + String(state).toLowerCase(), id: 'task-state' }, stateWord(state))),
      run && run.label ? [h('dt', null, 'Branch'), h('dd', null, labelText(run.label) || run.label)] : null,
      run && run.executions ? [h('dt', null, 'Executions'), h('dd', null, String(run.executions))] : null,
      run && run.started ? [h('dt', null, 'Started'), h('dd', null, time(run.started))] : null,
      run && run.completed ? [h('dt', null, 'Completed'), h('dd', null, time(run.completed))] : null,
      t.tags.length ? [h('dt', null, 'Tags'), h('dd', null, t.tags.join(', '))] : null));
    if (run && run.error) {
      panel.appendChild(h('h3', null, 'Error'));
      panel.appendChild(h('pre', { class: 'error-text', id: 'task-error' }, run.error));
    }
    if (run && state === 'Waiting' && invId) {
      const form = h('form', { class: 'complete-form', id: 'complete-form' });
      let select = null;
      if (t.labels.length) {
        select = h('select', { id: 'complete-label', 'aria-label': 'Branch to take' },
          t.labels.map((l) => h('option', { value: l }, labelText(l) || l)));
        form.append(h('label', { for: 'complete-label' }, 'Branch'), select);
      } else {
        form.append(h('span', null, 'This task waits for you.'));
      }
      const button = h('button', { type: 'submit', class: 'primary', id: 'complete-task' }, 'Complete task');
      form.append(button);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        button.disabled = true;
        try {
          const v = await api('POST', '/investigations/' + enc(invId) + '/run/complete', { task: t.id, label: select ? select.value : null });
          apply(v);
          toast('Task #' + t.id + ' completed');
          await loadIncidents(invId);
        } catch (e) {
          banner('Cannot complete the task: ' + e.message);
          button.disabled = false;
        }
      });
      panel.appendChild(form);
    }
    const args = Object.entries(t.arguments);
    if (args.length) {
      panel.appendChild(h('h3', null, 'Arguments (as written)'));
      panel.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
        h('tbody', null, args.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, h('code', null, v))))))));
    }
    if (run && Object.keys(run.inputs).length) {
      panel.appendChild(h('h3', null, 'Resolved inputs'));
      panel.appendChild(h('pre', { id: 'task-inputs' }, json(run.inputs)));
    }
    if (run && run.entries.length) {
      panel.appendChild(h('h3', null, 'Entries'));
      for (const id of run.entries) {
        const e = view.entries[id];
        if (!e) continue;
        panel.appendChild(entryElement(e));
        if (e.outputs) {
          panel.appendChild(h('details', { class: 'outputs', open: true }, h('summary', null, 'Outputs (context written)'), h('pre', null, e.outputs)));
        }
      }
    }
    if (run && run.sub) {
      panel.appendChild(h('h3', null, 'Sub-playbook ' + run.sub.playbook_name));
      panel.appendChild(h('ul', null, Object.values(run.sub.tasks).map((s) => h('li', null, `#${s.id} ${s.name || s.task_type}: ${stateWord(s.state)}`))));
    }
  }

  // ---- runs ----------------------------------------------------------------------------

  function runState(text, cls) {
    const el = clear($('run-state'));
    if (cls === 'busy') el.append(h('span', { class: 'spinner', 'aria-hidden': 'true' }));
    el.append(h('span', { class: 'badge ' + (cls || '') }, text));
  }

  function apply(v) {
    if (!v || v.investigationId !== invId) return;
    if (v.run.root.playbook_id !== graph.id && v.run.root.playbook_name !== graph.name) {
      view = null;
      runState('This incident runs another playbook: ' + v.run.root.playbook_name, '');
      draw();
      renderPanel();
      return;
    }
    view = v;
    const s = v.run.state;
    runState('Run ' + (s === 'inprogress' ? 'in progress' : s), s);
    const waiting = Object.values(v.run.root.tasks).find((t) => t.state === 'Waiting');
    if (waiting && !selectedTask) selectedTask = waiting.id;
    draw();
    renderPanel();
  }

  function findFrame(frame, runId) {
    if (!frame) return null;
    if (frame.run_id === runId || frame.runId === runId) return frame;
    for (const t of Object.values(frame.tasks || {})) {
      const found = t.sub ? findFrame(t.sub, runId) : null;
      if (found) return found;
    }
    return null;
  }

  function subscribe() {
    if (events) events.close();
    events = new EventSource('/console/api/investigations/' + enc(invId) + '/events');
    events.addEventListener('run', (ev) => {
      if (!busy) apply(JSON.parse(ev.data));
    });
    // Live progress while a run goes on: recolour the task in its (sub-)run.
    events.addEventListener('task', (ev) => {
      const p = JSON.parse(ev.data);
      if (!view || !view.run) return;
      const frame = findFrame(view.run.root, p.runId);
      const task = frame && frame.tasks[p.taskId];
      if (!task) return;
      task.state = p.state;
      draw();
      if (selectedTask === p.taskId) renderPanel();
    });
  }

  async function chooseIncident(id) {
    invId = id || null;
    view = null;
    const link = $('run-warroom');
    if (!invId) {
      link.hidden = true;
      runState('', '');
      draw();
      renderPanel();
      return;
    }
    link.href = '/investigations/' + enc(invId);
    link.hidden = false;
    const url = new URL(location.href);
    url.searchParams.set('investigation', invId);
    history.replaceState(null, '', url);
    try {
      const v = await api('GET', '/investigations/' + enc(invId) + '/run');
      if (v) apply(v);
      else {
        runState('Not run on this incident yet', '');
        draw();
        renderPanel();
      }
    } catch (e) {
      banner('Cannot load the run: ' + e.message);
    }
    subscribe();
  }

  async function loadIncidents(selectId) {
    const sel = $('run-incident');
    const list = await api('GET', '/investigations');
    clear(sel);
    const incidents = list.filter((s) => s.kind === 'incident');
    if (incidents.length === 0) sel.appendChild(h('option', { value: '' }, '(no incidents: create one)'));
    for (const s of incidents) {
      sel.appendChild(h('option', { value: s.id }, `#${s.id} ${s.name}` + (s.playbook ? ` (${s.playbook}: ${s.runState})` : '')));
    }
    if (selectId && incidents.some((s) => s.id === selectId)) sel.value = selectId;
    return sel.value;
  }

  function inputValues() {
    const out = {};
    for (const input of document.querySelectorAll('#inputs-body input[data-key]')) {
      if (input.value !== input.dataset.default) out[input.dataset.key] = input.value;
    }
    return out;
  }

  function renderInputs() {
    const body = clear($('inputs-body'));
    if (graph.inputs.length === 0) {
      body.appendChild(h('p', { class: 'muted' }, 'This playbook has no inputs.'));
      return;
    }
    body.appendChild(h('table', { class: 'list' },
      h('thead', null, h('tr', null, h('th', null, 'Input'), h('th', null, 'Value'), h('th', null, 'Description'))),
      h('tbody', null, graph.inputs.map((i, n) => h('tr', null,
        h('td', null, h('label', { for: 'input-' + n }, i.key + (i.required ? ' *' : ''))),
        h('td', null, h('input', { id: 'input-' + n, 'data-key': i.key, 'data-default': i.value, value: i.value })),
        h('td', null, i.description))))));
  }

  async function startRun(ev) {
    ev.preventDefault();
    if (!invId) {
      banner('Choose or create an incident first.');
      return;
    }
    const button = $('run-button');
    button.disabled = true;
    busy = true;
    selectedTask = null;
    runState('Running…', 'busy');
    try {
      const v = await api('POST', '/investigations/' + enc(invId) + '/run', { playbook: graph.id, inputs: inputValues() });
      busy = false;
      apply(v);
      await loadIncidents(invId);
    } catch (e) {
      busy = false;
      runState('Not started', 'error');
      banner('Cannot run the playbook: ' + e.message);
    }
    button.disabled = false;
  }

  async function newIncident() {
    try {
      const s = await api('POST', '/investigations', { name: 'Run of ' + graph.name, severity: 1, details: 'Created from the playbook page.' });
      await loadIncidents(s.id);
      await chooseIncident(s.id);
      toast('Incident #' + s.id + ' created');
    } catch (e) {
      banner('Cannot create an incident: ' + e.message);
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    await Console.ready;
    const id = document.body.dataset.playbook;
    try {
      graph = await api('GET', '/playbooks/' + enc(id));
    } catch (e) {
      banner(e.status === 404 ? 'No playbook “' + id + '” is loaded.' : 'Cannot load the playbook: ' + e.message);
      return;
    }
    $('pb-title').textContent = graph.name;
    document.title = 'Playbook: ' + graph.name + ' · xsoar-emu';
    $('pb-description').textContent = graph.description;
    renderInputs();
    draw();
    $('run-form').addEventListener('submit', startRun);
    $('new-incident').addEventListener('click', newIncident);
    $('run-incident').addEventListener('change', (ev) => {
      selectedTask = null;
      chooseIncident(ev.target.value);
    });
    try {
      const wanted = new URLSearchParams(location.search).get('investigation');
      const first = await loadIncidents(wanted);
      await chooseIncident(first);
    } catch (e) {
      banner('Cannot load the incidents: ' + e.message);
    }
  });
})();
