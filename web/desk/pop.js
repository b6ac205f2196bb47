// firstline desk: the screen pop (docs/protocol.md `pop`). The call's phase and timers, who calls
// (the customer card, or finding them for an unknown number), the language as a badge, the IVR's
// path in words, the caller's open intakes (continue one) and their history; beside it the
// intake of the call (workspace.js), keyed by its id so nothing of another intake shows.

import { html, useState } from '../ui.js';
import { fmtDuration, t } from '../i18n.js';
import * as act from './actions.js';
import { useApi, useNow } from './hooks.js';
import { CustomerCard, History, IntakeRow, UnknownCaller } from './customer.js';
import { IntakeColumns } from './workspace.js';
import { PhonePanel } from './phone.js';
import { TransferPanel } from './transfer.js';
import { dtmfModes, ivrSteps, languageName } from './words.js';

export function CallView({ s, intake }) {
  const c = s.call;
  return html`
    <div class="columns">
      <aside class="col col-caller" data-testid="pop" data-call=${c.call_id}>
        <${PhonePanel} s=${s} />
        <${Phase} call=${c} device=${act.phone.state.device} />
        <${TransferPanel} key=${c.call_id} call=${c} />
        <${Caller} call=${c} intake=${intake} />
        <${OpenIntakes} call=${c} intake=${intake} />
        <${ElsewhereTickets} intake=${intake} />
        <${History} customerId=${c.customer && c.customer.id} caller=${c.customer ? null : c.caller}
          exclude=${[intake && intake.id, ...(c.open_intakes || []).map((o) => o.id)]} rev=${intake ? `${intake.status}-${intake.customer_id}` : ''} />
      </aside>
      ${intake ? html`<${IntakeColumns} key=${intake.id} s=${s} intake=${intake} callId=${c.call_id} />`
        : html`<section class="col col-main"><p class="muted">${t('intake.loading')}</p></section>`}
    </div>`;
}

/** Waited and talk time from the server's clock (docs/protocol.md, `pop`). */
function timers(call, now) {
  const queuedAt = Number(call.queued_at) || null;
  const connectedAt = Number(call.connected_at) || null;
  const endedAt = Number(call.ended_at) || null;
  let waited;
  if (queuedAt) waited = (connectedAt || (call.ended ? endedAt || now : now)) - queuedAt;
  else waited = Number(call.waited_ms) || 0;
  const talk = connectedAt ? (endedAt || now) - connectedAt : null;
  return { waited, talk };
}

function Phase({ call, device }) {
  const now = useNow();
  const phase = call.ended ? 'ended' : call.phase;
  const { waited, talk } = timers(call, now);
  const text = phase === 'ringing'
    ? (device === 'browser' ? t('pop.ringing_browser') : t('pop.ringing_phone'))
    : phase === 'connected' ? t('pop.connected') : t('pop.ended');
  return html`
    <div class=${`pop-banner phase-${phase}`} data-testid="pop-phase" data-phase=${phase} aria-live="polite">
      <span>${text}</span>
      <span class="timers">
        <span>${t('pop.waited')} <strong data-testid="pop-waited">${fmtDuration(waited)}</strong></span>
        ${talk !== null ? html`<span>${t('pop.talk')} <strong data-testid="pop-talk">${fmtDuration(talk)}</strong></span>` : null}
      </span>
    </div>`;
}

function Caller({ call, intake }) {
  const lang = call.language;
  const steps = ivrSteps(call.ivr_path);
  return html`
    <div class="caller">
      <p class="caller-line">
        <strong class="big" data-testid="pop-caller">${call.caller || t('caller.unknown_number')}</strong>
        ${lang ? html`<span class="badge lang" data-testid="pop-language" data-lang=${lang}>${languageName(lang)}</span>` : null}
      </p>
      <p class="ivr-choice" data-testid="pop-choice">
        <span>${t(`category.${call.category || 'unclassified'}`)}</span>
        <span>${call.priority ? t(`priority.${call.priority}`) : t('priority.none')}</span>
      </p>
      ${call.customer ? html`<${CustomerCard} customer=${call.customer} />`
        : html`<${UnknownCaller} intakeId=${intake && intake.id} candidates=${call.candidates} />`}
      ${call.voice_message ? html`<${VoiceMessage} vm=${call.voice_message} />` : null}
      <details class="details" data-testid="pop-details">
        <summary>${t('pop.details')}</summary>
        <dl>
          <dt>${t('pop.ivr_path')}</dt>
          <dd data-testid="pop-ivr-path">${steps.length ? html`<ol class="steps">${steps.map((x) => html`<li>${x}</li>`)}</ol>`
            : t('pop.no_menu')}</dd>
          <dt>${t('pop.dtmf')}</dt>
          <dd data-testid="pop-dtmf" data-modes=${call.dtmf_mode || ''}>${dtmfModes(call.dtmf_mode)}</dd>
        </dl>
      </details>
    </div>`;
}

function VoiceMessage({ vm }) {
  const url = String(vm.url || '');
  // Only our own server's recordings play (a relative or same-origin URL).
  if (!url || new URL(url, location.href).origin !== location.origin) return null;
  return html`
    <p class="voice" data-testid="voice-message">
      <span class="label">${t('pop.voice_message', { duration: fmtDuration(vm.duration_ms || 0) })}</span>
      <audio controls preload="none" src=${url} data-testid="voice-message-audio"></audio>
    </p>`;
}

/** The caller's other unfinished intakes: "continue this ticket" attaches the call to one. */
function OpenIntakes({ call, intake }) {
  const [error, setError] = useState('');
  const others = (call.open_intakes || []).filter((o) => !intake || o.id !== intake.id);
  const canContinue = intake && ['draft', 'open'].includes(intake.status);
  const go = async (id) => {
    setError('');
    try {
      await act.continueIntake(intake.id, id);
    } catch (e) {
      setError(act.errorText(e, 'continue'));
    }
  };
  return html`
    <section class="open-box">
      <h3>${t('pop.open_intakes')}</h3>
      <ul class="intake-list" data-testid="open-intakes">
        ${others.length === 0 ? html`<li class="muted">${t('history.none')}</li>` : null}
        ${others.map((o) => html`
          <${IntakeRow} intake=${o} testid=${`open-intake-${o.id}`}>
            ${canContinue ? html`<button type="button" class="small" data-testid=${`continue-${o.id}`}
              onClick=${() => go(o.id)}>${t('pop.continue')}</button>` : null}
          <//>`)}
      </ul>
      ${error ? html`<p class="inline-error">${error}</p>` : null}
    </section>`;
}

/**
 * The caller's open tickets in the helpdesk's ticket systems (docs/integrations.md), read after
 * the pop (never holding it up); nothing shows when no ticket system is configured.
 */
function ElsewhereTickets({ intake }) {
  const known = intake && intake.customer_id;
  const { data } = useApi(known ? `/api/intakes/${intake.id}/tickets` : null, intake ? intake.customer_id : '');
  const systems = (data && data.open_elsewhere) || [];
  if (systems.length === 0) return null;
  return html`
    <section class="open-box" data-testid="elsewhere-tickets">
      ${systems.map((sys) => html`
        <h3>${t('pop.open_elsewhere', { target: sys.target })}</h3>
        ${sys.error ? html`<p class="muted small" data-testid="elsewhere-error">${t('pop.elsewhere_error', { error: sys.error })}</p>` : null}
        <ul class="intake-list" data-testid=${`elsewhere-${sys.target}`}>
          ${sys.tickets.length === 0 && !sys.error ? html`<li class="muted">${t('history.none')}</li>` : null}
          ${sys.tickets.map((tk) => html`
            <li data-testid=${`elsewhere-ticket-${tk.id}`}>
              <a href=${tk.url} target="_blank" rel="noopener noreferrer">#${tk.id}</a>
              <span>${tk.subject}</span> <span class="badge">${tk.status}</span>
            </li>`)}
        </ul>`)}
    </section>`;
}
