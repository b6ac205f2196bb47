// firstline desk: the page, rendered from the state (store.js) on every change. A one-line top
// bar (who, state, device health, language, connection), the work lists' tabs, the messages
// that still have a cause, and the workspace: the call in the pop, one intake, or a work list.

import { html, useState } from '../ui.js';
import { LANGUAGES, fmtDateTime, language, t } from '../i18n.js';
import { callIntake, liveBanners } from './model.js';
import { getState } from './store.js';
import * as act from './actions.js';
import { missedText, stateAdvice, stateName, stateReason } from './words.js';
import { CallView } from './pop.js';
import { IntakeWorkspace } from './workspace.js';
import { SearchView, RecentView, CustomerView } from './lists.js';
import { InboxView } from './inbox.js';
import { HelpOverlay, useShortcuts } from './keys.js';
import { PhonePanel } from './phone.js';

/** Whether this agent takes first-level calls (second-level agents do not, unless configured). */
export function takesCalls(s) {
  const a = s.me && s.me.agent;
  if (!a) return false;
  if (a.role !== 'agent') return false;
  return Number(a.level || 1) === 1 || !!s.lists.second_level_takes_calls;
}

/** Whether this agent works a second-level inbox. */
export const worksInbox = (s) => !!(s.me && s.me.agent && Array.isArray(s.me.agent.groups) && s.me.agent.groups.length);

export function App() {
  const s = getState();
  const [help, setHelp] = useState(false);
  useShortcuts(s, () => setHelp((h) => !h));
  return html`
    <${TopBar} s=${s} onHelp=${() => setHelp(true)} />
    <${Nav} s=${s} />
    <${Messages} s=${s} />
    <main class="workspace" data-testid="workspace" data-view=${s.view.kind}>
      <${Workspace} s=${s} />
    </main>
    ${help ? html`<${HelpOverlay} onClose=${() => setHelp(false)} />` : null}`;
}

function TopBar({ s, onHelp }) {
  const a = s.agent || {};
  const me = (s.me && s.me.agent) || {};
  const reason = stateReason(a);
  return html`
    <header class="topbar">
      <strong class="brand">${t('app.name')}</strong>
      <span class="agent-name" data-testid="agent-name">${me.name || a.name || ''}</span>
      <span class="state-chip" data-testid="agent-state-chip">
        <strong class=${`state state-${a.state || 'offline'}`} data-testid="agent-state" data-state=${a.state || 'offline'}>${stateName(a.state)}</strong>
        ${reason ? html`<span class="state-reason" data-testid="agent-reason">${reason}</span>` : null}
      </span>
      ${takesCalls(s) ? html`<${StateControls} s=${s} />` : html`
        <span class="muted" data-testid="no-calls-note">${t('state.second_level_note')}</span>`}
      ${takesCalls(s) ? html`<${DeviceControls} s=${s} />` : null}
      <span class="spacer"></span>
      <label class="lang-label">
        <span class="sr-only">${t('lang.choose')}</span>
        <select data-testid="lang-select" value=${language()} onChange=${(e) => act.switchLanguage(e.target.value)}>
          ${Object.keys(LANGUAGES).map((l) => html`<option value=${l}>${t(`lang.${l}`)}</option>`)}
        </select>
      </label>
      <span class=${`conn conn-${s.conn}`} data-testid="conn-status" data-state=${s.conn} role="status">${t(`conn.${s.conn}`)}</span>
      <button type="button" class="ghost" data-testid="help-btn" title=${t('help.title')} onClick=${onHelp}>?</button>
      <button type="button" class="ghost" data-testid="logout" onClick=${() => act.logout()}>${t('action.logout')}</button>
    </header>`;
}

function StateControls({ s }) {
  const a = s.agent || {};
  const [reason, setReason] = useState('');
  const [confirm, setConfirm] = useState(false);
  const busy = a.state === 'on_call' || a.state === 'ringing';
  const reachable = !s.device || s.device.reachable !== false;
  const available = () => {
    if (!reachable && !confirm) {
      setConfirm(true);
      return;
    }
    setConfirm(false);
    act.setAvailable();
  };
  return html`
    <span class="state-controls">
      <button type="button" data-testid="btn-available" disabled=${a.state === 'available' || busy} onClick=${available}>
        ${t('state.go_available')}</button>
      <input data-testid="notready-reason" class="reason-input" maxlength="100" value=${reason}
        placeholder=${t('state.reason_placeholder')} aria-label=${t('state.reason_label')}
        onInput=${(e) => setReason(e.target.value)} />
      <button type="button" class="secondary" data-testid="btn-not-ready" disabled=${busy}
        onClick=${() => act.setNotReady(reason.trim())}>${t('state.go_not_ready')}</button>
      ${confirm ? html`
        <span class="popover" role="alertdialog" data-testid="available-warning">
          ${t('device.available_warning')}
          <button type="button" data-testid="available-anyway" onClick=${available}>${t('device.available_anyway')}</button>
          <button type="button" class="secondary" onClick=${() => setConfirm(false)}>${t('action.cancel')}</button>
        </span>` : null}
    </span>`;
}

function DeviceControls({ s }) {
  const device = act.phone.state.device;
  const d = s.device;
  let health = null;
  if (device === 'phone' && d) {
    const full = d.registered
      ? t('device.registered', { transport: (d.transport || '').toUpperCase() })
      : t('device.not_registered');
    // Registered: a short chip (the full sentence as its tooltip); not registered: said in full.
    const shown = d.registered ? t('device.registered_short', { transport: (d.transport || '').toUpperCase() }) : full;
    health = html`<span class=${`health ${d.registered ? 'ok' : 'bad'}`} data-testid="device-health"
      data-registered=${String(!!d.registered)} title=${d.registered ? full : t('device.not_registered_advice')}>
      <span class="sr-only">${full}</span><span aria-hidden="true">${shown}</span></span>`;
  }
  return html`
    <label class="device-label" title=${t('device.answer_on')}><span class="sr-only">${t('device.answer_on')}</span>
      <select data-testid="device-select" value=${device} onChange=${(e) => act.setDevice(e.target.value)}>
        <option value="phone">${t('device.phone')}</option>
        <option value="browser">${t('device.browser')}</option>
      </select>
    </label>
    ${health}`;
}

function Nav({ s }) {
  const tab = (kind, label, extra = null) => html`
    <button type="button" role="tab" class=${`tab ${s.view.kind === kind ? 'active' : ''}`}
      aria-selected=${String(s.view.kind === kind)} data-testid=${`tab-${kind}`}
      onClick=${() => act.show({ kind })}>${label}${extra}</button>`;
  const callLabel = s.call ? t('nav.call_active') : t('nav.call');
  return html`
    <nav class="tabs" role="tablist" aria-label=${t('nav.label')}>
      ${tab('call', callLabel, s.call && !s.call.ended ? html` <span class="dot" aria-hidden="true">●</span>` : null)}
      ${tab('search', t('nav.search'))}
      ${tab('recent', t('nav.recent'))}
      ${worksInbox(s) ? tab('inbox', t('nav.inbox')) : null}
      <span class="spacer"></span>
      <button type="button" class="secondary small" data-testid="new-intake-email" onClick=${() => act.openManual('email')}>
        ${t('nav.new_email')}</button>
      <button type="button" class="secondary small" data-testid="new-intake-desk" onClick=${() => act.openManual('desk')}>
        ${t('nav.new_desk')}</button>
    </nav>`;
}

/** The messages that still have a cause: refusals, missed calls, why the agent is not ready. */
function Messages({ s }) {
  const banners = liveBanners(s);
  const advice = stateAdvice(s.agent);
  if (!banners.length && !s.missed.length && !s.followUps.length && !s.logoutCheck && !advice
    && s.conn === 'live') return null;
  return html`
    <div class="messages" data-testid="messages" aria-live="polite">
      ${s.conn === 'offline' ? html`<p class="msg bad" data-testid="msg-offline">${t('conn.offline_long')}</p>` : null}
      ${advice ? html`<p class="msg warn" data-testid="state-advice">${advice}</p>` : null}
      ${s.missed.map((m) => html`
        <p class="msg warn" data-testid=${`missed-${m.call_id}`} data-kind="missed">
          ${missedText(m)}
          <button type="button" class="ghost small" onClick=${() => act.dismissMissed(m.call_id)}>${t('action.close')}</button>
        </p>`)}
      ${s.logoutCheck ? html`
        <div class="msg warn" role="alert" data-testid="logout-owned" data-total=${String(s.logoutCheck.total)}>
          <p>${t('logout.owned', { n: s.logoutCheck.total })}</p>
          <ul class="plain-list">
            ${s.logoutCheck.intakes.map((i) => html`<li><button type="button" class="link"
              onClick=${() => { act.stayLoggedIn(); act.openIntake(i.id); }}>${i.ticket_no || i.id}</button>
              ${i.title ? ` · ${i.title}` : ''}</li>`)}
          </ul>
          <button type="button" data-testid="logout-anyway" onClick=${() => act.logout({ force: true })}>${t('logout.anyway')}</button>
          <button type="button" class="secondary" data-testid="logout-stay" onClick=${act.stayLoggedIn}>${t('logout.stay')}</button>
        </div>` : null}
      ${s.followUps.map((f) => html`
        <p class="msg warn" data-testid=${`follow-up-${f.case_id}`} data-kind="follow-up">
          ${t('vendor.follow_up_due', { vendor: f.vendor, ticket: f.ticket_no || '', ref: f.case_ref || '', at: fmtDateTime(f.follow_up_at) })}
          <button type="button" class="ghost small" data-testid="follow-up-open" onClick=${() => act.openIntake(f.intake_id)}>${t('vendor.open')}</button>
          <button type="button" class="ghost small" onClick=${() => act.dismissFollowUp(f.case_id)}>${t('action.close')}</button>
        </p>`)}
      ${banners.map((b) => html`
        <p class="msg bad" role="alert" data-testid=${`banner-${b.id}`} data-kind="error">
          ${b.text}
          <button type="button" class="ghost small" onClick=${() => act.dismissBanner(b.id)}>${t('action.close')}</button>
        </p>`)}
    </div>`;
}

function Workspace({ s }) {
  switch (s.view.kind) {
    case 'search':
      return html`<${SearchView} />`;
    case 'recent':
      return html`<${RecentView} />`;
    case 'inbox':
      return html`<${InboxView} s=${s} />`;
    case 'customer':
      return html`<${CustomerView} s=${s} id=${s.view.id} />`;
    case 'intake':
      return html`<${IntakeWorkspace} s=${s} id=${s.view.id} />`;
    default:
      return s.call ? html`<${CallView} s=${s} intake=${callIntake(s)} />` : html`<${Idle} s=${s} />`;
  }
}

function Idle({ s }) {
  return html`
    <section class="idle" data-testid="idle">
      <${PhonePanel} />
      <p>${takesCalls(s) ? t('idle.waiting') : t('idle.second_level')}</p>
    </section>`;
}
