// firstline: the admin pages, rendered with Preact + htm from state (web/ui.js): the agents
// (`#agents`), the second-level groups (`#groups`), the third-level vendors (`#vendors`), the
// customer import from CSV (`#import`), the company directory's sync (`#directory`) and the
// ticket-system and webhook targets with their dead letters (`#integrations`). The
// lists come from /api/admin/…; each change is one REST call (the server validates, audits and
// applies it at once) after which the list is read again, so the page shows what is stored.
// Admins change; supervisors see the same lists read-only. Every visible string comes from the
// catalogue (web/i18n/<lang>/{common,admin}.json).

import { html, render, api, useEffect, useState } from './ui.js';
import { t, chooseLanguage, loadLanguage, language, setTimeZone, LANGUAGES } from './i18n.js';
import { AgentsView } from './admin/agents.js';
import { TargetsView } from './admin/targets.js';
import { ImportView } from './admin/import.js';
import { DirectoryView } from './admin/directory.js';
import { IntegrationsView } from './admin/integrations.js';

const PARTS = ['common', 'admin'];
const VIEWS = ['agents', 'groups', 'vendors', 'import', 'directory', 'integrations'];
const viewOfHash = () => (VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'agents');

async function logoutSelf() {
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    if (e.status !== 401) return;
  }
  location.assign('/');
}

function TopBar({ me, view, onLanguage }) {
  const tab = (name) => html`
    <a href=${`#${name}`} class="tab" data-testid=${`tab-${name}`}
      aria-current=${view === name ? 'page' : undefined}>${t(`admin.tab.${name}`)}</a>`;
  return html`
    <header class="topbar">
      <strong class="brand">${t('app.name')}</strong>
      <span>${t('admin.title')}</span>
      <nav class="tabs" aria-label=${t('admin.views')}>${VIEWS.map(tab)}</nav>
      <span class="spacer"></span>
      <a href="/supervisor.html" data-testid="supervisor-link">${t('admin.to_supervisor')}</a>
      <span data-testid="admin-name">${me.name}</span>
      <label class="sr-only" for="lang-select">${t('lang.choose')}</label>
      <select id="lang-select" data-testid="lang-select" value=${language()} onChange=${(e) => onLanguage(e.currentTarget.value)}>
        ${Object.keys(LANGUAGES).map((l) => html`<option value=${l}>${t(`lang.${l}`)}</option>`)}
      </select>
      <button type="button" class="secondary" data-testid="logout" onClick=${logoutSelf}>${t('action.logout')}</button>
    </header>`;
}

function App({ me }) {
  const [view, setView] = useState(viewOfHash());
  const [, setLang] = useState(language());
  const [notice, setNotice] = useState(null);
  useEffect(() => {
    const hash = () => { setView(viewOfHash()); setNotice(null); };
    window.addEventListener('hashchange', hash);
    return () => window.removeEventListener('hashchange', hash);
  }, []);
  const chooseLang = async (lang) => {
    await loadLanguage(lang, PARTS);
    setLang(lang);
    api('PUT', '/api/agents/me/language', { language: lang }).catch(() => {});
  };
  const canEdit = me.role === 'admin';
  // `say(ok, message)`: the outcome of the last change, in words.
  const say = (ok, message) => setNotice({ ok, message });
  document.title = t('admin.title');
  let body;
  if (view === 'agents') body = html`<${AgentsView} me=${me} canEdit=${canEdit} say=${say} />`;
  else if (view === 'import') body = html`<${ImportView} canEdit=${canEdit} say=${say} />`;
  else if (view === 'directory') body = html`<${DirectoryView} canEdit=${canEdit} say=${say} />`;
  else if (view === 'integrations') body = html`<${IntegrationsView} canEdit=${canEdit} say=${say} />`;
  else body = html`<${TargetsView} kind=${view} canEdit=${canEdit} say=${say} />`;
  return html`
    <${TopBar} me=${me} view=${view} onLanguage=${chooseLang} />
    ${!canEdit && html`<p class="notice ok" data-testid="read-only">${t('admin.read_only')}</p>`}
    ${notice && html`<p data-testid="notice" role=${notice.ok ? 'status' : 'alert'}
      class=${`notice ${notice.ok ? 'ok' : 'bad'}`}>${notice.message}</p>`}
    ${body}`;
}

async function start() {
  const root = document.getElementById('app');
  let me;
  try {
    await loadLanguage(chooseLanguage(null), PARTS);
    me = (await api('GET', '/api/me')).json.agent;
    const lists = (await api('GET', '/api/desk/lists').catch(() => null))?.json ?? null;
    if (lists && lists.time_zone) setTimeZone(lists.time_zone);
  } catch (e) {
    if (e.status === 401) {
      location.assign('/');
      return;
    }
    root.textContent = '…';
    setTimeout(start, 2000);
    return;
  }
  if (me.language && LANGUAGES[me.language] && me.language !== language()) {
    await loadLanguage(me.language, PARTS).catch(() => {});
  }
  if (me.role !== 'admin' && me.role !== 'supervisor') {
    render(html`<p data-testid="notice" class="notice bad" role="alert">${t('admin.not_allowed')}</p>`, root);
    return;
  }
  render(html`<${App} me=${me} />`, root);
}

start();
