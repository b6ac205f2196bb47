// firstline: the supervisor page, rendered with Preact + htm from state (web/ui.js): the live view
// (`#live`: the day's tiles, queues, waiting callers, agents, escalations, recent actions), the
// reports (`#reports`) and the wallboard (`?wallboard=1`: large, no controls). The state is the
// feed's snapshot and updates (web/supervisor/model.js; the socket is web/feed.js); actions are
// REST calls, each confirmed first. Every visible string comes from the catalogue
// (web/i18n/<lang>/{common,supervisor}.json); dates and times in the helpdesk's time zone.

import { html, render, api, useEffect, useState } from './ui.js';
import { t, chooseLanguage, loadLanguage, language, setTimeZone, fmtTime, LANGUAGES } from './i18n.js';
import { openFeed } from './feed.js';
import { forgetEpoch, handleFrame, model, restore, resumePoint, subscribe } from './supervisor/model.js';
import { bindUi } from './supervisor/actions.js';
import { Callers, Queues, Tiles } from './supervisor/live.js';
import { SlaPanel } from './supervisor/sla.js';
import { Agents, Escalations, RecentActions } from './supervisor/agents.js';
import { Wallboard } from './supervisor/wallboard.js';
import { Reports } from './supervisor/reports.js';
import { ConfirmDialog, HelpDialog } from './supervisor/dialogs.js';
import { onKey } from './supervisor/keys.js';

const WALLBOARD = new URLSearchParams(location.search).get('wallboard') === '1';
const PARTS = ['common', 'supervisor'];
const DEFAULT_ZONE = 'Europe/Amsterdam';
const ROLES = ['supervisor', 'admin'];

/** Re-renders the component after every change of the live model. */
function useModel() {
  const [, setVersion] = useState(0);
  useEffect(() => subscribe(() => setVersion((v) => v + 1)), []);
}

/** The time now, moving on every second (waits and times in state tick between frames). */
function useClock() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function LiveView({ auditVersion }) {
  useModel();
  const now = useClock();
  return html`
    <main class="live" data-testid="live">
      <${Tiles} />
      <${Queues} now=${now} />
      <div class="live-left">
        <${Agents} now=${now} controls=${true} />
      </div>
      <div class="live-right">
        <${Callers} now=${now} controls=${true} />
        <div class="pair">
          <${Escalations} />
          <${RecentActions} version=${auditVersion} />
        </div>
        <${SlaPanel} />
      </div>
    </main>`;
}

function WallView() {
  useModel();
  const now = useClock();
  return html`<${Wallboard} now=${now} />`;
}

function ReportsView({ timeZone }) {
  useModel();
  return html`<${Reports} timeZone=${timeZone} />`;
}

const viewOfHash = () => (location.hash === '#reports' ? 'reports' : 'live');

function Clock() {
  useClock();
  return html`<time class="clock" data-testid="clock">${fmtTime(Date.now())}</time>`;
}

function TopBar({ me, view, conn, status, onLanguage, onHelp }) {
  const tab = (name, label) => html`
    <a href=${`#${name}`} class="tab" data-testid=${`tab-${name}`}
      aria-current=${view === name ? 'page' : undefined}>${label}</a>`;
  return html`
    <header class="topbar">
      <strong class="brand">${t('app.name')}</strong>
      <span class="role">${WALLBOARD ? t('app.wallboard') : t('app.supervisor')}</span>
      ${!WALLBOARD && html`<nav class="tabs" aria-label=${t('app.views')}>
        ${tab('live', t('app.live'))}${tab('reports', t('app.reports'))}</nav>`}
      <span class="spacer"></span>
      ${!WALLBOARD && html`<span data-testid="action-status" class="action-status" role="status" aria-live="polite">${status}</span>`}
      <span data-testid="sup-name" class="who">${me.agent.name || ''}</span>
      <span data-testid="conn-status" role="status" class=${`conn conn-${conn}`}>${t(`conn.${conn}`)}</span>
      ${WALLBOARD && html`<${Clock} />`}
      ${!WALLBOARD && html`
        <a class="topbar-link" href="/supervisor.html?wallboard=1" data-testid="wallboard-link">${t('app.wallboard')}</a>
        <a class="topbar-link" href="/admin.html" data-testid="admin-link">${t('app.admin')}</a>
        <label class="sr-only" for="lang-select">${t('lang.choose')}</label>
        <select id="lang-select" data-testid="lang-select" value=${language()} onChange=${(e) => onLanguage(e.currentTarget.value)}>
          ${Object.keys(LANGUAGES).map((l) => html`<option value=${l}>${t(`lang.${l}`)}</option>`)}
        </select>
        <button type="button" class="secondary" data-testid="help-btn" aria-label=${t('keys.title')}
          title=${t('keys.title')} onClick=${onHelp}>?</button>
        <button type="button" class="secondary" data-testid="logout" onClick=${logoutSelf}>${t('action.logout')}</button>`}
    </header>`;
}

async function logoutSelf() {
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    if (e.status !== 401) return;
  }
  forgetEpoch();
  location.assign('/');
}

function App({ me, timeZone }) {
  const [view, setView] = useState(viewOfHash());
  const [conn, setConn] = useState('connecting');
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');
  const [confirm, setConfirm] = useState(null);
  const [help, setHelp] = useState(false);
  const [auditVersion, setAuditVersion] = useState(0);
  const [, setLang] = useState(language());
  useEffect(() => {
    bindUi({ confirm: setConfirm, status: setStatus, error: setError, audited: () => setAuditVersion((v) => v + 1) });
    restore();
    openFeed({
      path: '/api/supervisor/ws',
      onStatus: setConn,
      hello: resumePoint,
      onFrame: (f) => handleFrame(f, setError),
    });
    const hash = () => setView(viewOfHash());
    window.addEventListener('hashchange', hash);
    const keys = (ev) => onKey(ev, {
      wallboard: WALLBOARD,
      help: () => setHelp(true),
      view: (name) => { location.hash = name; },
    });
    document.addEventListener('keydown', keys);
    return () => {
      window.removeEventListener('hashchange', hash);
      document.removeEventListener('keydown', keys);
    };
  }, []);
  const chooseLang = async (lang) => {
    await loadLanguage(lang, PARTS);
    setLang(lang);
    // Remembered per agent where the server keeps it (PUT /api/agents/me/language).
    api('PUT', '/api/agents/me/language', { language: lang }).catch(() => {});
  };
  document.title = t(WALLBOARD ? 'app.wallboard' : 'app.title');
  let body;
  if (WALLBOARD) body = html`<${WallView} />`;
  else if (view === 'reports') body = html`<${ReportsView} timeZone=${timeZone} />`;
  else body = html`<${LiveView} auditVersion=${auditVersion} />`;
  return html`
    <${TopBar} me=${me} view=${view} conn=${conn} status=${status} onLanguage=${chooseLang} onHelp=${() => setHelp(true)} />
    ${body}
    <p data-testid="error-msg" class="toast" role="alert" aria-live="assertive" hidden=${!error}>${error}</p>
    <${ConfirmDialog} request=${confirm} onClose=${() => setConfirm(null)} />
    <${HelpDialog} open=${help} onClose=${() => setHelp(false)} />`;
}

/** A page for another role: says so, opens no feed. */
function NotAllowed({ me }) {
  return html`
    <header class="topbar"><strong class="brand">${t('app.name')}</strong>
      <span data-testid="sup-name" class="who">${me.agent.name || ''}</span>
      <span data-testid="conn-status" class="conn">${t('app.not_allowed')}</span></header>
    <p data-testid="error-msg" class="toast" role="alert">${t('app.only_supervisors')}</p>`;
}

async function start() {
  if (WALLBOARD) {
    document.documentElement.classList.add('wallboard');
    document.body.classList.add('wallboard');
  }
  const root = document.getElementById('app');
  let me;
  let lists = null;
  try {
    await loadLanguage(chooseLanguage(null), PARTS);
    me = (await api('GET', '/api/me')).json;
    lists = (await api('GET', '/api/desk/lists').catch(() => null))?.json ?? null;
  } catch (e) {
    if (e.status === 401) {
      location.assign('/');
      return;
    }
    root.textContent = '…';
    setTimeout(start, 2000);
    return;
  }
  const agent = (me && me.agent) || {};
  if (agent.language && LANGUAGES[agent.language] && agent.language !== language()) {
    await loadLanguage(agent.language, PARTS).catch(() => {});
  }
  const timeZone = (lists && lists.time_zone) || DEFAULT_ZONE;
  setTimeZone(timeZone);
  if (!ROLES.includes(agent.role)) {
    render(html`<${NotAllowed} me=${{ agent }} />`, root);
    return;
  }
  model.me = { id: agent.id, name: agent.name };
  render(html`<${App} me=${{ ...me, agent }} timeZone=${timeZone} />`, root);
}

start();
