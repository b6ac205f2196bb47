// firstline desk: one intake in the workspace. The editor (title, description, category,
// priority, autosaved), its notes and escalation history, and beside it the outcome panel
// (outcome.js). Both are keyed by the intake's id by their parent, so what was typed for one
// intake lives in that intake's components only and is gone when another intake is shown.

import { html, useEffect, useState } from '../ui.js';
import { fmtDateTime, t } from '../i18n.js';
import * as act from './actions.js';
import { useLater } from './hooks.js';
import { CustomerPane } from './customer.js';
import { OutcomePanel } from './outcome.js';
import { historyLine } from './words.js';

const SAVE_AFTER_MS = 300;
const CATEGORIES = ['hardware', 'software', 'service', 'unclassified'];

/**
 * What the agent may do with `intake`: `first` (edit, resolve, escalate), `second` (a
 * second-level specialist working it: claim, notes, resolve, vendor, return) or `readonly`
 * (finished, or with another level; a resolved intake can be reopened).
 */
export function modeOf(intake, agent) {
  const level = Number((agent && agent.level) || 1);
  if (intake.status === 'draft' || intake.status === 'open') return 'first';
  if (intake.status === 'escalated' && level >= 2 && Number(intake.level) >= 2) return 'second';
  return 'readonly';
}

/** The centre and right columns for one intake; `callId` when it is the call's intake. */
export function IntakeColumns({ s, intake, callId = null }) {
  const mode = modeOf(intake, s.me && s.me.agent);
  return html`
    <${IntakeEditor} intake=${intake} mode=${mode} />
    <${OutcomePanel} s=${s} intake=${intake} mode=${mode} callId=${callId} />`;
}

function IntakeEditor({ intake, mode }) {
  const editable = mode !== 'readonly';
  const [title, setTitle] = useState(intake.title || '');
  const [description, setDescription] = useState(intake.description || '');
  const [dirty, setDirty] = useState({});
  const [save, setSave] = useState('idle'); // idle | saving | saved | failed

  // The server's copy wins for every field the agent has not typed into since it was saved.
  useEffect(() => { if (!dirty.title) setTitle(intake.title || ''); }, [intake.title]);
  useEffect(() => { if (!dirty.description) setDescription(intake.description || ''); }, [intake.description]);

  const later = useLater(() => {
    const fields = {};
    if (dirty.title) fields.title = title;
    if (dirty.description) fields.description = description;
    if (!Object.keys(fields).length) return;
    setSave('saving');
    act.saveFields(intake.id, fields).then(() => {
      setDirty((d) => {
        const next = { ...d };
        for (const k of Object.keys(fields)) if (fields[k] === (k === 'title' ? title : description)) delete next[k];
        return next;
      });
      setSave('saved');
    }, () => setSave('failed'));
  }, SAVE_AFTER_MS);

  const typed = (key, set) => (e) => {
    set(e.target.value);
    setDirty((d) => ({ ...d, [key]: true }));
    setSave('saving');
    later.schedule();
  };
  const field = (fields) => act.saveFields(intake.id, fields).then(() => setSave('saved'), () => setSave('failed'));

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
        ${(intake.tickets || []).map((tk) => html`<${ExternalTicket} ticket=${tk} />`)}
        <span class="muted" data-testid="intake-channel">${t(`channel.${intake.channel || 'phone'}`)}</span>
        <span class=${`save-status save-${save}`} data-testid="save-status" data-state=${save} aria-live="polite">
          ${save === 'idle' ? '' : t(`save.${save}`)}</span>
      </header>
      <div class="row">
        <label>${t('intake.category')}
          <select data-testid="pop-category" disabled=${!editable} value=${intake.category || 'unclassified'}
            onChange=${(e) => field({ category: e.target.value })}>
            ${CATEGORIES.map((c) => html`<option value=${c}>${t(`category.${c}`)}</option>`)}
          </select>
        </label>
        <label>${t('intake.priority')}
          <select data-testid="pop-priority" disabled=${!editable} value=${intake.priority ? String(intake.priority) : ''}
            onChange=${(e) => e.target.value && field({ priority: Number(e.target.value) })}>
            <option value="">${t('priority.none')}</option>
            ${[1, 2, 3, 4, 5].map((p) => html`<option value=${String(p)}>${t(`priority.${p}`)}</option>`)}
          </select>
        </label>
      </div>
      <label for="intake-title">${t('intake.title')}</label>
      <input id="intake-title" data-testid="intake-title" maxlength="200" value=${title} readonly=${!editable}
        onInput=${typed('title', setTitle)} onBlur=${later.flush} />
      <label for="intake-description">${t('intake.description')}</label>
      <textarea id="intake-description" data-testid="intake-description" maxlength="10000" rows="7"
        value=${description} readonly=${!editable} onInput=${typed('description', setDescription)}
        onBlur=${later.flush}></textarea>
      <${Notes} intake=${intake} />
      <${Escalations} intake=${intake} />
    </section>`;
}

function Notes({ intake }) {
  const [body, setBody] = useState('');
  const [error, setError] = useState('');
  const notes = intake.notes || [];
  const add = async (e) => {
    e.preventDefault();
    if (!body.trim()) return;
    setError('');
    try {
      await act.addNote(intake.id, body.trim());
      setBody('');
    } catch (err) {
      setError(act.errorText(err, 'note'));
    }
  };
  return html`
    <section class="notes">
      <h3>${t('notes.title')}</h3>
      <ol class="history" data-testid="intake-notes">
        ${notes.map((n) => html`
          <li data-kind=${n.kind}>
            <span class="muted">${fmtDateTime(n.at)} · ${n.agent_name || ''}</span>
            ${n.kind === 'note' ? html`<span class="note-body"> ${n.body}</span>`
              : html`<span> ${t(`notes.kind.${n.kind}`, { body: n.body || '' })}</span>`}
          </li>`)}
      </ol>
      ${intake.status !== 'closed' ? html`
        <form class="inline-form" onSubmit=${add}>
          <label class="sr-only" for="note-input">${t('notes.add')}</label>
          <input id="note-input" data-testid="note-input" maxlength="10000" value=${body}
            placeholder=${t('notes.placeholder')} onInput=${(e) => setBody(e.target.value)} />
          <button type="submit" class="secondary" data-testid="note-btn">${t('notes.add')}</button>
        </form>` : null}
      ${error ? html`<p class="inline-error">${error}</p>` : null}
    </section>`;
}

function Escalations({ intake }) {
  const list = intake.escalations || [];
  if (!list.length) return null;
  return html`
    <section>
      <h3>${t('history.escalations')}</h3>
      <ol class="history" data-testid="escalation-history">
        ${list.map((e) => html`
          <li>
            <span class="muted">${fmtDateTime(e.at)}</span> ${historyLine(e)}
            ${e.case_ref ? html` · <span data-testid="esc-case-ref">${t('history.case', { ref: e.case_ref })}</span>` : null}
            <div class="reason">${e.reason}</div>
          </li>`)}
      </ol>
    </section>`;
}

/** An intake opened from a work list: its caller and history beside it. */
export function IntakeWorkspace({ s, id }) {
  const known = s.intakes[id];
  const [error, setError] = useState(null);
  // The full view (notes, escalations) is read once; frames keep it current after that.
  useEffect(() => {
    setError(null);
    if (!known || !known.notes) act.loadIntake(id).catch(setError);
  }, [id]);
  if (!known) {
    return html`<section class="col col-main"><p class=${error ? 'inline-error' : 'muted'}>
      ${error ? act.errorText(error) : t('intake.loading')}</p></section>`;
  }
  return html`
    <div class="columns">
      <aside class="col col-caller">
        <${CustomerPane} customerId=${known.customer_id} caller=${known.caller} exclude=${[known.id]}
          rev=${known.status} />
      </aside>
      <${IntakeColumns} key=${known.id} s=${s} intake=${known} />
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
