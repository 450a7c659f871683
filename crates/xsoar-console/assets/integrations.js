// Integrations page: loaded integrations with their commands, and instance management.
// Credentials are write-only: the API says only whether a secret is set, and an edit that
// leaves a secret box empty keeps the stored value.
'use strict';

(() => {
  const { api, h, clear, banner, toast } = Console;
  const enc = encodeURIComponent;
  const $ = (id) => document.getElementById(id);

  let integrations = [];
  let instances = [];

  function integrationOf(brand) {
    return integrations.find((i) => i.name === brand || i.id === brand);
  }

  function paramSummary(inst) {
    const items = [];
    for (const [k, v] of Object.entries(inst.params)) {
      items.push(h('li', null, k + ': ', h('code', null, typeof v === 'string' ? v : JSON.stringify(v))));
    }
    for (const [k, set] of Object.entries(inst.secrets)) {
      items.push(h('li', null, k + ': ', h('span', { class: 'badge ' + (set ? 'ok' : 'waiting'), 'data-secret': k }, set ? 'set' : 'not set')));
    }
    return h('ul', { class: 'params-list' }, items);
  }

  function renderInstances() {
    const body = clear(document.querySelector('#instances tbody'));
    if (instances.length === 0) {
      body.appendChild(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No instances: add one to run integration commands.')));
      return;
    }
    for (const inst of instances) {
      const result = h('span', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
      const testButton = h('button', { type: 'button', 'data-action': 'test' }, 'Test');
      testButton.addEventListener('click', async () => {
        testButton.disabled = true;
        clear(result).append(h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' testing…');
        try {
          const r = await api('POST', '/instances/' + enc(inst.name) + '/test');
          clear(result).append(h('span', { class: r.ok ? 'ok-text' : 'error-text' }, r.ok ? 'Success: ' + r.message : 'Failed: ' + r.message));
        } catch (e) {
          clear(result).append(h('span', { class: 'error-text' }, 'Failed: ' + e.message));
        }
        testButton.disabled = false;
      });
      const toggle = h('button', { type: 'button', 'data-action': 'toggle' }, inst.enabled ? 'Disable' : 'Enable');
      toggle.addEventListener('click', () => change('POST', '/instances/' + enc(inst.name) + '/enabled', { enabled: !inst.enabled }, inst.enabled ? 'Disabled ' + inst.name : 'Enabled ' + inst.name));
      const edit = h('button', { type: 'button', 'data-action': 'edit' }, 'Edit');
      edit.addEventListener('click', () => openForm(inst));
      const del = h('button', { type: 'button', class: 'danger', 'data-action': 'delete' }, 'Delete');
      del.addEventListener('click', () => {
        if (del.dataset.confirm === 'yes') {
          change('DELETE', '/instances/' + enc(inst.name), undefined, 'Deleted ' + inst.name);
        } else {
          del.dataset.confirm = 'yes';
          del.textContent = 'Confirm delete';
          setTimeout(() => {
            del.dataset.confirm = '';
            del.textContent = 'Delete';
          }, 4000);
        }
      });
      body.appendChild(h('tr', { 'data-instance': inst.name },
        h('td', null, h('strong', null, inst.name), inst.simulated ? [' ', h('span', { class: 'badge sim' }, 'embedded SIGNL4 simulator')] : null),
        h('td', null, inst.brand),
        h('td', null, h('span', { class: 'badge ' + (inst.enabled ? 'ok' : '') }, inst.enabled ? 'enabled' : 'disabled'),
          inst.problem ? h('div', { class: 'error-text' }, inst.problem) : null),
        h('td', null, paramSummary(inst)),
        h('td', null, h('div', { class: 'actions' }, testButton, toggle, edit, del), result)));
    }
  }

  async function change(method, path, body, done) {
    try {
      instances = await api(method, path, body);
      renderInstances();
      toast(done);
      return true;
    } catch (e) {
      banner(e.message);
      return false;
    }
  }

  function field(p, inst) {
    const id = 'param-' + p.name;
    const label = h('label', { for: id }, p.display + (p.required ? ' *' : ''));
    let input;
    if (p.secret) {
      const set = inst && inst.secrets[p.name];
      input = h('input', {
        id, type: 'password', 'data-param': p.name, 'data-secret': 'true', autocomplete: 'new-password',
        placeholder: set ? 'set — leave empty to keep' : 'not set',
      });
    } else if (p.type === 8) {
      const current = inst && p.name in inst.params ? inst.params[p.name] : p.defaultValue;
      input = h('input', { id, type: 'checkbox', 'data-param': p.name, 'data-bool': 'true', checked: current === true || current === 'true' });
    } else if ((p.type === 15 || p.type === 16) && p.options.length) {
      const current = inst && p.name in inst.params ? inst.params[p.name] : p.defaultValue;
      input = h('select', { id, 'data-param': p.name }, p.options.map((o) => h('option', { value: o, selected: o === current }, o)));
    } else {
      const current = inst && p.name in inst.params ? inst.params[p.name] : (p.defaultValue === null || p.defaultValue === undefined ? '' : p.defaultValue);
      input = h('input', { id, type: 'text', 'data-param': p.name, value: typeof current === 'string' ? current : JSON.stringify(current) });
    }
    const help = p.additionalInfo ? h('div', { class: 'help' }, p.additionalInfo) : null;
    return [label, input, help];
  }

  function openForm(inst) {
    const form = clear($('instance-form'));
    form.hidden = false;
    const editing = !!inst;
    form.append(h('h3', null, editing ? 'Edit instance ' + inst.name : 'Add instance'));
    let brandSelect = null;
    if (!editing) {
      brandSelect = h('select', { id: 'inst-brand' }, integrations.map((i) => h('option', { value: i.name }, i.display)));
      form.append(h('label', { for: 'inst-brand' }, 'Integration'), brandSelect);
    }
    form.append(h('label', { for: 'inst-name' }, 'Name'), h('input', { id: 'inst-name', required: true, value: editing ? inst.name : '' }));
    form.append(h('label', { for: 'inst-enabled' }, 'Enabled'), h('input', { id: 'inst-enabled', type: 'checkbox', checked: editing ? inst.enabled : true }));
    const params = h('div', { class: 'full form-grid', id: 'inst-params' });
    form.append(params);
    const renderParams = () => {
      clear(params);
      const integ = integrationOf(editing ? inst.brand : brandSelect.value);
      if (!integ) {
        params.append(h('p', { class: 'muted' }, 'The integration is not loaded: only the name and state can change.'));
        return;
      }
      for (const p of integ.params) params.append(...field(p, inst).filter(Boolean));
    };
    renderParams();
    if (brandSelect) brandSelect.addEventListener('change', renderParams);
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => {
      form.hidden = true;
      clear(form);
    });
    form.append(h('div', { class: 'actions' }, save, cancel));
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const el of params.querySelectorAll('[data-param]')) {
        const k = el.dataset.param;
        if (el.dataset.secret) {
          if (el.value) values[k] = el.value;
        } else if (el.dataset.bool) {
          values[k] = el.checked;
        } else {
          values[k] = el.value;
        }
      }
      const body = { name: $('inst-name').value, enabled: $('inst-enabled').checked, params: values };
      let ok;
      if (editing) {
        ok = await change('PUT', '/instances/' + enc(inst.name), body, 'Saved ' + body.name);
      } else {
        body.brand = brandSelect.value;
        ok = await change('POST', '/instances', body, 'Added ' + body.name);
      }
      if (ok) {
        form.hidden = true;
        clear(form);
        banner('');
      }
    };
    $('inst-name').focus();
  }

  function renderIntegrations() {
    const root = clear($('integrations'));
    if (integrations.length === 0) {
      root.appendChild(h('p', { class: 'muted' }, 'No integrations are loaded.'));
    }
    for (const i of integrations) {
      root.appendChild(h('section', { class: 'integration', 'data-integration': i.name },
        h('h3', null, i.display, ' ', h('span', { class: 'badge' }, i.category)),
        h('p', { class: 'muted' }, i.description),
        h('details', null,
          h('summary', null, i.commands.length + ' commands'),
          i.commands.map((c) => h('div', { class: 'command-doc' },
            h('h4', null, h('code', null, '!' + c.name), ' — ', c.description),
            c.arguments.length
              ? h('table', null,
                h('thead', null, h('tr', null, h('th', null, 'Argument'), h('th', null, 'Required'), h('th', null, 'Values'), h('th', null, 'Description'))),
                h('tbody', null, c.arguments.map((a) => h('tr', null,
                  h('td', null, h('code', null, a.name)),
                  h('td', null, a.required ? 'yes' : ''),
                  h('td', null, a.predefined.join(', ') + (a.defaultValue ? ' (default ' + a.defaultValue + ')' : '')),
                  h('td', null, a.description)))))
              : h('p', { class: 'muted' }, 'No arguments.'),
            c.outputs.length ? h('p', { class: 'muted' }, 'Outputs: ', c.outputs.join(', ')) : null)))));
    }
  }

  document.addEventListener('DOMContentLoaded', async () => {
    await Console.ready;
    $('add-instance').addEventListener('click', () => openForm(null));
    try {
      [integrations, instances] = await Promise.all([api('GET', '/integrations'), api('GET', '/instances')]);
    } catch (e) {
      banner('Cannot load the integrations: ' + e.message);
      return;
    }
    renderInstances();
    renderIntegrations();
  });
})();
