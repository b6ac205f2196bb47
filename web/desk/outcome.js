// firstline desk: the outcome of one intake (the right column). The first level resolves or
// escalates to a group (level 2) or a vendor (level 3); a second-level specialist claims, resolves,
// hands to a vendor or returns to the first level; a finished intake says what happened ("Escalated
// to Applications ✓") and a resolved one can be reopened. Wrap-up ends the call's after-call work.
// Every form field here belongs to this intake's component (keyed by id by the parent).

import { html, useState } from '../ui.js';
import { t } from '../i18n.js';
import * as act from './actions.js';
import { isFinal } from './model.js';
import { outcomeText } from './words.js';

export function OutcomePanel({ s, intake, mode, callId }) {
  const agent = s.agent || {};
  const isCall = !!callId;
  // A call handed to a colleague or a queue is theirs to finish: wrap-up needs no outcome here.
  const handedOver = isCall && !!(s.call && s.call.handed_over);
  const canWrapUp = isCall && agent.state === 'wrap_up' && (isFinal(intake) || handedOver);
  return html`
    <aside class="col col-outcome" data-testid="outcome">
      <h3>${t('outcome.title')}</h3>
      ${mode === 'first' ? html`<${FirstLevel} s=${s} intake=${intake} />` : null}
      ${mode === 'second' ? html`<${SecondLevel} s=${s} intake=${intake} />` : null}
      ${mode === 'readonly' ? html`<${Finished} intake=${intake} />` : null}
      ${isCall ? html`
        <div class="wrapup">
          <button type="button" data-testid="wrapup-btn" disabled=${!canWrapUp} onClick=${act.wrapupDone}
            title=${t('keys.wrapup')}>${t('outcome.wrapup_done')}</button>
          ${!isFinal(intake) && !handedOver ? html`<p class="hint" data-testid="outcome-hint">${t('outcome.needed')}</p>` : null}
        </div>` : null}
    </aside>`;
}

/** Runs `p` (a request): `error` is shown under the form until the next try. */
function useAction(action) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async (p) => {
    setError('');
    setBusy(true);
    try {
      await p();
    } catch (e) {
      setError(act.errorText(e, action));
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, run };
}

function Tabs({ tabs, active, onChange }) {
  return html`
    <div class="segmented" role="tablist">
      ${tabs.map(([id, label]) => html`
        <button type="button" role="tab" aria-selected=${String(active === id)} data-testid=${`outcome-tab-${id}`}
          class=${active === id ? 'active' : ''} onClick=${() => onChange(id)}>${label}</button>`)}
    </div>`;
}

function FirstLevel({ s, intake }) {
  const [tab, setTab] = useState('resolve');
  return html`
    <${Tabs} active=${tab} onChange=${setTab} tabs=${[['resolve', t('outcome.resolve')], ['escalate', t('outcome.escalate')]]} />
    ${tab === 'resolve' ? html`<${ResolveForm} intake=${intake} />`
      : html`<${EscalateForm} s=${s} intake=${intake} levels=${[2, 3]} />`}`;
}

function SecondLevel({ s, intake }) {
  const [tab, setTab] = useState('resolve');
  const tabs = [['resolve', t('outcome.resolve')]];
  if (Number(intake.level) === 2) tabs.push(['escalate', t('outcome.vendor')], ['reassign', t('outcome.reassign')]);
  tabs.push(['return', t('outcome.return')]);
  return html`
    <${Owner} s=${s} intake=${intake} />
    <${Tabs} active=${tab} onChange=${setTab} tabs=${tabs} />
    ${tab === 'resolve' ? html`<${ResolveForm} intake=${intake} />` : null}
    ${tab === 'escalate' ? html`<${EscalateForm} s=${s} intake=${intake} levels=${[3]} />` : null}
    ${tab === 'return' ? html`<${ReturnForm} intake=${intake} />` : null}
    ${tab === 'reassign' ? html`<${ReassignForm} s=${s} intake=${intake} />` : null}`;
}

/** Moves it to another second-level group, with the reason. */
function ReassignForm({ s, intake }) {
  const groups = (s.lists.second_level || []).filter((g) => g !== intake.group);
  const [group, setGroup] = useState(groups[0] || '');
  const [reason, setReason] = useState('');
  const { error, setError, busy, run } = useAction('reassign');
  const submit = (e) => {
    e.preventDefault();
    if (!reason.trim()) {
      setError(t('outcome.reason_required'));
      return;
    }
    run(() => act.reassign(intake.id, group, reason.trim()));
  };
  return html`
    <form class="outcome-form" onSubmit=${submit} data-testid="reassign-form">
      <label for="reassign-group">${t('outcome.reassign_to')}</label>
      <select id="reassign-group" data-testid="reassign-group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
        ${groups.map((g) => html`<option value=${g}>${g}</option>`)}
      </select>
      <label for="reassign-reason">${t('outcome.reason')}</label>
      <textarea id="reassign-reason" data-testid="reassign-reason" rows="3" maxlength="2000" value=${reason}
        onInput=${(e) => setReason(e.target.value)}></textarea>
      <button type="submit" data-testid="reassign-btn" disabled=${busy || !group}>${t('outcome.reassign_btn')}</button>
      ${error ? html`<p class="inline-error" role="alert" data-testid="outcome-error">${error}</p>` : null}
    </form>`;
}

/** Who works on it at the second level; claim, release, take over. */
function Owner({ s, intake }) {
  const me = (s.me && s.me.agent) || {};
  const { error, busy, run } = useAction('claim');
  const mine = intake.owner_id && intake.owner_id === me.id;
  return html`
    <div class="owner" data-testid="intake-owner" data-owner=${intake.owner_id || ''}>
      ${!intake.owner_id ? html`
        <span class="muted">${t('owner.none')}</span>
        <button type="button" data-testid="claim-btn" disabled=${busy} onClick=${() => run(() => act.claim(intake.id))}>
          ${t('owner.claim')}</button>` : null}
      ${mine ? html`
        <span>${t('owner.mine')}</span>
        <button type="button" class="secondary" data-testid="release-btn" disabled=${busy}
          onClick=${() => run(() => act.release(intake.id))}>${t('owner.release')}</button>` : null}
      ${intake.owner_id && !mine ? html`
        <span>${t('owner.other', { name: intake.owner_name || '' })}</span>
        <button type="button" class="secondary" data-testid="claim-force-btn" disabled=${busy}
          onClick=${() => run(() => act.claim(intake.id, true))}>${t('owner.take_over')}</button>` : null}
      ${!intake.owner_id || mine ? html`<${WorkState} intake=${intake} />` : null}
      ${error ? html`<p class="inline-error" data-testid="owner-error">${error}</p>` : null}
    </div>`;
}

const WORK_STATES = ['in_progress', 'waiting_customer', 'waiting_vendor'];

/** What the owner is doing with it; choosing a state on an unclaimed intake takes it on. */
function WorkState({ intake }) {
  const { error, busy, run } = useAction('work_state');
  return html`
    <label class="work-state">${t('work.label')}
      <select data-testid="work-state" disabled=${busy} value=${intake.work_state || ''}
        onChange=${(e) => e.target.value && run(() => act.setWorkState(intake.id, e.target.value))}>
        ${!intake.work_state ? html`<option value="">${t('work.none')}</option>` : null}
        ${WORK_STATES.map((w) => html`<option value=${w}>${t(`work.${w}`)}</option>`)}
      </select>
    </label>
    ${error ? html`<p class="inline-error" data-testid="work-state-error">${error}</p>` : null}`;
}

function ResolveForm({ intake }) {
  const [solution, setSolution] = useState('');
  const { error, setError, busy, run } = useAction('resolve');
  const submit = (e) => {
    e.preventDefault();
    if (!solution.trim()) {
      setError(t('outcome.solution_required'));
      return;
    }
    run(() => act.resolve(intake.id, solution.trim()));
  };
  return html`
    <form class="outcome-form" onSubmit=${submit} data-testid="resolve-form">
      <label for="resolve-solution">${t('outcome.solution')}</label>
      <textarea id="resolve-solution" data-testid="resolve-solution" rows="4" maxlength="10000" value=${solution}
        onInput=${(e) => setSolution(e.target.value)}></textarea>
      <button type="submit" data-testid="resolve-btn" disabled=${busy} title=${t('keys.resolve')}>${t('outcome.resolve_btn')}</button>
      ${error ? html`<p class="inline-error" role="alert" data-testid="outcome-error">${error}</p>` : null}
    </form>`;
}

function EscalateForm({ s, intake, levels }) {
  const [level, setLevel] = useState(levels[0]);
  const [target, setTarget] = useState('');
  const [caseRef, setCaseRef] = useState('');
  const [reason, setReason] = useState('');
  const { error, setError, busy, run } = useAction('escalate');
  const list = (level === 3 ? s.lists.third_level : s.lists.second_level) || [];
  const chosen = list.includes(target) ? target : '';
  const submit = (e) => {
    e.preventDefault();
    if (!chosen) {
      setError(t('outcome.target_required'));
      return;
    }
    if (!reason.trim()) {
      setError(t('outcome.reason_required'));
      return;
    }
    run(() => act.escalate(intake.id, level, chosen, reason.trim(), caseRef.trim()));
  };
  return html`
    <form class="outcome-form" onSubmit=${submit} data-testid="escalate-form">
      ${levels.length > 1 ? html`
        <label>${t('outcome.level')}
          <select data-testid="escalate-level" value=${String(level)} onChange=${(e) => { setLevel(Number(e.target.value)); setTarget(''); }}>
            ${levels.map((l) => html`<option value=${String(l)}>${t(`outcome.level_${l}`)}</option>`)}
          </select>
        </label>` : null}
      <label>${level === 3 ? t('outcome.vendor_target') : t('outcome.group_target')}
        <select data-testid="escalate-target" value=${chosen} onChange=${(e) => setTarget(e.target.value)}>
          <option value="">${t('outcome.choose')}</option>
          ${list.map((x) => html`<option value=${x}>${x}</option>`)}
        </select>
      </label>
      ${level === 3 ? html`
        <label>${t('outcome.case_ref')}
          <input data-testid="escalate-case-ref" maxlength="200" value=${caseRef} onInput=${(e) => setCaseRef(e.target.value)} />
        </label>` : null}
      <label for="escalate-reason">${t('outcome.reason')}</label>
      <textarea id="escalate-reason" data-testid="escalate-reason" rows="3" maxlength="2000" value=${reason}
        onInput=${(e) => setReason(e.target.value)}></textarea>
      <button type="submit" data-testid="escalate-btn" disabled=${busy} title=${t('keys.escalate')}>${t('outcome.escalate_btn')}</button>
      ${error ? html`<p class="inline-error" role="alert" data-testid="outcome-error">${error}</p>` : null}
    </form>`;
}

function ReturnForm({ intake }) {
  const [reason, setReason] = useState('');
  const { error, setError, busy, run } = useAction('return');
  const submit = (e) => {
    e.preventDefault();
    if (!reason.trim()) {
      setError(t('outcome.reason_required'));
      return;
    }
    run(() => act.returnToFirst(intake.id, reason.trim()));
  };
  return html`
    <form class="outcome-form" onSubmit=${submit} data-testid="return-form">
      <label for="return-reason">${t('outcome.return_reason')}</label>
      <textarea id="return-reason" data-testid="return-reason" rows="3" maxlength="2000" value=${reason}
        onInput=${(e) => setReason(e.target.value)}></textarea>
      <button type="submit" data-testid="return-btn" disabled=${busy}>${t('outcome.return_btn')}</button>
      ${error ? html`<p class="inline-error" role="alert" data-testid="outcome-error">${error}</p>` : null}
    </form>`;
}

/** A finished intake: what happened, in words; a resolved one can be reopened. */
function Finished({ intake }) {
  const [reason, setReason] = useState('');
  const { error, setError, busy, run } = useAction('reopen');
  const text = outcomeText(intake) || t(`status.${intake.status}`);
  const reopen = (e) => {
    e.preventDefault();
    if (!reason.trim()) {
      setError(t('outcome.reason_required'));
      return;
    }
    run(() => act.reopen(intake.id, reason.trim()));
  };
  return html`
    <p class="confirmation" role="status" data-testid="outcome-confirmation" data-status=${intake.status}>${text}</p>
    ${intake.solution ? html`<p class="solution" data-testid="outcome-solution">${intake.solution}</p>` : null}
    ${intake.status === 'resolved' ? html`
      <details class="reopen">
        <summary data-testid="reopen-open">${t('outcome.reopen')}</summary>
        <form class="outcome-form" onSubmit=${reopen}>
          <label for="reopen-reason">${t('outcome.reopen_reason')}</label>
          <textarea id="reopen-reason" data-testid="reopen-reason" rows="2" maxlength="2000" value=${reason}
            onInput=${(e) => setReason(e.target.value)}></textarea>
          <button type="submit" class="secondary" data-testid="reopen-btn" disabled=${busy}>${t('outcome.reopen_btn')}</button>
          ${error ? html`<p class="inline-error" role="alert">${error}</p>` : null}
        </form>
      </details>` : null}`;
}
