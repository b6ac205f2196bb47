// firstline desk: what the agent's buttons do. Each operation goes to the server (the desk
// WebSocket for everything that changes state, so every tab of the agent gets the same frames;
// REST for reading lists) and resolves when the server applied it. A refusal becomes a message
// in the agent's language, tied to what it was about, so it goes away with its cause.

import { api } from '../ui.js';
import { loadLanguage, t, has } from '../i18n.js';
import { addBanner, dropBanner } from './model.js';
import { forgetResume, getState, onFrameApplied, request, update } from './store.js';
import { createSoftphone } from './softphone.js';

/** The catalogue files the desk uses. */
export const PARTS = ['common', 'desk'];

/** A refused request in words: the catalogue's message for its code (and action, if known). */
export function errorText(err, action = '') {
  const code = (err && err.code) || (err && err.status === 409 ? 'conflict' : err && err.status === 403 ? 'forbidden'
    : err && err.status === 404 ? 'not_found' : err && err.status === 422 ? 'invalid' : 'internal');
  if (action && has(`error.${action}.${code}`)) return t(`error.${action}.${code}`);
  if (has(`error.code.${code}`)) return t(`error.code.${code}`);
  return t('error.code.internal');
}

/** The softphone (browser device); its state changes re-render the desk. */
export const phone = createSoftphone({
  onError: (what, e) => update((s) => addBanner(s, `phone-${what}`, `${t(`phone.error.${what}`)} ${errorText(e)}`,
    { kind: 'phone' })),
  onChange: () => update((s) => ({ ...s, phoneRev: (s.phoneRev || 0) + 1 })),
});

onFrameApplied((f) => {
  if (f.type === 'pop') phone.hooks.onPop(f);
  else if (f.type === 'snapshot') {
    if (f.agent && f.agent.device) phone.hooks.onDevice(f.agent.device);
    if (f.device && f.device.device) phone.hooks.onDevice(f.device.device);
    if (f.call) phone.hooks.onPop(f.call);
  } else if (f.type === 'device' && f.device) phone.hooks.onDevice(f.device);
  else if (f.type === 'call_ended' || f.type === 'offer_withdrawn') phone.hooks.onCallEnded(f.call_id);
  else if (f.type === 'call_held') phone.hooks.onHeld(f);
});

/** Shows `view` in the workspace ({ kind: 'call' | 'intake' | 'search' | … }). */
export function show(view) {
  update((s) => ({ ...s, view }));
}

/** Opens the intake `id` in the workspace (the call's own intake shows the call). */
export function openIntake(id) {
  const s = getState();
  const callIntakeId = s.call && (s.call.intake_id || (s.call.intake && s.call.intake.id));
  show(id === callIntakeId ? { kind: 'call' } : { kind: 'intake', id });
}

/** Remembers an intake the API returned, so the workspace can show it. */
export function keepIntake(intake) {
  if (!intake || !intake.id) return;
  update((s) => ({ ...s, intakes: { ...s.intakes, [intake.id]: { ...(s.intakes[intake.id] || {}), ...intake } } }));
}

/** Fetches one intake (with notes and history) and keeps it. */
export async function loadIntake(id) {
  const { json } = await api('GET', `/api/intakes/${encodeURIComponent(id)}`);
  keepIntake(json);
  return json;
}

// ---- the agent's state -----------------------------------------------------------------------

async function stateRequest(type, body, action) {
  try {
    await request(type, body);
    update((s) => dropBanner(s, 'state'));
  } catch (e) {
    const s = getState();
    const intakeId = s.call && (s.call.intake_id || (s.call.intake && s.call.intake.id));
    // "Choose an outcome first" is about the call's intake: it goes once that has its outcome.
    const scope = e.code === 'conflict' && intakeId ? { kind: 'state', intakeId, untilFinal: true } : { kind: 'state' };
    update((st) => addBanner(st, 'state', errorText(e, action), scope));
  }
}

export const setAvailable = () => stateRequest('set_state', { state: 'available' }, 'available');
export const setNotReady = (reason) => stateRequest('set_state',
  reason ? { state: 'not_ready', reason } : { state: 'not_ready' }, 'not_ready');
export const wrapupDone = () => stateRequest('wrapup_done', {}, 'wrapup');

/** Answer on the desk phone or in this browser. */
export async function setDevice(device) {
  try {
    await phone.actions.setDevice(device);
    update((s) => dropBanner(s, 'device'));
  } catch (e) {
    update((s) => addBanner(s, 'device', errorText(e, 'device'), { kind: 'device' }));
  }
}

/** Shows the desk in `lang`; the choice is stored with the agent. */
export async function switchLanguage(lang) {
  await loadLanguage(lang, PARTS);
  update((s) => ({ ...s, me: { ...s.me, agent: { ...s.me.agent, language: lang } } }));
  api('PUT', '/api/agents/me/language', { language: lang }).catch(() => {});
}

/** Signs out (refused while on a call: the message says so). */
/**
 * Logs out. A specialist who still owns open intakes is told so first (they stay theirs while
 * they are away) and logs out with `force`; nothing is released behind their back.
 */
export async function logout({ force = false } = {}) {
  if (!force) {
    try {
      const { json, headers } = await api('GET', '/api/intakes?owner=me&status=open,escalated&limit=5');
      const total = Number((headers && headers.get('x-total-count')) || (json || []).length);
      if (total > 0) {
        update((s) => ({ ...s, logoutCheck: { total, intakes: json || [] } }));
        return;
      }
    } catch (_) { /* cannot tell: log out as asked */ }
  }
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    if (e.status !== 401) {
      update((s) => addBanner(s, 'logout', errorText(e, 'logout'), { kind: 'state' }));
      return;
    }
  }
  forgetResume();
  location.assign('/');
}

export const stayLoggedIn = () => update((s) => ({ ...s, logoutCheck: null }));

export function dismissMissed(callId) {
  update((s) => ({ ...s, missed: s.missed.filter((m) => m.call_id !== callId) }));
}

export function dismissBanner(id) {
  update((s) => dropBanner(s, id));
}

// ---- intakes ---------------------------------------------------------------------------------

/** Saves typed fields of an intake (`title`, `description`, `category`, `priority`). */
export const saveFields = (intakeId, fields) => request('intake_update', { intake_id: intakeId, fields });

export const resolve = (intakeId, solution) => request('resolve', { intake_id: intakeId, solution });

export function escalate(intakeId, toLevel, target, reason, caseRef) {
  const body = { intake_id: intakeId, to_level: toLevel, target, reason };
  if (toLevel === 3 && caseRef) body.case_ref = caseRef;
  return request('escalate', body);
}

export const returnToFirst = (intakeId, reason) => request('return_intake', { intake_id: intakeId, reason });
export const reopen = (intakeId, reason) => request('reopen', { intake_id: intakeId, reason });
export const claim = (intakeId, force = false) => request('claim', force ? { intake_id: intakeId, force } : { intake_id: intakeId });
export const release = (intakeId) => request('release', { intake_id: intakeId });
/** The agent's due vendor follow-ups (after a reload; new ones come as `follow_up` frames). */
export async function loadFollowUps() {
  try {
    const { json } = await api('GET', '/api/me/follow-ups');
    const due = (json || []).map((c) => ({ case_id: c.id, intake_id: c.intake_id, ticket_no: c.ticket_no,
      vendor: c.vendor, case_ref: c.case_ref, follow_up_at: c.follow_up_at }));
    update((s) => ({ ...s, followUps: [...s.followUps, ...due.filter((d) => !s.followUps.some((x) => x.case_id === d.case_id))] }));
  } catch (_) { /* the frames still come */ }
}

export const dismissFollowUp = (caseId) => update((s) => ({ ...s, followUps: s.followUps.filter((x) => x.case_id !== caseId) }));

/** Updates a vendor case (`case_ref`, `contact`, `promised_at`, `follow_up_at`, `answer`). */
export async function editVendorCase(caseId, fields) {
  const { json } = await api('PATCH', `/api/vendor-cases/${encodeURIComponent(caseId)}`, fields);
  keepIntake(json);
  return json;
}

/** Moves an escalated intake to another second-level group. */
export async function reassign(intakeId, group, reason) {
  const { json } = await api('POST', `/api/intakes/${encodeURIComponent(intakeId)}/reassign`, { group, reason });
  keepIntake(json);
  return json;
}

/** Closes a vendor case with its outcome; the intake goes back to its owner. */
export async function closeVendorCase(caseId, outcome) {
  const { json } = await api('POST', `/api/vendor-cases/${encodeURIComponent(caseId)}/close`, { outcome });
  keepIntake(json);
  dismissFollowUp(caseId);
  return json;
}

/** What the owner does with an escalated intake: `in_progress`, `waiting_customer`, `waiting_vendor`. */
export const setWorkState = (intakeId, state, reason = '') => request('set_work_state', { intake_id: intakeId, state, reason });
/** Tells the server which intake the workspace shows (null: none), so others' changes come live. */
export const watch = (intakeId) => request('watch', { intake_id: intakeId }).catch(() => {});
export const addNote = (intakeId, body) => request('add_note', { intake_id: intakeId, body });
export const continueIntake = (intakeId, existingId) => request('continue_intake', { intake_id: intakeId, existing_id: existingId });
export const linkCustomer = (intakeId, customerId) => request('link_customer', { intake_id: intakeId, customer_id: customerId });
export const createCustomer = (intakeId, fields) => request('create_customer', { intake_id: intakeId, fields });

/** Opens a new intake by hand (`email` or `desk`) and shows it once the server has it. */
export async function openManual(channel) {
  const known = new Set(Object.keys(getState().intakes));
  // The new intake's frame may come just before or after the ack: listen before sending.
  let off = () => {};
  const fresh = new Promise((resolve) => {
    off = onFrameApplied((f) => {
      if (f.type === 'intake' && !known.has(f.id) && f.channel === channel) resolve(f.id);
    });
  });
  try {
    await request('open_intake', { channel });
    const id = await Promise.race([fresh, new Promise((r) => setTimeout(() => r(null), 5000))]);
    if (id) show({ kind: 'intake', id });
  } catch (e) {
    update((s) => addBanner(s, 'open', errorText(e), {}));
  } finally {
    off();
  }
}
