// firstline supervisor: the feed's values in words for people (no I/O, no DOM). Agents by name,
// callers by customer and number, states and their reasons, registration, call quality, and the
// supervisors' recent actions (the audit rows) as sentences. Every word comes from the catalogue.

import { t, has, fmtNumber } from '../i18n.js';
import { agentById, model, num, QUEUES } from './model.js';

// The not-ready reasons the engine wrote as text before the feed sent `reason_code`.
const LEGACY_REASONS = { 'no answer': 'no_answer', rejected: 'rejected', unreachable: 'unreachable' };

/** An agent's display name: the feed's, else a word (never the id). */
export function agentName(a) {
  return (a && a.name) ? String(a.name) : t('agent.unnamed');
}

/** The state in words (`state.on_call` → "on a call"). */
export function stateWord(state) {
  return has(`state.${state}`) ? t(`state.${state}`) : t('state.unknown');
}

/**
 * Why the agent is in their state, or null. Only a not-ready agent has a reason: the agent's own
 * text (`reason_code` null), else the code in words ("did not answer a call").
 */
export function reasonWords(a) {
  if (!a || a.state !== 'not_ready') return null;
  const text = a.reason ? String(a.reason) : '';
  let code = 'reason_code' in a ? a.reason_code : (LEGACY_REASONS[text] || null);
  if (code === null || code === undefined) return text || null;
  code = String(code);
  const word = has(`reason.${code}`) ? t(`reason.${code}`) : null;
  // A supervisor's own words stay with the code ("set by a supervisor: lunch").
  const own = text && text !== code && !LEGACY_REASONS[text] && text !== 'supervisor' ? text : null;
  if (word && own) return t('reason.with_text', { reason: word, text: own });
  return word || own || t('reason.other');
}

/** A caller as people say it: "Anouk de Vries · +31201234567", the number, or "unknown number". */
export function callerWords(caller, customer) {
  if (customer && caller) return t('caller.customer_and_number', { customer, number: caller });
  if (customer) return String(customer);
  if (caller) return String(caller);
  return t('caller.unknown_number');
}

/** The call an agent is on (or wrapping up), in words; null when none. */
export function agentCallWords(a) {
  if (!a || !a.call_id) return null;
  const known = model.calls[String(a.call_id)] || {};
  const caller = a.caller || known.caller || null;
  const customer = a.customer_name || a.customer || known.customer || null;
  return caller || customer ? callerWords(caller, customer) : t('call.a_call');
}

/** A queue's name in words. */
export const queueWord = (q) => (QUEUES.includes(q) ? t(`category.${q}`) : t('category.unclassified'));

/** A priority (1..5) in words; "no priority" otherwise. */
export function priorityWord(p) {
  const n = num(p);
  return n !== null && n >= 1 && n <= 5 ? t(`priority.${n}`) : t('priority.none');
}

/** A language code (`nl`) as its name ("Nederlands"); null when unknown. */
export const languageWord = (code) => (code && has(`lang.${code}`) ? t(`lang.${code}`) : null);

/**
 * How a phone agent's phone is doing, or null for a browser agent / when the feed does not say:
 * `{ text, warn, testid }`. Not registered and not offered calls are said plainly.
 */
export function registrationWords(a) {
  if (!a || a.device === 'browser') return null;
  const notes = [];
  if (a.registered === false) notes.push(t('phone.not_registered'));
  else if (a.registered === true) {
    notes.push(a.transport ? t('phone.registered_over', { transport: String(a.transport).toUpperCase() })
      : t('phone.registered'));
  }
  if (a.reachable === false && a.state !== 'offline') notes.push(t('phone.not_offered'));
  if (notes.length === 0) return null;
  return { text: notes.join(' · '), warn: a.registered === false || a.reachable === false };
}

/** The device an agent answers on, in words. */
export const deviceWord = (d) => (d === 'browser' ? t('device.browser') : t('device.phone'));

// Call quality (docs/supervisor.md): the worst figure of the server's and the browser's latest
// samples; warn past 3 % loss, 30 ms jitter or 300 ms round trip.
const QUALITY_WARN = { loss_pct: 3, jitter_ms: 30, rtt_ms: 300 };

function qualityText(loss, jitter, rtt) {
  const part = (key, v, digits) => t(key, { value: v === null ? '–' : fmtNumber(v, {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }) });
  return [part('quality.loss', loss, 1), part('quality.jitter', jitter, 0), part('quality.rtt', rtt, 0)].join(' · ');
}

/** The quality of an agent's call: `{ text, detail, warn }`, or null when nothing was measured. */
export function qualityWords(quality) {
  const samples = ['server', 'browser'].map((k) => (quality && quality[k] ? quality[k] : null)).filter(Boolean);
  if (samples.length === 0) return null;
  const worst = (key) => samples.reduce((m, q) => {
    const v = num(q[key]);
    return v === null ? m : (m === null ? v : Math.max(m, v));
  }, null);
  const [loss, jitter, rtt] = ['loss_pct', 'jitter_ms', 'rtt_ms'].map(worst);
  const warn = (loss !== null && loss > QUALITY_WARN.loss_pct)
    || (jitter !== null && jitter > QUALITY_WARN.jitter_ms)
    || (rtt !== null && rtt > QUALITY_WARN.rtt_ms);
  const detail = samples.map((q) => `${has(`quality.source.${q.source}`) ? t(`quality.source.${q.source}`) : q.source}: `
    + qualityText(num(q.loss_pct), num(q.jitter_ms), num(q.rtt_ms))).join('\n');
  return { text: qualityText(loss, jitter, rtt), detail, warn };
}

// ---- the audit as sentences ----------------------------------------------------------------

const CALL_ACTIONS = ['call_priority', 'call_queue'];

function actorOf(row) {
  if (row.actor_name) return String(row.actor_name);
  if (model.me && row.actor === model.me.id && model.me.name) return String(model.me.name);
  const a = agentById(row.actor);
  return a && a.name ? String(a.name) : t('audit.someone');
}

function targetOf(row) {
  if (row.target_name) return String(row.target_name);
  if (CALL_ACTIONS.includes(row.action)) {
    const c = model.calls[String(row.target)];
    return c && (c.caller || c.customer) ? callerWords(c.caller, c.customer) : t('audit.a_caller');
  }
  const a = agentById(row.target);
  return a && a.name ? String(a.name) : t('audit.an_agent');
}

/** One audit row (`{at, actor, action, target, details, actor_name?, target_name?}`) as a sentence. */
export function auditSentence(row) {
  const d = row.details && typeof row.details === 'object' ? row.details : {};
  const vars = { actor: actorOf(row), target: targetOf(row) };
  switch (row.action) {
    case 'agent_not_ready':
      return d.reason ? t('audit.agent_not_ready', { ...vars, reason: String(d.reason) })
        : t('audit.agent_not_ready_plain', vars);
    case 'agent_logout':
      return t('audit.agent_logout', vars);
    case 'call_priority':
      return t('audit.call_priority', { ...vars, from: d.from ?? '–', to: d.to ?? '–' });
    case 'call_queue':
      return t('audit.call_queue', { ...vars, from: queueWord(d.from), to: queueWord(d.to) });
    case 'agent_device':
      return t('audit.agent_device', { ...vars, to: deviceWord(d.to) });
    default:
      return t('audit.other', vars);
  }
}
