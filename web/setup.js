// firstline: the first admin's account, from the one-time link the server printed at start
// (`/setup.html#<token>`; the token is in the fragment, so it never reaches a server log or a
// Referer). POST /api/setup, then the login page.

import { applyTranslations, chooseLanguage, loadLanguage, t } from './i18n.js';
import { api } from './ui.js';

const form = document.getElementById('setup-form');
const errorBox = document.getElementById('setup-error');
const token = location.hash.slice(1);

async function submit(ev) {
  ev.preventDefault();
  errorBox.textContent = '';
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await api('POST', '/api/setup', {
      token,
      login: form.elements.login.value.trim(),
      name: form.elements.name.value.trim(),
      password: form.elements.password.value,
    });
    history.replaceState(null, '', '/setup.html');
    location.assign('/');
  } catch (e) {
    errorBox.textContent = e.status === 403 ? t('setup.invalid') : t('error.generic', { message: e.message });
  } finally {
    button.disabled = false;
  }
}

await loadLanguage(chooseLanguage(null), ['common', 'setup']);
applyTranslations();
form.addEventListener('submit', submit);
const status = await api('GET', '/api/setup').catch(() => null);
if (!token || !status || !status.json.needed) {
  errorBox.textContent = t('setup.invalid');
  form.querySelector('button').disabled = true;
}
