// firstline: the login form. POST /api/login (docs/api.md) with the CSRF header, then the desk
// (agents) or the supervisor view (supervisors, admins).

const form = document.getElementById('login-form');
const errorBox = document.getElementById('login-error');

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errorBox.textContent = '';
  const login = form.elements.login.value.trim();
  const password = form.elements.password.value;
  if (!login || !password) {
    errorBox.textContent = 'Enter your login and password.';
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
      // A new session starts a new WebSocket history: forget the old resume point.
      sessionStorage.removeItem('firstline.epoch');
      sessionStorage.removeItem('firstline.seq');
      sessionStorage.removeItem('firstline.view');
      sessionStorage.removeItem('firstline.sup.epoch');
      sessionStorage.removeItem('firstline.sup.seq');
      sessionStorage.removeItem('firstline.sup.view');
      // Supervisors and admins run the hotline from the live view; agents work at the desk.
      const body = await res.json().catch(() => null);
      const role = body && body.agent ? body.agent.role : null;
      location.assign(role === 'supervisor' || role === 'admin' ? '/supervisor.html' : '/desk.html');
      return;
    }
    let message = `sign-in failed (${res.status})`;
    try {
      const body = await res.json();
      if (body && typeof body.error === 'string') message = body.error;
    } catch (_) { /* not JSON: keep the status text */ }
    if (res.status === 429) {
      const after = res.headers.get('Retry-After');
      if (after) message += ` (try again in ${after} s)`;
    }
    errorBox.textContent = message;
  } catch (e) {
    errorBox.textContent = 'The server cannot be reached.';
  } finally {
    button.disabled = false;
  }
});
