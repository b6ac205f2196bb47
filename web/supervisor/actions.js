// firstline supervisor: the actions on agents and waiting callers (POST /api/supervisor/…,
// docs/supervisor.md), each confirmed first; the same functions serve the buttons and the
// keyboard shortcuts. The page's status line, error banner and confirmation dialog are reached
// through `bindUi` (set once by the app).

import { api } from '../ui.js';
import { t } from '../i18n.js';
import { num } from './model.js';
import { agentName, callerWords, queueWord } from './words.js';

let ui = {
  confirm: () => {},
  status: () => {},
  error: () => {},
  audited: () => {},
};

/** `{ confirm(request), status(text), error(text), audited() }` of the running page. */
export function bindUi(handlers) {
  ui = { ...ui, ...handlers };
}

async function post(path, body) {
  ui.status(t('act.sending'));
  try {
    await api('POST', path, body);
    ui.status(t('act.done'));
    ui.error('');
  } catch (e) {
    ui.status('');
    ui.error(t('act.refused', { message: e.message }));
  }
  ui.audited();
}

const agentPath = (a, what) => `/api/supervisor/agents/${encodeURIComponent(a.id)}/${what}`;
const callPath = (c, what) => `/api/supervisor/calls/${encodeURIComponent(c.call_id)}/${what}`;

/** Whether the supervisor may set this agent not ready / log them out now. */
export const canNotReady = (a) => !['offline', 'on_call', 'ringing', 'not_ready'].includes(a.state);
export const canLogout = (a) => !['offline', 'on_call'].includes(a.state);

/** Asks, then sets the agent not ready with the typed reason. */
export function notReady(a) {
  if (!canNotReady(a)) return;
  ui.confirm({
    message: t('confirm.not_ready', { agent: agentName(a) }),
    reason: 'supervisor',
    run: (v) => post(agentPath(a, 'not-ready'), { reason: v.reason }),
  });
}

/** Asks, then logs the agent out. */
export function logout(a) {
  if (!canLogout(a)) return;
  ui.confirm({
    message: t('confirm.logout', { agent: agentName(a) }),
    run: () => post(agentPath(a, 'logout'), {}),
  });
}

/** Asks, then moves the caller's priority by `step` (-1 raises towards 1, +1 lowers towards 5). */
export function shiftPriority(c, step) {
  const from = num(c.priority);
  const to = from === null ? null : from + step;
  if (to === null || to < 1 || to > 5) return;
  const who = callerWords(c.caller, c.customer);
  ui.confirm({
    message: t(step < 0 ? 'confirm.raise' : 'confirm.lower', { caller: who, from, to }),
    run: () => post(callPath(c, 'priority'), { priority: to }),
  });
}

/** Asks (with the queue to move to), then moves the caller to that queue. */
export function moveCaller(c) {
  ui.confirm({
    message: t('confirm.move', { caller: callerWords(c.caller, c.customer), queue: queueWord(c.queue) }),
    queue: c.queue,
    run: (v) => post(callPath(c, 'queue'), { queue: v.queue }),
  });
}
