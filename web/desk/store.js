// firstline desk: the one place the page's state lives. The WebSocket's frames go through
// model.applyFrame; a request over the socket (`request(type, body)`) resolves with the server's
// `ack` and rejects with its `error` frame ({ code, message }); every change notifies the view.
// A reloaded tab restores the state of its last numbered frame and resumes after it (the hello's
// epoch and last_seq), so nothing is lost and nothing is shown twice.

import { openFeed } from '../feed.js';
import { applyFrame, initialState, resumable } from './model.js';

const RESUME_EPOCH = 'firstline.epoch';
const RESUME_SEQ = 'firstline.seq';
const RESUME_VIEW = 'firstline.view';
/** How long a request waits for its ack before it counts as lost. */
const REQUEST_TIMEOUT_MS = 15000;

let state = initialState();
const listeners = new Set();
const frameListeners = new Set();
const pending = new Map(); // ref → { resolve, reject, timer }
let refCounter = 0;
let feed = null;
let snapshotSeq = null;

/** The current state. */
export const getState = () => state;

/** Replaces the state with `fn(state)` and re-renders. */
export function update(fn) {
  const next = fn(state);
  if (next === state) return;
  state = next;
  for (const l of listeners) l(state);
}

/** Calls `fn(state)` after every change; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Calls `fn(frame, state)` with every frame after it is applied; returns the unsubscribe. */
export function onFrameApplied(fn) {
  frameListeners.add(fn);
  return () => frameListeners.delete(fn);
}

/** The server's time now (epoch ms), corrected by the welcome's clock. */
export const serverNow = () => Date.now() + state.skew;

/**
 * Sends a client frame; resolves on its `ack`, rejects with `{ code, message }` on its `error`
 * (or `{ code: 'not_connected' }` when the socket is down).
 */
export function request(type, body = {}) {
  if (!feed || !feed.open) return Promise.reject({ code: 'not_connected', message: '' });
  const ref = `r${++refCounter}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(ref);
      reject({ code: 'timeout', message: '' });
    }, REQUEST_TIMEOUT_MS);
    pending.set(ref, { resolve, reject, timer });
    feed.send({ v: 1, type, ref, ...body });
  });
}

function settle(ref, ok, value) {
  const p = pending.get(ref);
  if (!p) return;
  pending.delete(ref);
  clearTimeout(p.timer);
  if (ok) p.resolve(value);
  else p.reject(value);
}

function onFrame(f) {
  if (f.type === 'ack' || f.type === 'pong') {
    settle(f.ref, true, f);
    return;
  }
  if (f.type === 'error') {
    settle(f.ref, false, { code: f.code || 'error', message: f.message || '' });
    return;
  }
  if (f.type === 'welcome') {
    sessionStorage.setItem(RESUME_EPOCH, String(f.epoch));
    // welcome.seq is the agent's latest frame; the snapshot that follows (unnumbered) is the
    // state as of that frame, so it becomes the resume point.
    snapshotSeq = f.resumed ? null : f.seq;
  }
  update((s) => applyFrame(s, f));
  for (const l of frameListeners) l(f, state);
  // A numbered snapshot (the hub's repair after missed events) is its own resume point.
  if (f.type === 'snapshot' && typeof f.seq !== 'number' && typeof snapshotSeq === 'number') remember(snapshotSeq);
  else if (typeof f.seq === 'number' && f.type !== 'welcome') remember(f.seq);
}

function remember(seq) {
  sessionStorage.setItem(RESUME_VIEW, JSON.stringify(resumable(state)));
  sessionStorage.setItem(RESUME_SEQ, String(seq));
}

function resumePoint() {
  const seq = sessionStorage.getItem(RESUME_SEQ);
  return { epoch: sessionStorage.getItem(RESUME_EPOCH), last_seq: seq === null ? null : Number(seq) };
}

/** After a reload: the state the last numbered frame left, if it belongs to the resume point. */
function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(RESUME_VIEW) || 'null');
    if (!saved || sessionStorage.getItem(RESUME_SEQ) === null) throw new Error('nothing to resume');
    state = { ...state, ...saved };
  } catch (_) {
    forgetResume();
  }
}

/** Drops the stored resume point (log-out, another agent). */
export function forgetResume() {
  sessionStorage.removeItem(RESUME_SEQ);
  sessionStorage.removeItem(RESUME_VIEW);
  sessionStorage.removeItem(RESUME_EPOCH);
}

/** Restores a reloaded tab's state and opens the desk's WebSocket. */
export function connect() {
  restore();
  feed = openFeed({
    path: '/api/ws',
    hello: resumePoint,
    onFrame,
    onStatus: (kind) => update((s) => ({ ...s, conn: kind })),
  });
}
