// firstline: the admin page's second-level groups and third-level vendors: the table and one
// form to add or change an entry (a group's description; a vendor's contact and notes; whether
// escalation offers it). The desk's escalation lists follow at once; an inactive entry stays on
// the intakes and agents that name it.

import { html, api, useEffect, useState } from '../ui.js';
import { t } from '../i18n.js';

const EMPTY = { name: '', contact: '', notes: '', active: true };

function TargetForm({ kind, editing, onSaved, say }) {
  const [f, setF] = useState(editing || EMPTY);
  useEffect(() => setF(editing ? { ...EMPTY, ...editing, contact: editing.contact || '', notes: editing.notes || '' } : EMPTY), [editing]);
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = async (ev) => {
    ev.preventDefault();
    const body = kind === 'groups'
      ? { description: f.contact, active: f.active }
      : { contact: f.contact, notes: f.notes, active: f.active };
    try {
      await api('PUT', `/api/admin/${kind}/${encodeURIComponent(f.name.trim())}`, body);
      say(true, t('admin.target.saved', { name: f.name.trim() }));
      onSaved();
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
  };
  return html`
    <form class="admin-form panel" data-testid="target-form" onSubmit=${submit}>
      <h2>${editing ? editing.name : t(`admin.${kind}.new`)}</h2>
      ${!editing && html`<label>${t('admin.target.name')}<input data-testid="target-name" required
        value=${f.name} onInput=${set('name')} /></label>`}
      <label>${t(kind === 'groups' ? 'admin.target.description' : 'admin.target.contact')}
        <input data-testid="target-contact" value=${f.contact} onInput=${set('contact')} /></label>
      ${kind === 'vendors' && html`<label>${t('admin.target.notes')}
        <textarea data-testid="target-notes" rows="4" value=${f.notes} onInput=${set('notes')}></textarea></label>`}
      <label class="check"><input type="checkbox" data-testid="target-active" checked=${f.active}
        onChange=${(e) => setF({ ...f, active: e.currentTarget.checked })} />${t('admin.target.offered')}</label>
      <button type="submit" data-testid="target-save">${t('admin.save')}</button>
      ${editing && html`<button type="button" class="secondary" onClick=${() => onSaved()}>${t(`admin.${kind}.new`)}</button>`}
    </form>`;
}

export function TargetsView({ kind, canEdit, say }) {
  const [rows, setRows] = useState([]);
  const [editing, setEditing] = useState(null);
  const reload = async () => {
    try {
      setRows((await api('GET', `/api/admin/${kind}`)).json);
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
  };
  useEffect(() => { setEditing(null); reload(); }, [kind]);
  return html`
    <main class="admin-main">
      <section class="panel" aria-labelledby="targets-h">
        <h2 id="targets-h">${t(`admin.tab.${kind}`)}</h2>
        <table data-testid="targets-table"><thead><tr>
          <th scope="col">${t('admin.target.name')}</th>
          <th scope="col">${t(kind === 'groups' ? 'admin.target.description' : 'admin.target.contact')}</th>
          ${kind === 'vendors' && html`<th scope="col">${t('admin.target.notes')}</th>`}
          <th scope="col">${t('admin.agent.status')}</th>
          ${canEdit && html`<th scope="col">${t('admin.actions')}</th>`}
        </tr></thead><tbody>
          ${rows.map((r) => html`<tr key=${r.name} data-testid=${`target-row-${r.name}`} class=${r.active ? '' : 'inactive'}>
            <td>${r.name}</td><td>${r.contact || t('none')}</td>
            ${kind === 'vendors' && html`<td>${r.notes || t('none')}</td>`}
            <td>${r.active ? t('admin.target.offered_short') : t('admin.inactive')}</td>
            ${canEdit && html`<td class="actions"><button type="button" class="secondary"
              data-testid=${`edit-target-${r.name}`} onClick=${() => setEditing(r)}>${t('admin.edit')}</button></td>`}
          </tr>`)}
        </tbody></table>
      </section>
      ${canEdit && html`<${TargetForm} kind=${kind} editing=${editing} say=${say}
        onSaved=${() => { setEditing(null); reload(); }} />`}
    </main>`;
}
