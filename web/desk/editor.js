// firstline desk: the intake editor (title, description, category, priority; autosaved), with
// its header (number, status, level, group, work state, SLA, tickets). Each save names the text
// it was typed over (`base`): when another agent changed that field meanwhile the server refuses
// it (`edit_conflict`) and the editor shows both versions side by side until the agent keeps
// theirs or takes the other's; a change made elsewhere while this agent is not typing simply
// appears (the desk watches the intake it shows).

import { html, useEffect, useState } from '../ui.js';
import { t } from '../i18n.js';
import * as act from './actions.js';
import { useLater } from './hooks.js';
import { SlaBadges } from './sla.js';

const SAVE_AFTER_MS = 300;
const CATEGORIES = ['hardware', 'software', 'service', 'unclassified'];
const TEXT_FIELDS = ['title', 'description'];

/** What the server keeps of a typed value (the title is trimmed, the description is not). */
const stored = (field, value) => (field === 'title' ? value.trim() : value);
const serverText = (intake, field) => intake[field] || '';

export function IntakeEditor({ intake, mode, me, children }) {
  const editable = mode !== 'readonly';
  const [text, setText] = useState({ title: serverText(intake, 'title'), description: serverText(intake, 'description') });
  // The server's text each field was last known to hold: what a save is typed over.
  const [base, setBase] = useState({ title: serverText(intake, 'title'), description: serverText(intake, 'description') });
  const [dirty, setDirty] = useState({});
  const [sent, setSent] = useState({}); // field → the value of the save on its way
  const [conflict, setConflict] = useState(null); // { field, by, theirs }
  const [save, setSave] = useState('idle'); // idle | saving | saved | failed | conflict

  useEffect(() => {
    act.watch(intake.id);
    return () => act.watch(null);
  }, [intake.id]);

  // A new server copy: taken over where the agent has not typed; an echo of our own save moves
  // the base; anything else under typed text is another agent's change, shown as a conflict.
  for (const field of TEXT_FIELDS) {
    useEffect(() => {
      const now = serverText(intake, field);
      if (!dirty[field]) {
        setText((x) => ({ ...x, [field]: now }));
        setBase((b) => ({ ...b, [field]: now }));
      } else if (now === base[field] || now === sent[field] || intake.updated_by === me.id) {
        setBase((b) => ({ ...b, [field]: now }));
      } else {
        setConflict({ field, by: intake.updated_by_name || '', theirs: now });
      }
    }, [intake[field]]);
  }

  // `over`: the server text each field is typed over (by default the last one known).
  const send = (fields, over = base) => {
    const keys = Object.keys(fields);
    const typedOver = {};
    for (const k of keys) typedOver[k] = over[k];
    setSave('saving');
    setSent((x) => ({ ...x, ...fields }));
    return act.saveFields(intake.id, { ...fields, base: typedOver }).then(() => {
      setBase((b) => ({ ...b, ...fields }));
      setDirty((d) => {
        const next = { ...d };
        for (const k of keys) if (stored(k, text[k]) === fields[k]) delete next[k];
        return next;
      });
      setSave('saved');
    }, (e) => {
      if (e && e.code === 'edit_conflict') {
        const field = keys.find((k) => TEXT_FIELDS.includes(k)) || keys[0];
        setConflict({ field, by: intake.updated_by_name || '', theirs: serverText(intake, field) });
        setSave('conflict');
      } else setSave('failed');
    });
  };

  const later = useLater(() => {
    if (conflict) return;
    const fields = {};
    for (const k of TEXT_FIELDS) if (dirty[k]) fields[k] = stored(k, text[k]);
    if (Object.keys(fields).length) send(fields);
  }, SAVE_AFTER_MS);

  const typed = (field) => (e) => {
    const value = e.target.value;
    setText((x) => ({ ...x, [field]: value }));
    setDirty((d) => ({ ...d, [field]: true }));
    setSave('saving');
    later.schedule();
  };
  const choice = (fields) => act.saveFields(intake.id, fields).then(() => setSave('saved'), () => setSave('failed'));

  const keepMine = () => {
    const { field } = conflict;
    const theirs = serverText(intake, field);
    setConflict(null);
    setBase((b) => ({ ...b, [field]: theirs }));
    send({ [field]: stored(field, text[field]) }, { [field]: theirs });
  };
  const takeTheirs = () => {
    const { field } = conflict;
    const theirs = serverText(intake, field);
    setConflict(null);
    setText((x) => ({ ...x, [field]: theirs }));
    setBase((b) => ({ ...b, [field]: theirs }));
    setDirty((d) => { const next = { ...d }; delete next[field]; return next; });
    setSave('idle');
  };

  return html`
    <section class="col col-main intake" data-testid="intake" data-intake=${intake.id}>
      <header class="intake-head">
        <h2>
          <span data-testid="intake-ticket">${intake.ticket_no || t('intake.no_number')}</span>
          <span class="muted small" data-testid="intake-id">${intake.id}</span>
        </h2>
        <span class=${`badge status-${intake.status}`} data-testid="intake-status" data-status=${intake.status}>
          ${t(`status.${intake.status}`)}</span>
        <span class="badge" data-testid="intake-level" data-level=${String(intake.level || 1)}>${t(`level.${intake.level || 1}`)}</span>
        ${intake.group ? html`<span class="badge" data-testid="intake-group">${intake.group}</span>` : null}
        ${intake.work_state ? html`<span class=${`badge work-${intake.work_state}`} data-testid="intake-work-state"
          data-state=${intake.work_state}>${t(`work.${intake.work_state}`)}</span>` : null}
        <${SlaBadges} sla=${intake.sla} />
        ${(intake.tickets || []).map((tk) => html`<${ExternalTicket} ticket=${tk} />`)}
        <span class="muted" data-testid="intake-channel">${t(`channel.${intake.channel || 'phone'}`)}</span>
        <span class=${`save-status save-${save}`} data-testid="save-status" data-state=${save} aria-live="polite">
          ${save === 'idle' ? '' : t(`save.${save}`)}</span>
      </header>
      ${conflict ? html`<${Conflict} conflict=${conflict} mine=${text[conflict.field]}
        onKeepMine=${keepMine} onTakeTheirs=${takeTheirs} />` : null}
      <div class="row">
        <label>${t('intake.category')}
          <select data-testid="pop-category" disabled=${!editable} value=${intake.category || 'unclassified'}
            onChange=${(e) => choice({ category: e.target.value })}>
            ${CATEGORIES.map((c) => html`<option value=${c}>${t(`category.${c}`)}</option>`)}
          </select>
        </label>
        <label>${t('intake.priority')}
          <select data-testid="pop-priority" disabled=${!editable} value=${intake.priority ? String(intake.priority) : ''}
            onChange=${(e) => e.target.value && choice({ priority: Number(e.target.value) })}>
            <option value="">${t('priority.none')}</option>
            ${[1, 2, 3, 4, 5].map((p) => html`<option value=${String(p)}>${t(`priority.${p}`)}</option>`)}
          </select>
        </label>
      </div>
      <label for="intake-title">${t('intake.title')}</label>
      <input id="intake-title" data-testid="intake-title" maxlength="200" value=${text.title} readonly=${!editable}
        onInput=${typed('title')} onBlur=${later.flush} />
      <label for="intake-description">${t('intake.description')}</label>
      <textarea id="intake-description" data-testid="intake-description" maxlength="10000" rows="7"
        value=${text.description} readonly=${!editable} onInput=${typed('description')}
        onBlur=${later.flush}></textarea>
      ${children}
    </section>`;
}

/** Both versions of a field two agents changed at once, and the two ways out. */
function Conflict({ conflict, mine, onKeepMine, onTakeTheirs }) {
  return html`
    <div class="conflict" role="alert" data-testid="edit-conflict" data-field=${conflict.field}>
      <p>${t('conflict.text', { name: conflict.by || t('conflict.someone'), field: t(`intake.${conflict.field}`) })}</p>
      <dl>
        <dt>${t('conflict.theirs')}</dt><dd data-testid="conflict-theirs">${conflict.theirs}</dd>
        <dt>${t('conflict.mine')}</dt><dd data-testid="conflict-mine">${mine}</dd>
      </dl>
      <button type="button" data-testid="conflict-keep-mine" onClick=${onKeepMine}>${t('conflict.keep_mine')}</button>
      <button type="button" class="secondary" data-testid="conflict-take-theirs" onClick=${onTakeTheirs}>
        ${t('conflict.take_theirs')}</button>
    </div>`;
}

/** The intake's ticket in a ticket system: its number as a link, or why the hand-off failed. */
function ExternalTicket({ ticket }) {
  return html`
    <span class="external-ticket" data-testid=${`external-ticket-${ticket.target}`}>
      ${ticket.ticket_no ? html`<a class="badge" href=${ticket.url || '#'} target="_blank" rel="noopener noreferrer"
        data-testid="external-ticket-link">${t('intake.external_ticket', { target: ticket.target, number: ticket.ticket_no })}</a>` : null}
      ${ticket.error ? html`<span class="badge status-error" role="alert" data-testid="external-ticket-error"
        title=${ticket.error}>${t('intake.handoff_failed', { target: ticket.target, error: ticket.error })}</span>` : null}
    </span>`;
}
