// firstline supervisor: the live model the page renders from. One WebSocket
// (/api/supervisor/ws, docs/supervisor.md): a snapshot, then `update` frames carrying only the
// top-level keys that changed (`agents` by id, `queues` by name); resumes after a reconnect or a
// reload from the last `seq` (the model as of that frame is kept in sessionStorage).

const RESUME_EPOCH = 'firstline.sup.epoch';
const RESUME_SEQ = 'firstline.sup.seq';
// The model as of RESUME_SEQ, so that a reloaded page resumes instead of asking for a snapshot.
const RESUME_VIEW = 'firstline.sup.view';
// The top-level keys of `snapshot`; an `update` carries any of them, each replacing the old value,
// except `agents` and `queues`, which carry only the changed agents (by id) and queues (by name).
const KEYS = ['queues', 'in_ivr', 'agents', 'today', 'callbacks_pending', 'voice_messages_today',
  'escalations_today'];
/** The queues in the order the page shows them. */
export const QUEUES = ['hardware', 'software', 'service', 'unclassified'];
/** The agent states in the order the page counts them. */
export const STATES = ['available', 'ringing', 'on_call', 'wrap_up', 'not_ready', 'offline'];
// How many callers the page remembers by call id (to name a call after it left the queue).
const KNOWN_CALLS = 500;

export const model = {
  queues: [],
  in_ivr: null,
  agents: [],
  today: null,
  callbacks_pending: null,
  voice_messages_today: null,
  escalations_today: [],
  // Date.now() when `queues` arrived: waits tick on from there.
  queuesAt: Date.now(),
  // The server's clock minus ours (from welcome.server_time when sent), for times in state.
  clockOffset: 0,
  // call id → { caller, customer } of callers seen waiting (a call is named, never shown by id).
  calls: {},
  // The signed-in supervisor (`{ id, name }`), who is not in the feed's agents.
  me: null,
};
let lastSeq = null;
let snapshotSeq = null;
const listeners = new Set();

/** Calls `fn` after every change of the model; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed() {
  for (const fn of listeners) fn();
}

export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The queues, in QUEUES order (unknown names last). */
export function sortedQueues() {
  const rank = (q) => {
    const i = QUEUES.indexOf(q.name);
    return i < 0 ? QUEUES.length : i;
  };
  return [...(Array.isArray(model.queues) ? model.queues : [])].sort((a, b) => rank(a) - rank(b));
}

/** Every waiting caller with their queue, in service order per queue. */
export function waitingCallers() {
  return sortedQueues().flatMap((q) => (Array.isArray(q.callers) ? q.callers : [])
    .map((c) => ({ ...c, queue: String(q.name) })));
}

/** The agents by name (rows keep their place while states change). */
export function sortedAgents() {
  return [...(Array.isArray(model.agents) ? model.agents : [])]
    .sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id)));
}

/** The agent with this id, if the feed knows them. */
export const agentById = (id) => (Array.isArray(model.agents) ? model.agents : []).find((a) => a.id === id);

/** Handles one frame of the feed. `onError(message)` gets the server's error frames. */
export function handleFrame(f, onError) {
  switch (f.type) {
    case 'welcome':
      sessionStorage.setItem(RESUME_EPOCH, String(f.epoch));
      // Not resumed: a snapshot follows; it is the state as of welcome.seq.
      snapshotSeq = f.resumed ? null : num(f.seq);
      if (num(f.server_time) !== null) model.clockOffset = f.server_time - Date.now();
      onError('');
      return;
    case 'snapshot':
      for (const k of KEYS) model[k] = k in f ? f[k] : (Array.isArray(model[k]) ? [] : null);
      model.queuesAt = Date.now();
      learnCalls();
      remember(num(f.seq) ?? snapshotSeq);
      changed();
      return;
    case 'update':
      for (const k of KEYS) {
        if (!(k in f)) continue;
        if (k === 'agents') model.agents = mergeBy(model.agents, f.agents, 'id');
        else if (k === 'queues') model.queues = mergeBy(model.queues, f.queues, 'name');
        else model[k] = f[k];
      }
      if ('queues' in f) model.queuesAt = Date.now();
      learnCalls();
      remember(num(f.seq));
      changed();
      return;
    case 'error':
      onError(`${f.code || 'error'}: ${f.message || ''}`);
      return;
    default:
      // pong and frames of a later version: a numbered one still moves the resume point.
      if (num(f.seq) !== null) remember(f.seq);
  }
}

/** `old` with every element of `changed` replacing (or joining) the one with the same `key`. */
function mergeBy(old, changedItems, key) {
  const out = Array.isArray(old) ? old.slice() : [];
  for (const item of Array.isArray(changedItems) ? changedItems : []) {
    const i = out.findIndex((o) => o[key] === item[key]);
    if (i >= 0) out[i] = item; else out.push(item);
  }
  return out;
}

/** Remembers who each waiting (or wrapped-up) call is, to name it later. */
function learnCalls() {
  for (const c of waitingCallers()) {
    model.calls[String(c.call_id)] = { caller: c.caller || null, customer: c.customer || null };
  }
  for (const a of Array.isArray(model.agents) ? model.agents : []) {
    if (a.call_id && (a.caller || a.customer_name)) {
      model.calls[String(a.call_id)] = { caller: a.caller || null, customer: a.customer_name || null };
    }
  }
  const ids = Object.keys(model.calls);
  for (const id of ids.slice(0, Math.max(0, ids.length - KNOWN_CALLS))) delete model.calls[id];
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
export function restore() {
  try {
    const seq = sessionStorage.getItem(RESUME_SEQ);
    const saved = JSON.parse(sessionStorage.getItem(RESUME_VIEW) || 'null');
    if (seq === null || !saved) throw new Error('nothing to resume');
    Object.assign(model, saved, { me: model.me });
    lastSeq = Number(seq);
  } catch (_) {
    forgetResume();
  }
}

/** The hello's resume point. */
export const resumePoint = () => ({ epoch: sessionStorage.getItem(RESUME_EPOCH), last_seq: lastSeq });

/** Drops the resume point (at logout). */
export function forgetResume() {
  lastSeq = null;
  sessionStorage.removeItem(RESUME_SEQ);
  sessionStorage.removeItem(RESUME_VIEW);
}

/** Drops the epoch too (at logout). */
export function forgetEpoch() {
  sessionStorage.removeItem(RESUME_EPOCH);
  forgetResume();
}

/** The server's time now, as far as the page knows it. */
export const serverNow = () => Date.now() + model.clockOffset;
