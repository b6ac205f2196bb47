// firstline: the supervisor view. One WebSocket (/api/supervisor/ws, docs/supervisor.md): a
// snapshot, then `update` frames carrying only the top-level keys that changed; resumes after a
// reconnect from the last `seq`. Actions are REST calls (POST /api/supervisor/…), each confirmed
// first. Every value from the server goes into the page as text (textContent / createElement),
// never as HTML. `?wallboard=1` shows large numbers and no controls. The socket itself (hello,
// reconnect) is feed.js.

import { $, el, setText, showError } from './dom.js';
import { openFeed } from './feed.js';

const WALLBOARD = new URLSearchParams(location.search).get('wallboard') === '1';
const RESUME_EPOCH = 'firstline.sup.epoch';
const RESUME_SEQ = 'firstline.sup.seq';
// The model as of RESUME_SEQ, so that a reloaded page resumes instead of asking for a snapshot.
const RESUME_VIEW = 'firstline.sup.view';
const QUEUE_ORDER = ['hardware', 'software', 'service', 'unclassified'];
const STATES = ['available', 'ringing', 'on_call', 'wrap_up', 'not_ready', 'offline'];
// The top-level keys of `snapshot`; an `update` carries any of them, each replacing the old value,
// except `agents` and `queues`, which carry only the changed agents (by id) and queues (by name).
const KEYS = ['queues', 'in_ivr', 'agents', 'today', 'callbacks_pending', 'voice_messages_today',
  'escalations_today'];

const model = {
  queues: [],
  in_ivr: null,
  agents: [],
  today: null,
  callbacks_pending: null,
  voice_messages_today: null,
  escalations_today: [],
  // Date.now() when `queues` arrived: waits tick on from there.
  queuesAt: Date.now(),
};
let lastSeq = null;
let snapshotSeq = null;
let me = null;

// ---- helpers -------------------------------------------------------------------------------

function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '–';
  const s = Math.max(0, Math.floor(Number(ms) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function sortedQueues() {
  const rank = (q) => {
    const i = QUEUE_ORDER.indexOf(q.name);
    return i < 0 ? QUEUE_ORDER.length : i;
  };
  return [...(Array.isArray(model.queues) ? model.queues : [])].sort((a, b) => rank(a) - rank(b));
}

// ---- WebSocket -----------------------------------------------------------------------------

function handle(f) {
  switch (f.type) {
    case 'welcome':
      sessionStorage.setItem(RESUME_EPOCH, String(f.epoch));
      // Not resumed: a snapshot follows; it is the state as of welcome.seq.
      snapshotSeq = f.resumed ? null : num(f.seq);
      showError('');
      return;
    case 'snapshot':
      for (const k of KEYS) model[k] = k in f ? f[k] : (Array.isArray(model[k]) ? [] : null);
      model.queuesAt = Date.now();
      remember(num(f.seq) ?? snapshotSeq);
      renderAll();
      return;
    case 'update':
      for (const k of KEYS) {
        if (!(k in f)) continue;
        if (k === 'agents') model.agents = mergeBy(model.agents, f.agents, 'id');
        else if (k === 'queues') model.queues = mergeBy(model.queues, f.queues, 'name');
        else model[k] = f[k];
      }
      if ('queues' in f) model.queuesAt = Date.now();
      remember(num(f.seq));
      renderAll();
      return;
    case 'error':
      showError(`${f.code || 'error'}: ${f.message || 'refused'}`);
      return;
    default:
      // pong and frames of a later version: a numbered one still moves the resume point.
      if (num(f.seq) !== null) remember(f.seq);
  }
}

/** `old` with every element of `changed` replacing (or joining) the one with the same `key`. */
function mergeBy(old, changed, key) {
  const out = Array.isArray(old) ? old.slice() : [];
  for (const item of changed || []) {
    const i = out.findIndex((o) => o[key] === item[key]);
    if (i >= 0) out[i] = item; else out.push(item);
  }
  return out;
}

/** The last frame seen: the point to resume from after a reconnect or a reload. */
function remember(seq) {
  if (seq === null) return;
  lastSeq = seq;
  try {
    sessionStorage.setItem(RESUME_SEQ, String(seq));
    sessionStorage.setItem(RESUME_VIEW, JSON.stringify(model));
  } catch (_) { /* storage full: the next connect gets a snapshot */ }
}

/** After a reload: the model the last numbered frame left, if the resume point is stored. */
function restore() {
  try {
    const seq = sessionStorage.getItem(RESUME_SEQ);
    const saved = JSON.parse(sessionStorage.getItem(RESUME_VIEW) || 'null');
    if (seq === null || !saved) throw new Error('nothing to resume');
    Object.assign(model, saved);
    lastSeq = Number(seq);
  } catch (_) {
    forgetResume();
  }
}

function forgetResume() {
  lastSeq = null;
  sessionStorage.removeItem(RESUME_SEQ);
  sessionStorage.removeItem(RESUME_VIEW);
}

// ---- rendering -----------------------------------------------------------------------------

function renderAll() {
  renderToday();
  renderQueues();
  renderCallers();
  renderAgents();
  renderEscalations();
}

function renderToday() {
  const t = model.today || {};
  const sl = num(t.service_level);
  setText('sl-value', sl === null ? null : `${Math.round(sl * 100)}%`);
  const within = num(t.answered_within_threshold);
  $('sl-sub').textContent = `${within ?? '–'} answered within ${t.threshold_s ?? '–'} s`
    + (t.breach ? ' · below target' : '');
  $('tile-sl').classList.toggle('breach', !!t.breach);
  $('tile-sl').dataset.breach = t.breach ? 'true' : 'false';
  setText('today-offered', num(t.offered));
  setText('today-answered', num(t.answered));
  setText('today-abandoned', num(t.abandoned));
  setText('in-ivr', num(model.in_ivr));
  setText('callbacks-pending', num(model.callbacks_pending));
  setText('voice-messages', num(model.voice_messages_today));
}

function renderQueues() {
  const box = $('queues');
  box.replaceChildren();
  for (const q of sortedQueues()) {
    const name = String(q.name);
    const byPrio = q.by_priority || {};
    const prio = el('ol', { class: 'by-priority', 'aria-label': 'waiting by priority' });
    for (const p of ['1', '2', '3', '4', '5']) {
      prio.append(el('li', { class: `prio-${p}` }, el('span', { class: 'tile-label' }, `P${p} `),
        el('strong', { testid: `queue-${name}-prio-${p}` }, num(byPrio[p]) ?? 0)));
    }
    const waiting = num(q.waiting) ?? 0;
    const card = el('article', { class: `queue-card${waiting > 0 ? ' busy' : ''}`, testid: `queue-${name}` },
      el('h3', {}, name),
      el('div', { class: 'queue-big' },
        el('strong', { class: 'tile-value', testid: `queue-${name}-waiting` }, waiting),
        el('span', { class: 'tile-label' }, ' waiting')),
      el('dl', {},
        el('dt', {}, 'Longest wait'),
        el('dd', { testid: `queue-${name}-longest`, 'data-tick-ms': waiting > 0 ? num(q.longest_wait_ms) ?? 0 : null },
          waiting > 0 ? fmtDuration(q.longest_wait_ms) : '–'),
        el('dt', {}, 'Estimated wait'),
        el('dd', { testid: `queue-${name}-estimate` },
          num(q.estimated_wait_ms) === null ? '–' : fmtDuration(q.estimated_wait_ms))),
      prio);
    box.append(card);
  }
}

function renderCallers() {
  const body = $('callers');
  body.replaceChildren();
  let n = 0;
  for (const q of sortedQueues()) {
    for (const c of Array.isArray(q.callers) ? q.callers : []) {
      n += 1;
      body.append(callerRow(String(q.name), c));
    }
  }
  if (n === 0) {
    body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'nobody waiting')));
  }
}

function callerRow(queue, c) {
  const id = String(c.call_id);
  const who = c.customer ? `${c.customer} (${c.caller || 'no number'})` : (c.caller || 'unknown number');
  const prio = num(c.priority);
  const row = el('tr', {
    testid: 'caller-row',
    'data-call-id': id,
    class: c.over_threshold ? 'over-threshold' : null,
    'data-over-threshold': c.over_threshold ? 'true' : 'false',
  },
  el('td', { testid: `caller-${id}-who` }, who),
  el('td', { testid: `caller-${id}-queue` }, queue),
  el('td', { testid: `caller-${id}-priority` }, prio ?? '–'),
  el('td', { testid: `caller-${id}-waited`, 'data-tick-ms': num(c.waited_ms) ?? 0 }, fmtDuration(c.waited_ms)));
  if (!WALLBOARD) {
    row.append(el('td', { class: 'control actions' },
      el('button', {
        type: 'button', testid: `prio-up-${id}`, title: 'raise priority (towards 1)',
        disabled: prio === null || prio <= 1,
        onclick: () => confirmAction(`Raise the priority of ${who} from ${prio} to ${prio - 1}?`, {},
          () => post(`/api/supervisor/calls/${encodeURIComponent(id)}/priority`, { priority: prio - 1 })),
      }, '▲ priority'),
      el('button', {
        type: 'button', testid: `prio-down-${id}`, title: 'lower priority (towards 5)',
        disabled: prio === null || prio >= 5,
        onclick: () => confirmAction(`Lower the priority of ${who} from ${prio} to ${prio + 1}?`, {},
          () => post(`/api/supervisor/calls/${encodeURIComponent(id)}/priority`, { priority: prio + 1 })),
      }, '▼ priority'),
      el('button', {
        type: 'button', testid: `move-${id}`,
        onclick: () => confirmAction(`Move ${who} out of ${queue} to another queue?`, { queue: queueOtherThan(queue) },
          (v) => post(`/api/supervisor/calls/${encodeURIComponent(id)}/queue`, { queue: v.queue })),
      }, 'Move…')));
  }
  return row;
}

function queueOtherThan(queue) {
  return QUEUE_ORDER.find((q) => q !== queue) || QUEUE_ORDER[0];
}

function renderAgents() {
  const body = $('agents');
  body.replaceChildren();
  const agents = Array.isArray(model.agents) ? model.agents : [];
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const a of agents) {
    const state = String(a.state || 'offline');
    counts[state] = (counts[state] || 0) + 1;
    body.append(agentRow(a, state));
  }
  if (agents.length === 0) {
    body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'no agents')));
  }
  const p = $('agent-counts');
  p.replaceChildren();
  for (const s of STATES) {
    p.append(el('span', { class: `count state-${s}` }, `${s.replace('_', ' ')} `,
      el('strong', { testid: `agents-count-${s}` }, counts[s])));
  }
}

function agentRow(a, state) {
  const id = String(a.id);
  const name = a.name || id;
  const since = num(a.since);
  const device = a.device === 'browser' ? 'browser' : 'phone';
  const held = a.call_id && a.held ? String(a.held) : null;
  const quality = a.call_id ? qualityCell(a.quality) : el('td', { testid: 'agent-quality', class: 'quality' }, '–');
  const row = el('tr', { testid: 'agent-row', 'data-agent-id': id, 'data-state': state, 'data-held': held },
    el('td', {}, name, ' ',
      el('span', { testid: 'agent-device', class: `device device-${device}`, title: `answers on: ${device}` }, device)),
    el('td', { testid: `agent-${id}-state`, class: `state state-${state}` },
      state.replace('_', ' '), a.reason ? el('span', { class: 'muted' }, ` (${a.reason})`) : null),
    el('td', { testid: `agent-${id}-since`, 'data-since': since }, since === null ? '–' : fmtDuration(Date.now() - since)),
    el('td', { testid: `agent-${id}-call` }, a.call_id || '–',
      held ? el('span', { testid: 'agent-held', class: `held held-${held}` },
        held === 'browser_gone' ? 'browser reconnecting' : 'held') : null),
    quality);
  if (!WALLBOARD) {
    const offline = state === 'offline';
    const busy = state === 'on_call' || state === 'ringing';
    row.append(el('td', { class: 'control actions' },
      el('button', {
        type: 'button', testid: `notready-${id}`, disabled: offline || busy || state === 'not_ready',
        onclick: () => confirmAction(`Set ${name} not ready?`, { reason: 'supervisor' },
          (v) => post(`/api/supervisor/agents/${encodeURIComponent(id)}/not-ready`, { reason: v.reason })),
      }, 'Not ready'),
      el('button', {
        type: 'button', testid: `logout-${id}`, disabled: offline || state === 'on_call',
        onclick: () => confirmAction(`Log ${name} out?`, {},
          () => post(`/api/supervisor/agents/${encodeURIComponent(id)}/logout`, {})),
      }, 'Log out')));
  }
  return row;
}

// Call quality (docs/supervisor.md): the worst figure of the server's and the browser's latest
// samples; warn past 3 % loss, 30 ms jitter or 300 ms round trip.
const QUALITY_WARN = { loss_pct: 3, jitter_ms: 30, rtt_ms: 300 };

function qualityText(loss, jitter, rtt) {
  const part = (label, v, digits, unit) => (v === null ? `${label} –` : `${label} ${v.toFixed(digits)} ${unit}`);
  return [part('loss', loss, 1, '%'), part('jitter', jitter, 0, 'ms'), part('rtt', rtt, 0, 'ms')].join(' · ');
}

function qualityCell(quality) {
  const samples = ['server', 'browser']
    .map((k) => (quality && quality[k] ? quality[k] : null))
    .filter((q) => q !== null);
  if (samples.length === 0) return el('td', { testid: 'agent-quality', class: 'quality' }, '–');
  const worst = (key) => samples.reduce((m, q) => {
    const v = num(q[key]);
    return v === null ? m : (m === null ? v : Math.max(m, v));
  }, null);
  const [loss, jitter, rtt] = ['loss_pct', 'jitter_ms', 'rtt_ms'].map(worst);
  const warn = (loss !== null && loss > QUALITY_WARN.loss_pct)
    || (jitter !== null && jitter > QUALITY_WARN.jitter_ms)
    || (rtt !== null && rtt > QUALITY_WARN.rtt_ms);
  const detail = samples.map((q) => `${q.source}: ${qualityText(num(q.loss_pct), num(q.jitter_ms), num(q.rtt_ms))}`)
    .join('\n');
  return el('td', { testid: 'agent-quality', class: warn ? 'quality warn' : 'quality', title: detail,
    'data-warn': warn ? 'true' : 'false' }, qualityText(loss, jitter, rtt));
}

function renderEscalations() {
  const ul = $('escalations');
  ul.replaceChildren();
  const list = Array.isArray(model.escalations_today) ? model.escalations_today : [];
  for (const e of list) {
    ul.append(el('li', { testid: `escalation-${e.level}-${e.target}` },
      el('span', { class: 'tile-label' }, `level ${e.level} `), `${e.target || '–'} · `,
      el('strong', {}, num(e.count) ?? 0)));
  }
  if (list.length === 0) ul.append(el('li', { class: 'muted' }, 'none'));
}

/** Waits and times in state tick locally between frames. */
function tick() {
  const elapsed = Date.now() - model.queuesAt;
  for (const e of document.querySelectorAll('[data-tick-ms]')) {
    e.textContent = fmtDuration(Number(e.dataset.tickMs) + elapsed);
  }
  for (const e of document.querySelectorAll('[data-since]')) {
    e.textContent = fmtDuration(Date.now() - Number(e.dataset.since));
  }
}
setInterval(tick, 1000);

// ---- actions -------------------------------------------------------------------------------

let pendingAction = null;

/**
 * Asks before acting. `fields` may hold `reason` (an input) or `queue` (a select); `run` gets
 * their values when the supervisor confirms.
 */
function confirmAction(message, fields, run) {
  $('confirm-msg').textContent = message;
  $('confirm-reason-label').hidden = !('reason' in fields);
  $('confirm-queue-label').hidden = !('queue' in fields);
  if ('reason' in fields) $('confirm-reason').value = fields.reason;
  if ('queue' in fields) $('confirm-queue').value = fields.queue;
  pendingAction = run;
  $('confirm').returnValue = '';
  $('confirm').showModal();
}

$('confirm').addEventListener('close', () => {
  const run = pendingAction;
  pendingAction = null;
  if ($('confirm').returnValue !== 'ok' || !run) return;
  const reason = $('confirm-reason').value.trim() || 'supervisor';
  run({ reason, queue: $('confirm-queue').value });
});

async function post(path, body) {
  $('action-status').textContent = 'sending…';
  try {
    const r = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Firstline-Csrf': '1' },
      body: JSON.stringify(body),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(answer && answer.error ? answer.error : `status ${r.status}`);
    $('action-status').textContent = 'done ✓';
    showError('');
    loadAudit();
  } catch (e) {
    $('action-status').textContent = '';
    showError(`action refused: ${e.message}`);
  }
}

async function loadAudit() {
  if (WALLBOARD) return;
  try {
    const r = await fetch('/api/supervisor/audit?limit=20', { credentials: 'same-origin' });
    if (!r.ok) return;
    const body = await r.json();
    const rows = Array.isArray(body) ? body : (body && Array.isArray(body.audit) ? body.audit : []);
    const ol = $('audit');
    ol.replaceChildren();
    for (const a of rows) {
      const details = a.details && typeof a.details === 'object' ? JSON.stringify(a.details) : (a.details || '');
      ol.append(el('li', { testid: 'audit-row' },
        `${a.at ? new Date(a.at).toLocaleTimeString() : ''} · ${a.actor || a.agent_id || ''} · `,
        el('strong', {}, a.action || ''), ` · ${a.target || ''} ${details}`));
    }
    if (rows.length === 0) ol.append(el('li', { class: 'muted' }, 'none yet'));
  } catch (_) { /* the audit list is a convenience; the live view does not depend on it */ }
}

// CSV export (docs/api.md): the browser downloads with the session cookie.
function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function exportUrl() {
  const q = new URLSearchParams({ from: $('export-from').value, to: $('export-to').value, tz: $('export-tz').value });
  return `/api/export/${encodeURIComponent($('export-kind').value)}.csv?${q}`;
}

$('export-from').value = isoDay(new Date());
$('export-to').value = isoDay(new Date());
$('export-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!$('export-from').value || !$('export-to').value || $('export-from').value > $('export-to').value) {
    showError('Choose a date range (from ≤ to).');
    return;
  }
  showError('');
  // Fetched first, so that a refusal (422, 403) shows as a message instead of a downloaded file.
  try {
    const r = await fetch(exportUrl(), { credentials: 'same-origin' });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error(body.error || `status ${r.status}`);
    }
    const url = URL.createObjectURL(await r.blob());
    const name = `${$('export-kind').value}_${$('export-from').value}_${$('export-to').value}.csv`;
    const a = el('a', { href: url, download: name, testid: 'export-link' });
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (e) {
    showError(`export: ${e.message}`);
  }
});

$('btn-logout').addEventListener('click', async () => {
  const r = await fetch('/api/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Firstline-Csrf': '1' } });
  if (r.ok || r.status === 401) {
    sessionStorage.removeItem(RESUME_EPOCH);
    forgetResume();
    location.assign('/');
    return;
  }
  const body = await r.json().catch(() => ({}));
  showError(body.error || `logout failed (${r.status})`);
});

// ---- start ---------------------------------------------------------------------------------

async function start() {
  if (WALLBOARD) document.body.classList.add('wallboard');
  let r;
  try {
    r = await fetch('/api/me', { credentials: 'same-origin' });
  } catch (_) {
    showError('The server cannot be reached.');
    setTimeout(start, 2000);
    return;
  }
  if (r.status === 401) {
    location.assign('/');
    return;
  }
  me = await r.json().catch(() => null);
  const agent = me && me.agent ? me.agent : {};
  setText('sup-name', agent.name);
  if (!['supervisor', 'admin'].includes(agent.role)) {
    showError('This page is for supervisors. Agents work at the desk (/desk.html).');
    $('conn-status').textContent = 'not allowed';
    return;
  }
  restore();
  renderAll();
  loadAudit();
  openFeed({
    path: '/api/supervisor/ws',
    onStatus: (kind) => {
      $('conn-status').textContent = { connecting: 'connecting…', live: 'live', offline: 'offline: reconnecting…' }[kind];
      $('conn-status').className = `conn ${kind === 'live' ? 'ok' : kind === 'offline' ? 'bad' : ''}`;
    },
    hello: () => ({ epoch: sessionStorage.getItem(RESUME_EPOCH), last_seq: lastSeq }),
    onFrame: handle,
  });
}

start();
