// firstline: the admin page's agents: the table (every account, inactive ones greyed), one form
// to create or edit an account (login, name, role, level, extension, device, queues served,
// groups; a desk and a SIP password on creation), and per row: edit, deactivate or reactivate
// (confirmed in place), a new desk password, a new SIP password. The form starts empty for every
// new account and is filled from the stored row for an edit: nothing of one survives into the next.

import { html, api, useEffect, useState } from '../ui.js';
import { t } from '../i18n.js';

const CATEGORIES = ['hardware', 'software', 'service'];
const EMPTY = {
  login: '', name: '', password: '', role: 'agent', level: '1', extension: '', sip_password: '',
  device: 'phone', categories: ['hardware', 'software', 'service'], groups: [],
};

/** The form's fields for an edit, from the stored account. */
const formOf = (a) => ({
  ...EMPTY, login: a.login, name: a.name, role: a.role, level: String(a.level),
  extension: a.extension || '', device: a.device, categories: [...a.categories], groups: [...a.groups],
});

function toggle(list, value, on) {
  return on ? [...new Set([...list, value])] : list.filter((v) => v !== value);
}

function AgentForm({ editing, groups, onSaved, say }) {
  const [f, setF] = useState(editing ? formOf(editing) : EMPTY);
  const [busy, setBusy] = useState(false);
  useEffect(() => setF(editing ? formOf(editing) : EMPTY), [editing]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    const common = {
      login: f.login, name: f.name, role: f.role, level: Number(f.level),
      extension: f.extension, categories: f.categories, groups: f.groups,
    };
    try {
      if (editing) {
        await api('PATCH', `/api/admin/agents/${encodeURIComponent(editing.id)}`, common);
        if (f.device !== editing.device) {
          await api('PUT', `/api/agents/${encodeURIComponent(editing.id)}/device`, { device: f.device });
        }
        say(true, t('admin.agent.saved', { login: f.login }));
      } else {
        await api('POST', '/api/admin/agents', {
          ...common, device: f.device, password: f.password,
          sip_password: f.sip_password || null,
        });
        say(true, t('admin.agent.created', { login: f.login }));
        setF(EMPTY);
      }
      onSaved();
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    } finally {
      setBusy(false);
    }
  };
  const field = (k, label, type = 'text', extra = {}) => html`
    <label>${label}<input data-testid=${`agent-${k.replace('_', '-')}`} type=${type} value=${f[k]}
      onInput=${set(k)} autocomplete="off" ...${extra} /></label>`;
  return html`
    <form class="admin-form panel" data-testid="agent-form" onSubmit=${submit}>
      <h2>${editing ? t('admin.agent.edit', { login: editing.login }) : t('admin.agent.new')}</h2>
      ${field('login', t('admin.agent.login'), 'text', { required: true })}
      ${field('name', t('admin.agent.name'), 'text', { required: true })}
      ${!editing && field('password', t('admin.agent.password'), 'password', { required: true })}
      <label>${t('admin.agent.role')}<select data-testid="agent-role" value=${f.role} onChange=${set('role')}>
        ${['agent', 'supervisor', 'admin'].map((r) => html`<option value=${r}>${t(`admin.role.${r}`)}</option>`)}
      </select></label>
      <label>${t('admin.agent.level')}<select data-testid="agent-level" value=${f.level} onChange=${set('level')}>
        <option value="1">${t('level.1')}</option><option value="2">${t('level.2')}</option>
      </select></label>
      ${field('extension', t('admin.agent.extension'))}
      ${!editing && field('sip_password', t('admin.agent.sip_password'), 'password')}
      <label>${t('admin.agent.device')}<select data-testid="agent-device" value=${f.device} onChange=${set('device')}>
        <option value="phone">${t('admin.device.phone')}</option><option value="browser">${t('admin.device.browser')}</option>
      </select></label>
      <fieldset><legend>${t('admin.agent.categories')}</legend>
        ${CATEGORIES.map((c) => html`<label><input type="checkbox" data-testid=${`agent-cat-${c}`}
          checked=${f.categories.includes(c)}
          onChange=${(e) => setF({ ...f, categories: toggle(f.categories, c, e.currentTarget.checked) })} />
          ${t(`category.${c}`)}</label>`)}
      </fieldset>
      <fieldset><legend>${t('admin.agent.groups')}</legend>
        ${groups.length === 0 && html`<span class="muted">${t('admin.groups.none')}</span>`}
        ${groups.map((g) => html`<label><input type="checkbox" data-testid=${`agent-group-${g.name}`}
          checked=${f.groups.includes(g.name)}
          onChange=${(e) => setF({ ...f, groups: toggle(f.groups, g.name, e.currentTarget.checked) })} />
          ${g.name}</label>`)}
      </fieldset>
      <button type="submit" data-testid="agent-save" disabled=${busy}>${editing ? t('admin.save') : t('admin.agent.create')}</button>
      ${editing && html`<button type="button" class="secondary" data-testid="agent-new" onClick=${() => onSaved()}>${t('admin.agent.new')}</button>`}
    </form>`;
}

/** A new desk or SIP password for one agent, asked in place. */
function SecretForm({ agent, kind, onDone, say }) {
  const [value, setValue] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    const path = `/api/admin/agents/${encodeURIComponent(agent.id)}/${kind === 'sip' ? 'sip-password' : 'password'}`;
    try {
      await api('PUT', path, { password: value });
      say(true, t(kind === 'sip' ? 'admin.agent.sip_set' : 'admin.agent.password_set', { login: agent.login }));
      onDone();
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
  };
  return html`<form onSubmit=${submit} data-testid="secret-form">
    <label class="sr-only" for="secret-input">${t(kind === 'sip' ? 'admin.agent.sip_password' : 'admin.agent.password')}</label>
    <input id="secret-input" data-testid="secret-input" type="password" autocomplete="new-password"
      value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
    <button type="submit" data-testid="secret-save">${t('admin.save')}</button>
    <button type="button" class="secondary" onClick=${onDone}>${t('action.cancel')}</button></form>`;
}

function Row({ a, me, canEdit, ask, setAsk, onEdit, act, say, reload }) {
  const asking = ask && ask.id === a.id ? ask.what : null;
  const cats = a.categories.map((c) => t(`category.${c}`)).join(', ');
  return html`
    <tr data-testid=${`agent-row-${a.login}`} class=${a.active ? '' : 'inactive'}>
      <td>${a.login}</td><td>${a.name}</td><td>${t(`admin.role.${a.role}`)}</td><td>${a.level}</td>
      <td>${a.extension || t('none')}</td><td>${t(`admin.device.${a.device}`)}</td><td>${cats || t('none')}</td>
      <td>${a.groups.join(', ') || t('none')}</td>
      <td data-testid=${`agent-active-${a.login}`}>${a.active ? t('admin.active') : t('admin.inactive')}</td>
      ${canEdit && html`<td class="actions">
        ${asking === 'password' || asking === 'sip'
          ? html`<${SecretForm} agent=${a} kind=${asking} onDone=${() => setAsk(null)} say=${say} />`
          : asking === 'deactivate'
            ? html`<button type="button" data-testid=${`confirm-deactivate-${a.login}`}
                onClick=${() => act(a, 'deactivate')}>${t('admin.agent.confirm_deactivate')}</button>
              <button type="button" class="secondary" onClick=${() => setAsk(null)}>${t('action.cancel')}</button>`
            : html`
              <button type="button" class="secondary" data-testid=${`edit-${a.login}`} onClick=${() => onEdit(a)}>${t('admin.edit')}</button>
              ${a.active && a.id !== me.id && html`<button type="button" class="secondary" data-testid=${`deactivate-${a.login}`}
                onClick=${() => setAsk({ id: a.id, what: 'deactivate' })}>${t('admin.agent.deactivate')}</button>`}
              ${!a.active && html`<button type="button" class="secondary" data-testid=${`reactivate-${a.login}`}
                onClick=${() => act(a, 'reactivate')}>${t('admin.agent.reactivate')}</button>`}
              <button type="button" class="secondary" data-testid=${`password-${a.login}`}
                onClick=${() => setAsk({ id: a.id, what: 'password' })}>${t('admin.agent.new_password')}</button>
              ${a.extension && html`<button type="button" class="secondary" data-testid=${`sip-${a.login}`}
                onClick=${() => setAsk({ id: a.id, what: 'sip' })}>${t('admin.agent.new_sip')}</button>`}`}
      </td>`}
    </tr>`;
}

export function AgentsView({ me, canEdit, say }) {
  const [agents, setAgents] = useState([]);
  const [groups, setGroups] = useState([]);
  const [editing, setEditing] = useState(null);
  const [ask, setAsk] = useState(null);
  const reload = async () => {
    try {
      const [a, g] = await Promise.all([api('GET', '/api/admin/agents'), api('GET', '/api/admin/groups')]);
      setAgents(a.json);
      setGroups(g.json);
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
  };
  useEffect(() => { reload(); }, []);
  const act = async (a, what) => {
    setAsk(null);
    try {
      await api('POST', `/api/admin/agents/${encodeURIComponent(a.id)}/${what}`);
      say(true, t(`admin.agent.${what}d`, { login: a.login }));
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
    reload();
  };
  const head = ['login', 'name', 'role', 'level', 'extension', 'device', 'categories', 'groups', 'status'];
  return html`
    <main class="admin-main">
      <section class="panel" aria-labelledby="agents-h">
        <h2 id="agents-h">${t('admin.tab.agents')}</h2>
        <table data-testid="agents-table"><thead><tr>
          ${head.map((h) => html`<th scope="col">${t(`admin.agent.${h}`)}</th>`)}
          ${canEdit && html`<th scope="col">${t('admin.actions')}</th>`}
        </tr></thead><tbody>
          ${agents.map((a) => html`<${Row} key=${a.id} a=${a} me=${me} canEdit=${canEdit} ask=${ask} setAsk=${setAsk}
            onEdit=${setEditing} act=${act} say=${say} reload=${reload} />`)}
        </tbody></table>
      </section>
      ${canEdit && html`<${AgentForm} editing=${editing} groups=${groups} say=${say}
        onSaved=${() => { setEditing(null); reload(); }} />`}
    </main>`;
}
