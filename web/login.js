// firstline: the login form. POST /api/login (docs/api.md) with the CSRF header, then the desk
// (agents) or the supervisor view (supervisors, admins). Its words are the catalogue's, in the
// browser's language (the agent's own choice applies once signed in).

import { applyTranslations, chooseLanguage, loadLanguage, t } from './i18n.js';

const form = document.getElementById('login-form');
const errorBox = document.getElementById('login-error');

/** Every resume point of the pages: a new session starts a new WebSocket history. */
const RESUME_KEYS = ['firstline.epoch', 'firstline.seq', 'firstline.view',
  'firstline.sup.epoch', 'firstline.sup.seq', 'firstline.sup.view'];

async function signIn(ev) {
  ev.preventDefault();
  errorBox.textContent = '';
  const login = form.elements.login.value.trim();
  const password = form.elements.password.value;
  if (!login || !password) {
    errorBox.textContent = t('login.missing');
    return;
  }
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const res = await fetch('/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Firstline-Csrf': '1' },
      body: JSON.stringify({ login, password }),
    });
    if (res.ok) {
      for (const k of RESUME_KEYS) sessionStorage.removeItem(k);
      // Supervisors and admins run the hotline from the live view; agents work at the desk.
      const body = await res.json().catch(() => null);
      const role = body && body.agent ? body.agent.role : null;
      location.assign(role === 'supervisor' || role === 'admin' ? '/supervisor.html' : '/desk.html');
      return;
    }
    if (res.status === 401) errorBox.textContent = t('login.invalid');
    else if (res.status === 429) errorBox.textContent = t('login.rate_limited', { secs: res.headers.get('Retry-After') || '60' });
    else errorBox.textContent = t('login.failed', { status: res.status });
  } catch (e) {
    errorBox.textContent = t('login.unreachable');
  } finally {
    button.disabled = false;
  }
}

await loadLanguage(chooseLanguage(null), ['common', 'desk']);
applyTranslations();
form.addEventListener('submit', signIn);
