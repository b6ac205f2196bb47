// firstline supervisor: the agents (by name: state and its reason, time in state, the call they
// are on or wrapping up, phone registration, call quality, actions), the day's escalations, and
// the supervisors' recent actions as sentences (GET /api/supervisor/audit).

import { html, api, useEffect, useState } from '../ui.js';
import { t, fmtDuration, fmtTime } from '../i18n.js';
import { model, num, serverNow, sortedAgents, STATES } from './model.js';
import {
  agentCallWords, agentName, auditSentence, deviceWord, qualityWords, reasonWords, registrationWords, stateWord,
} from './words.js';
import { canLogout, canNotReady, logout, notReady } from './actions.js';

/** The number of agents per state, every state listed (as a legend of the state colours). */
export function StateCounts() {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const a of sortedAgents()) counts[a.state] = (counts[a.state] || 0) + 1;
  return html`
    <p class="agent-counts" data-testid="agent-counts">
      ${STATES.map((s) => html`
        <span class="count"><span class=${`state state-${s}`} data-testid="state-badge">${stateWord(s)}</span>
          <strong data-testid=${`agents-count-${s}`}>${counts[s]}</strong></span>`)}
    </p>`;
}

function AgentRow({ a, now, controls }) {
  const id = String(a.id);
  const state = String(a.state || 'offline');
  const since = num(a.since);
  const reason = reasonWords(a);
  const phone = registrationWords(a);
  const call = agentCallWords(a);
  const held = a.call_id && a.held ? String(a.held) : null;
  const quality = a.call_id ? qualityWords(a.quality) : null;
  return html`
    <tr data-testid="agent-row" data-agent-id=${id} data-state=${state} data-held=${held}
      tabindex=${controls ? '0' : undefined} data-row="agent">
      <td class="agent-name">
        <span class="name">${agentName(a)}</span>
        <span data-testid="agent-device" data-device=${a.device === 'browser' ? 'browser' : 'phone'}
          class=${`device device-${a.device === 'browser' ? 'browser' : 'phone'}`}>${deviceWord(a.device)}</span>
        ${phone && html`<span data-testid="agent-phone" class=${`phone-note${phone.warn ? ' warn' : ''}`}>${phone.text}</span>`}
      </td>
      <td>
        <span data-testid=${`agent-${id}-state`} class=${`state state-${state}`}>${stateWord(state)}</span>
        ${reason && html` <span data-testid=${`agent-${id}-reason`} class="reason">${reason}</span>`}
      </td>
      <td data-testid=${`agent-${id}-since`} class="num">${since === null ? t('none') : fmtDuration(serverNow() - since)}</td>
      <td data-testid=${`agent-${id}-call`} data-call-id=${a.call_id || ''}>
        ${call === null ? t('none') : call}
        ${state === 'wrap_up' && call && html` <span class="muted">${t('agents.wrapping_up')}</span>`}
        ${held && html` <span data-testid="agent-held" class=${`held held-${held}`}>
          ${held === 'browser_gone' ? t('agents.browser_reconnecting') : t('agents.held')}</span>`}
      </td>
      <td data-testid="agent-quality" class=${`quality${quality && quality.warn ? ' warn' : ''}`}
        title=${quality ? quality.detail : undefined} data-warn=${quality && quality.warn ? 'true' : 'false'}>
        ${quality ? quality.text : t('none')}
      </td>
      ${controls && html`
        <td class="actions"><div>
          <button type="button" data-testid=${`notready-${id}`} disabled=${!canNotReady(a)}
            onClick=${() => notReady(a)}>${t('agents.set_not_ready')}</button>
          <button type="button" data-testid=${`logout-${id}`} disabled=${!canLogout(a)} class="secondary"
            onClick=${() => logout(a)}>${t('agents.log_out')}</button>
        </div></td>`}
    </tr>`;
}

export function Agents({ now, controls }) {
  const agents = sortedAgents();
  return html`
    <section class="panel agents-panel" aria-labelledby="agents-heading">
      <div class="panel-head">
        <h2 id="agents-heading">${t('agents.heading')}</h2>
        <${StateCounts} />
      </div>
      <div class="scroll">
        <table class="grid" data-testid="agents-table">
          <thead><tr>
            <th scope="col">${t('agents.agent')}</th><th scope="col">${t('agents.state')}</th>
            <th scope="col">${t('agents.since')}</th><th scope="col">${t('agents.call')}</th>
            <th scope="col">${t('agents.quality')}</th>
            ${controls && html`<th scope="col"><span class="sr-only">${t('agents.actions')}</span></th>`}
          </tr></thead>
          <tbody data-testid="agents">
            ${agents.map((a) => html`<${AgentRow} key=${a.id} a=${a} now=${now} controls=${controls} />`)}
            ${agents.length === 0 && html`<tr><td colspan="6" class="muted">${t('agents.none')}</td></tr>`}
          </tbody>
        </table>
      </div>
    </section>`;
}

/** The day's escalations by level and group or vendor. */
export function Escalations() {
  const list = Array.isArray(model.escalations_today) ? model.escalations_today : [];
  return html`
    <section class="panel" aria-labelledby="esc-heading">
      <h2 id="esc-heading">${t('esc.heading')}</h2>
      <ul class="plain-list scroll" data-testid="escalations">
        ${list.map((e) => html`
          <li data-testid=${`escalation-${e.level}-${e.target}`}>
            <span class="tile-label">${t(`level.${e.level}`)}</span> · ${e.target || t('none')} ·
            <strong>${num(e.count) ?? 0}</strong></li>`)}
        ${list.length === 0 && html`<li class="muted">${t('esc.none')}</li>`}
      </ul>
    </section>`;
}

/**
 * The latest audit rows as sentences, newest first; reloaded when `version` changes (after an
 * action of this page) and every 15 s (other supervisors' actions).
 */
export function RecentActions({ version }) {
  const [rows, setRows] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () => api('GET', '/api/supervisor/audit?limit=20')
      .then((r) => {
        const body = r.json;
        const list = Array.isArray(body) ? body : (body && Array.isArray(body.audit) ? body.audit : []);
        if (live) setRows(list);
      })
      .catch(() => { /* a convenience: the live view does not depend on it */ });
    load();
    const timer = setInterval(load, 15000);
    return () => { live = false; clearInterval(timer); };
  }, [version]);
  return html`
    <section class="panel" aria-labelledby="audit-heading">
      <h2 id="audit-heading">${t('audit.heading')}</h2>
      <ol class="plain-list scroll" data-testid="audit">
        ${(rows || []).map((a) => html`
          <li data-testid="audit-row" data-action=${a.action}>
            <time class="muted">${a.at ? fmtTime(a.at) : ''}</time> ${auditSentence(a)}</li>`)}
        ${rows !== null && rows.length === 0 && html`<li class="muted">${t('audit.none')}</li>`}
      </ol>
    </section>`;
}
