// firstline desk: the page's start. Checks the session (GET /api/me; none → the login page),
// loads the agent's language and the desk's lists and time zone, opens the WebSocket
// (store.js) and renders the desk (app.js) from the state on every change; a `#intake=<id>` link
// opens that intake.

import { api, html, render } from '../ui.js';
import { chooseLanguage, loadLanguage, setTimeZone } from '../i18n.js';
import { connect, getState, subscribe, update } from './store.js';
import { App } from './app.js';
import { PARTS, loadFollowUps, openIntake, phone } from './actions.js';

async function start() {
  let me;
  try {
    me = (await api('GET', '/api/me')).json;
  } catch (e) {
    location.assign('/');
    return;
  }
  const lists = await api('GET', '/api/desk/lists').then((r) => r.json).catch(() => null);
  if (lists && lists.time_zone) setTimeZone(lists.time_zone);
  // Calls to the outside (a SIP trunk is configured): the intakes offer "call the customer".
  const outbound = await api('GET', '/api/desk/outbound').then((r) => r.json).catch(() => null);
  if (lists && outbound) lists.trunk = Boolean(outbound.trunk);
  await loadLanguage(chooseLanguage(me.agent && me.agent.language), PARTS);
  update((s) => ({ ...s, me, lists: lists ? { ...s.lists, ...lists } : s.lists }));
  if (me.agent && me.agent.device) phone.hooks.onDevice(me.agent.device);
  loadFollowUps();

  // The desk's state, read-only, for diagnostics and the tests.
  window.firstlineDesk = { state: () => JSON.parse(JSON.stringify(getState())) };
  const root = document.getElementById('app');
  const draw = () => render(html`<${App} />`, root);
  subscribe(draw);
  draw();
  connect();
  phone.hooks.start();
  // `desk.html#intake=<id>`: the link back from a ticket system or a webhook opens the intake.
  const follow = () => {
    const linked = /^#intake=([\w-]{1,200})$/.exec(location.hash);
    if (linked) openIntake(linked[1]);
  };
  window.addEventListener('hashchange', follow);
  follow();
}

start();
