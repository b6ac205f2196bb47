// firstline: the agent desk. One WebSocket (/api/ws, docs/protocol.md v1); the page renders only
// what the server sends and asks for changes. Every value from the server goes into the page as
// text (textContent / createElement), never as HTML. The socket itself (hello, reconnect) is
// feed.js; the softphone (docs/webrtc.md) lives in softphone.js and gets the call frames from here.

import { $, el, setText, showError } from './dom.js';
import { openFeed } from './feed.js';
import { createSoftphone } from './softphone.js';

const RESUME_EPOCH = 'firstline.epoch';
const RESUME_SEQ = 'firstline.seq';
// The view as of RESUME_SEQ: a reloaded page shows it and resumes after that frame.
const RESUME_VIEW = 'firstline.view';
const DEBOUNCE_MS = 300;

const view = {
  agent: null, // snapshot.agent / agent_state
  call: null, // the pop body, with `ended` when the call is over
  callAt: 0, // Date.now() when the pop arrived (waited ticks from there while ringing)
  intake: null, // the intake being edited
  lists: { second_level: [], third_level: [] },
};
let feed = null; // openFeed's handle, once connected
let snapshotSeq = null; // welcome.seq of a welcome that announced a snapshot
let refCounter = 0;
const pending = new Map(); // ref → what it was for ({kind, fields?})
// After open_intake / continue_intake: {ref, id} — the next `intake` frame with that id (or, for
// a new intake, any other id than the current one) becomes the intake being edited.
let adoptNext = null;
const dirty = { title: false, description: false };
let saveTimer = null;
let phone = null; // the softphone's hooks (created once the page's helpers exist)

// ---- formatting ----------------------------------------------------------------------------

function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleString() : '';
}

// ---- WebSocket -----------------------------------------------------------------------------

function send(type, body = {}, meta = null) {
  if (!feed || !feed.open) {
    showError('Not connected: the change was not sent. Reconnecting…');
    return null;
  }
  const ref = `r${++refCounter}`;
  if (meta) pending.set(ref, meta);
  feed.send({ v: 1, type, ref, ...body });
  return ref;
}

/** The hello's resume point: the epoch and the last numbered frame this tab has seen. */
function resumePoint() {
  const seq = sessionStorage.getItem(RESUME_SEQ);
  return {
    epoch: sessionStorage.getItem(RESUME_EPOCH),
    last_seq: seq === null ? null : Number(seq),
  };
}

function handle(f) {
  apply(f);
  if (typeof f.seq === 'number' && f.type !== 'welcome') {
    sessionStorage.setItem(RESUME_VIEW, JSON.stringify(view));
    sessionStorage.setItem(RESUME_SEQ, String(f.seq));
  }
}

/** After a reload: the view the last numbered frame left, if it belongs to the stored resume point. */
function restoreView() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(RESUME_VIEW) || 'null');
    if (!saved || sessionStorage.getItem(RESUME_SEQ) === null) throw new Error('nothing to resume');
    Object.assign(view, saved);
    setIntake(view.intake, true);
  } catch (_) {
    // No usable view: ask for a snapshot.
    sessionStorage.removeItem(RESUME_SEQ);
    sessionStorage.removeItem(RESUME_VIEW);
  }
}

function apply(f) {
  switch (f.type) {
    case 'welcome':
      // welcome.seq is the agent's latest frame; the snapshot that follows (unnumbered) is
      // the state as of that frame, so it is the new resume point.
      sessionStorage.setItem(RESUME_EPOCH, String(f.epoch));
      snapshotSeq = f.resumed ? null : f.seq;
      showError('');
      break;
    case 'snapshot':
      view.agent = f.agent || null;
      view.lists = f.lists || { second_level: [], third_level: [] };
      view.call = f.call || null;
      view.callAt = Date.now();
      dirty.title = dirty.description = false;
      setIntake(f.intake || (f.call && f.call.intake) || null, true);
      renderAll();
      phone.onAgent(view.agent);
      if (view.call) phone.onPop(view.call);
      if (typeof snapshotSeq === 'number') {
        sessionStorage.setItem(RESUME_VIEW, JSON.stringify(view));
        sessionStorage.setItem(RESUME_SEQ, String(snapshotSeq));
      }
      break;
    case 'agent_state':
      view.agent = { ...(view.agent || {}), state: f.state, reason: f.reason, since: f.since };
      renderAgent();
      break;
    case 'pop':
      view.call = f;
      view.callAt = Date.now();
      if (f.intake && (!view.intake || view.intake.id !== f.intake.id || f.phase === 'ringing')) {
        dirty.title = dirty.description = false;
        setIntake(f.intake, true);
      }
      renderPop();
      renderIntake();
      phone.onPop(f);
      break;
    case 'call_ended':
      if (view.call && view.call.call_id === f.call_id) {
        view.call = { ...view.call, ended: true };
        renderPop();
      }
      phone.onCallEnded(f.call_id);
      break;
    case 'call_held':
      phone.onHeld(f);
      break;
    case 'offer_withdrawn':
      phone.onOfferWithdrawn(f.call_id);
      if (view.call && view.call.call_id === f.call_id) {
        view.call = null;
        if (view.intake && view.intake.status === 'draft' && !(view.intake.title || view.intake.description)) {
          view.intake = null;
        }
        renderAll();
      }
      break;
    case 'intake':
      onIntake(f.intake || f);
      break;
    case 'customer':
      onCustomer(f);
      break;
    case 'ack':
      onAck(f.ref);
      break;
    case 'error':
      onError(f);
      break;
    default:
      break; // pong and frames of a later version
  }
}

function onIntake(intake) {
  if (!intake || !intake.id) return;
  const adopt = adoptNext !== null
    && (adoptNext.id ? intake.id === adoptNext.id : !view.intake || intake.id !== view.intake.id);
  if (adopt || !view.intake || view.intake.id === intake.id) {
    if (adopt) {
      adoptNext = null;
      dirty.title = dirty.description = false;
    }
    setIntake(intake, adopt);
  } else if (view.call && Array.isArray(view.call.open_intakes)) {
    // A change to one of the caller's other intakes (continue, escalation) shows in the list.
    view.call.open_intakes = view.call.open_intakes.map((o) => (o.id === intake.id ? { ...o, ...intake } : o));
  }
  renderAll();
}

/** A customer record changed: the pop shows it when it is the caller (or was just linked). */
function onCustomer(f) {
  if (!view.call || !f.id) return;
  // The ack may overtake this frame (acks go straight out, frames through the hub), so the
  // intake's own customer link counts too, as the server's hub decides.
  const linking = [...pending.values()].some((p) => p.kind === 'customer')
    || !!(view.intake && view.intake.customer_id === f.id);
  if ((view.call.customer && view.call.customer.id === f.id) || (!view.call.customer && linking)) {
    const { v, seq, type, ...customer } = f;
    view.call = { ...view.call, customer, candidates: [] };
    renderPop();
  }
}

function onAck(ref) {
  const what = pending.get(ref);
  pending.delete(ref);
  if (!what) return;
  if (what.kind === 'save') {
    for (const k of Object.keys(what.fields)) {
      if (k in dirty && currentValue(k) === what.fields[k]) dirty[k] = false;
    }
    const stillPending = [...pending.values()].some((p) => p.kind === 'save');
    if (!stillPending && !saveTimer) {
      $('save-status').textContent = 'saved ✓';
      $('save-status').className = 'save-status ok';
    }
  }
}

function onError(f) {
  const what = pending.get(f.ref);
  pending.delete(f.ref);
  if (what && what.kind === 'save') {
    $('save-status').textContent = 'not saved';
    $('save-status').className = 'save-status bad';
  }
  if (what && what.kind === 'adopt' && adoptNext && adoptNext.ref === f.ref) adoptNext = null;
  showError(`${f.code || 'error'}: ${f.message || 'refused'}`);
}

// ---- intake editing ------------------------------------------------------------------------

function currentValue(k) {
  return k === 'title' ? $('intake-title').value : $('intake-description').value;
}

/** Takes the server's intake; text the agent typed and the server has not confirmed stays. */
function setIntake(intake, replaceText) {
  view.intake = intake;
  if (!intake) return;
  for (const [k, id] of [['title', 'intake-title'], ['description', 'intake-description']]) {
    if (replaceText || !dirty[k]) $(id).value = intake[k] || '';
  }
}

function scheduleSave() {
  $('save-status').textContent = 'saving…';
  $('save-status').className = 'save-status';
  clearTimeout(saveTimer);
  saveTimer = setTimeout(flushSave, DEBOUNCE_MS);
}

function flushSave() {
  clearTimeout(saveTimer);
  saveTimer = null;
  if (!view.intake) return;
  const fields = {};
  for (const k of ['title', 'description']) {
    if (dirty[k]) fields[k] = currentValue(k);
  }
  if (Object.keys(fields).length === 0) return;
  send('intake_update', { intake_id: view.intake.id, fields }, { kind: 'save', fields });
}

for (const id of ['intake-title', 'intake-description']) {
  const key = id === 'intake-title' ? 'title' : 'description';
  $(id).addEventListener('input', () => {
    dirty[key] = true;
    scheduleSave();
  });
  $(id).addEventListener('blur', () => {
    if (saveTimer) flushSave();
  });
}

$('intake-category').addEventListener('change', (e) => {
  if (view.intake) send('intake_update', { intake_id: view.intake.id, fields: { category: e.target.value } }, { kind: 'field' });
});
$('intake-priority').addEventListener('change', (e) => {
  if (!view.intake || e.target.value === '') return;
  send('intake_update', { intake_id: view.intake.id, fields: { priority: Number(e.target.value) } }, { kind: 'field' });
});

// ---- rendering -----------------------------------------------------------------------------

function renderAll() {
  renderAgent();
  renderPop();
  renderIntake();
}

function renderAgent() {
  const a = view.agent;
  setText('agent-name', a && a.name);
  setText('agent-state', a && a.state ? a.state.replace('_', ' ') : 'offline');
  $('agent-state').className = `state-${a && a.state ? a.state : 'offline'}`;
  $('agent-reason').textContent = a && a.reason ? `(${a.reason})` : '';
  const state = a ? a.state : 'offline';
  $('btn-available').disabled = state === 'available' || state === 'on_call' || state === 'ringing';
  $('btn-not-ready').disabled = state === 'on_call' || state === 'ringing';
}

function renderPop() {
  const c = view.call;
  $('pop').hidden = !c;
  $('idle').hidden = !!(c || view.intake);
  if (!c) return;
  const banner = $('pop-banner');
  const phase = c.ended ? 'ended' : c.phase;
  banner.dataset.phase = phase;
  banner.className = `pop-banner phase-${phase}`;
  banner.textContent = phase === 'ringing' ? 'Ringing: pick up the phone'
    : phase === 'connected' ? 'Connected' : 'Call ended: finish the intake';
  setText('pop-caller', c.caller || 'unknown number');
  setText('pop-language', c.language);
  setText('pop-ivr-path', c.ivr_path);
  setText('pop-dtmf', c.dtmf_mode);
  renderWaited();
  renderCustomer(c);
  renderVoiceMessage(c.voice_message);
  renderOpenIntakes(c.open_intakes || []);
}

function renderWaited() {
  const c = view.call;
  if (!c) return;
  const extra = c.phase === 'ringing' && !c.ended ? Date.now() - view.callAt : 0;
  $('pop-waited').textContent = fmtDuration((Number(c.waited_ms) || 0) + extra);
}
setInterval(renderWaited, 1000);

const CUSTOMER_FIELDS = [
  ['organisation', 'Organisation'], ['department', 'Department'], ['email', 'E-mail'],
  ['location', 'Location'], ['notes', 'Notes'],
];

function renderCustomer(c) {
  const box = $('customer');
  box.replaceChildren();
  const cust = c.customer;
  if (cust) {
    const dl = el('dl', { class: 'customer-card' });
    for (const [k, label] of CUSTOMER_FIELDS) {
      dl.append(el('dt', {}, label), el('dd', { testid: `customer-${k}` }, cust[k] || '–'));
    }
    box.append(el('h3', { testid: 'customer-name', class: 'big' }, cust.name || '–'), dl);
    return;
  }
  box.append(el('h3', { testid: 'unknown-caller', class: 'warn' }, 'Unknown caller'));
  const results = el('ul', { testid: 'customer-results', class: 'results' });
  const offer = (list) => {
    results.replaceChildren();
    for (const r of list) {
      results.append(el('li', {},
        el('span', {}, `${r.name || '–'} · ${r.organisation || ''} ${r.phone || ''}`),
        el('button', { type: 'button', testid: `link-${r.id}`, onclick: () => linkCustomer(r.id) }, 'Link this number')));
    }
    if (list.length === 0) results.append(el('li', { class: 'muted' }, 'no customer found'));
  };
  if (Array.isArray(c.candidates) && c.candidates.length) offer(c.candidates);
  const q = el('input', { id: 'customer-q', testid: 'customer-search', maxlength: 100, placeholder: 'name, e-mail or number' });
  const search = async () => {
    try {
      const r = await fetch(`/api/customers?q=${encodeURIComponent(q.value.trim())}`, { credentials: 'same-origin' });
      const body = await r.json();
      if (!r.ok) throw new Error(body && body.error ? body.error : `status ${r.status}`);
      offer(Array.isArray(body) ? body : body.customers || []);
    } catch (e) {
      showError(`customer search: ${e.message}`);
    }
  };
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); search(); } });
  box.append(el('label', { for: 'customer-q' }, 'Find the customer'), q,
    el('button', { type: 'button', testid: 'customer-search-btn', onclick: search }, 'Search'), results);

  const form = el('form', { class: 'create-customer', testid: 'create-customer' });
  const inputs = {};
  for (const [k, label] of [['name', 'Name'], ...CUSTOMER_FIELDS]) {
    inputs[k] = el(k === 'notes' ? 'textarea' : 'input', { id: `new-${k}`, testid: `new-customer-${k}`, maxlength: 500 });
    form.append(el('label', { for: `new-${k}` }, label), inputs[k]);
  }
  form.append(el('button', { type: 'submit', testid: 'create-customer-btn' }, 'Create customer for this number'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const fields = {};
    for (const [k, input] of Object.entries(inputs)) if (input.value.trim()) fields[k] = input.value.trim();
    if (!fields.name) { showError('A new customer needs a name.'); return; }
    if (view.intake) send('create_customer', { intake_id: view.intake.id, fields }, { kind: 'customer' });
  });
  box.append(el('details', {}, el('summary', {}, 'New customer'), form));
}

function linkCustomer(customerId) {
  if (view.intake) send('link_customer', { intake_id: view.intake.id, customer_id: customerId }, { kind: 'customer' });
}

function renderVoiceMessage(vm) {
  const box = $('voice-message');
  box.replaceChildren();
  if (!vm || !vm.url) return;
  const url = String(vm.url);
  // Only our own server's recordings play (a relative or same-origin URL).
  if (new URL(url, location.href).origin !== location.origin) return;
  box.append(el('span', { class: 'label' }, `Voice message (${fmtDuration(vm.duration_ms || 0)})`),
    el('audio', { controls: true, preload: 'none', src: url, testid: 'voice-message-audio' }));
}

function renderEscalations(list, into) {
  into.replaceChildren();
  for (const e of list || []) {
    into.append(el('li', {},
      `${e.returned ? 'returned' : `level ${e.from_level} → ${e.to_level}`} · ${e.target || ''}`,
      e.case_ref ? ` · case ${e.case_ref}` : '', ` · ${e.reason || ''} · ${e.agent_id || ''} · ${fmtTime(e.at)}`));
  }
}

function renderOpenIntakes(list) {
  const ul = $('open-intakes');
  ul.replaceChildren();
  const current = view.intake ? view.intake.id : null;
  const others = list.filter((o) => o.id !== current);
  if (others.length === 0) ul.append(el('li', { class: 'muted' }, 'none'));
  for (const o of others) {
    const hist = el('ol', { class: 'history' });
    renderEscalations(o.escalations, hist);
    ul.append(el('li', { testid: `open-intake-${o.id}` },
      el('strong', {}, `${o.status || ''} · level ${o.level || 1}`),
      ` · ${o.category || ''} · P${o.priority || '–'} · ${fmtTime(o.created_at)}`,
      el('p', { class: 'desc' }, o.description || o.title || ''),
      hist,
      el('button', { type: 'button', testid: `continue-${o.id}`, onclick: () => continueExisting(o.id) }, 'Continue this ticket')));
  }
}

function continueExisting(existingId) {
  if (!view.intake) return;
  const ref = send('continue_intake', { intake_id: view.intake.id, existing_id: existingId }, { kind: 'adopt' });
  if (ref) adoptNext = { ref, id: existingId };
}

function renderIntake() {
  const i = view.intake;
  $('intake').hidden = !i;
  $('idle').hidden = !!(i || view.call);
  if (!i) return;
  setText('intake-id', i.id);
  setText('intake-status', i.status);
  setText('intake-level', i.level);
  setText('intake-channel', i.channel);
  $('intake-category').value = i.category || 'unclassified';
  $('intake-priority').value = i.priority ? String(i.priority) : '';
  renderEscalations(i.escalations, $('escalation-history'));
  const done = ['resolved', 'escalated', 'closed'].includes(i.status);
  $('wrapup-btn').disabled = !done;
  $('return-btn').hidden = !(Number(i.level) > 1);
  if (i.solution && !$('resolve-solution').value) $('resolve-solution').value = i.solution;
  renderTargets();
}

function renderTargets() {
  const level = $('escalate-level').value;
  const list = (level === '3' ? view.lists.third_level : view.lists.second_level) || [];
  const sel = $('escalate-target');
  const keep = sel.value;
  sel.replaceChildren(...list.map((t) => el('option', { value: t }, t)));
  if (list.includes(keep)) sel.value = keep;
  $('case-ref-label').hidden = level !== '3';
}
$('escalate-level').addEventListener('change', renderTargets);

// ---- actions -------------------------------------------------------------------------------

$('resolve-btn').addEventListener('click', () => {
  const solution = $('resolve-solution').value.trim();
  if (!solution) { showError('Write the solution before resolving.'); $('resolve-solution').focus(); return; }
  flushSave();
  if (view.intake) send('resolve', { intake_id: view.intake.id, solution }, { kind: 'outcome' });
});

$('escalate-btn').addEventListener('click', () => {
  const reason = $('escalate-reason').value.trim();
  const target = $('escalate-target').value;
  if (!target) { showError('Choose the group or vendor.'); return; }
  if (!reason) { showError('Write the reason for the escalation.'); $('escalate-reason').focus(); return; }
  flushSave();
  const toLevel = Number($('escalate-level').value);
  const body = { intake_id: view.intake && view.intake.id, to_level: toLevel, target, reason };
  const caseRef = $('escalate-case-ref').value.trim();
  if (toLevel === 3 && caseRef) body.case_ref = caseRef;
  if (view.intake) send('escalate', body, { kind: 'outcome' });
});

$('return-btn').addEventListener('click', () => {
  const reason = $('escalate-reason').value.trim();
  if (!reason) { showError('Write the reason for the return.'); $('escalate-reason').focus(); return; }
  if (view.intake) send('return_intake', { intake_id: view.intake.id, reason }, { kind: 'outcome' });
});

$('wrapup-btn').addEventListener('click', () => send('wrapup_done', {}, { kind: 'wrapup' }));
$('btn-available').addEventListener('click', () => send('set_state', { state: 'available' }, { kind: 'state' }));
$('btn-not-ready').addEventListener('click', () => {
  const reason = $('notready-reason').value.trim();
  send('set_state', reason ? { state: 'not_ready', reason } : { state: 'not_ready' }, { kind: 'state' });
});

for (const [id, channel] of [['btn-new-email', 'email'], ['btn-new-desk', 'desk']]) {
  $(id).addEventListener('click', () => {
    const ref = send('open_intake', { channel }, { kind: 'adopt' });
    if (ref) adoptNext = { ref, id: null };
  });
}

$('btn-logout').addEventListener('click', async () => {
  flushSave();
  const r = await fetch('/api/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-Firstline-Csrf': '1' } });
  if (r.ok || r.status === 401) {
    sessionStorage.removeItem(RESUME_EPOCH);
    sessionStorage.removeItem(RESUME_SEQ);
    sessionStorage.removeItem(RESUME_VIEW);
    location.assign('/');
    return;
  }
  const body = await r.json().catch(() => ({}));
  showError(body.error || `logout failed (${r.status})`);
});

// Anything typed but not yet sent goes out before the page is left or reloaded.
window.addEventListener('pagehide', flushSave);

phone = createSoftphone({ showError });
restoreView();
renderAll();
feed = openFeed({ path: '/api/ws', status: $('conn-status'), hello: resumePoint, onFrame: handle });
phone.start();
