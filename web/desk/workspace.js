// firstline desk: one intake in the workspace. The editor (editor.js), its notes and escalation
// history, and beside it the outcome panel (outcome.js). Both are keyed by the intake's id by their parent, so what was typed for one
// intake lives in that intake's components only and is gone when another intake is shown.

import { html, useEffect, useState } from '../ui.js';
import { IntakeEditor } from './editor.js';
import { VendorCases } from './vendor.js';
import { CallOut } from './callout.js';
import { fmtDateTime, t } from '../i18n.js';
import * as act from './actions.js';
import { CustomerPane } from './customer.js';
import { OutcomePanel } from './outcome.js';
import { historyLine } from './words.js';


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
  const me = (s.me && s.me.agent) || {};
  return html`
    <${IntakeEditor} intake=${intake} mode=${mode} me=${me}>
      <${Notes} intake=${intake} />
      <${Escalations} intake=${intake} />
      <${VendorCases} intake=${intake} />
      <${CallOut} key=${intake.id} s=${s} intake=${intake} />
    <//>
    <${OutcomePanel} s=${s} intake=${intake} mode=${mode} callId=${callId} />`;
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
              : html`<span> ${t(`notes.kind.${n.kind}`, { body: noteBody(n) })}</span>`}
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

/** A history note's text: a work state by its name in the desk's language, then the reason. */
function noteBody(n) {
  const body = n.body || '';
  if (n.kind !== 'status') return body;
  const [state, ...reason] = body.split(': ');
  return [t(`work.${state}`), ...reason].join(': ');
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
