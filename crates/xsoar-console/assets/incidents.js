// Incidents page: list investigations, create an incident and open its war room.
'use strict';

(() => {
  const { api, h, clear, banner, SEVERITY, STATUS, time } = Console;

  function href(s) {
    return s.kind === 'playground' ? '/playground' : '/investigations/' + encodeURIComponent(s.id);
  }

  async function load() {
    const body = document.querySelector('#incidents tbody');
    let list;
    try {
      list = await api('GET', '/investigations');
    } catch (e) {
      banner('Cannot load the investigations: ' + e.message);
      return;
    }
    clear(body);
    if (list.length === 0) {
      body.appendChild(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No incidents yet: create one above, or open the playground.')));
      return;
    }
    for (const s of list) {
      body.appendChild(h('tr', { 'data-id': s.id },
        h('td', null, s.kind === 'playground' ? 'playground' : s.id),
        h('td', null, h('a', { href: href(s) }, s.name || '(unnamed)')),
        h('td', { class: 'sev-' + s.severity }, SEVERITY[s.severity] || String(s.severity)),
        h('td', null, STATUS[s.status] || String(s.status)),
        h('td', null, String(s.entries)),
        h('td', null, s.playbook ? [s.playbook + ' ', h('span', { class: 'badge ' + (s.runState || '') }, s.runState || '')] : '—'),
        h('td', null, h('time', { datetime: s.created }, time(s.created)))));
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    await Console.ready;
    const form = document.getElementById('new-incident');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const created = await api('POST', '/investigations', {
          name: String(data.get('name') || ''),
          severity: Number(data.get('severity') || 0),
          details: String(data.get('details') || ''),
          incidentType: String(data.get('type') || '') || null,
        });
        location.assign(href(created));
      } catch (e) {
        banner('Cannot create the incident: ' + e.message);
        button.disabled = false;
      }
    });
    load();
  });
})();
