// Playbooks page: the playbooks the engine loaded.
'use strict';

(() => {
  const { api, h, clear, banner } = Console;

  document.addEventListener('DOMContentLoaded', async () => {
    await Console.ready;
    const body = document.querySelector('#playbooks tbody');
    let list;
    try {
      list = await api('GET', '/playbooks');
    } catch (e) {
      banner('Cannot load the playbooks: ' + e.message);
      return;
    }
    clear(body);
    if (list.length === 0) {
      body.appendChild(h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No playbooks are loaded (load YAML with --content).')));
    }
    for (const p of list) {
      body.appendChild(h('tr', null,
        h('td', null, h('a', { href: '/playbooks/' + encodeURIComponent(p.id) }, p.name)),
        h('td', null, String(p.tasks)),
        h('td', null, p.description),
        h('td', null, h('code', null, p.file))));
    }
  });
})();
