// firstline supervisor: keyboard shortcuts (listed in the help overlay, dialogs.js SHORTCUTS).
// Single keys, never while typing in a field or while a dialog is open; the row keys act on the
// focused agent or caller row (every action still asks for confirmation).

import { agentById, waitingCallers } from './model.js';
import { logout, moveCaller, notReady, shiftPriority } from './actions.js';

function focusFirst(kind) {
  const row = document.querySelector(`[data-row="${kind}"]`);
  if (row) row.focus();
}

function moveFocus(row, step) {
  const rows = [...document.querySelectorAll(`[data-row="${row.dataset.row}"]`)];
  const next = rows[rows.indexOf(row) + step];
  if (next) next.focus();
}

/** A key on a focused row; true when it was one of the row keys. */
function rowKey(row, key) {
  if (key === 'ArrowDown' || key === 'ArrowUp') {
    moveFocus(row, key === 'ArrowDown' ? 1 : -1);
    return true;
  }
  if (row.dataset.row === 'caller') {
    const c = waitingCallers().find((x) => String(x.call_id) === row.dataset.callId);
    if (!c) return false;
    if (key === '+') shiftPriority(c, -1);
    else if (key === '-') shiftPriority(c, 1);
    else if (key === 'm') moveCaller(c);
    else return false;
    return true;
  }
  const a = agentById(row.dataset.agentId);
  if (!a) return false;
  if (key === 'n') notReady(a);
  else if (key === 'o') logout(a);
  else return false;
  return true;
}

/**
 * The page's keydown handler. `app`: `{ wallboard, help(), view(name) }`.
 */
export function onKey(ev, app) {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (document.querySelector('dialog[open]')) return;
  const target = ev.target instanceof Element ? ev.target : null;
  if (target && target.closest('input, select, textarea, [contenteditable="true"]')) return;
  const { key } = ev;
  const row = target ? target.closest('[data-row]') : null;
  let handled = true;
  if (key === '?') app.help();
  else if (app.wallboard) {
    if (key === 'w' || key === 'Escape') location.assign('/supervisor.html');
    else handled = false;
  } else if (row && rowKey(row, key)) {
    // done
  } else if (key === 'l') app.view('live');
  else if (key === 'r') app.view('reports');
  else if (key === 'w') location.assign('/supervisor.html?wallboard=1');
  else if (key === 'a') focusFirst('agent');
  else if (key === 'c') focusFirst('caller');
  else handled = false;
  if (handled) ev.preventDefault();
}
