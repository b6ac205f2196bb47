// firstline desk: the server's codes in words for people. The IVR path, the DTMF modes, agent
// states and their reasons, outcomes: each becomes a sentence from the catalogue (t()), never
// an id or a code on screen.

import { t, has } from '../i18n.js';

/** `language:2>category:1>priority:timeout` → ["Language: pressed 2", …] (one step each). */
export function ivrSteps(path) {
  if (!path) return [];
  return String(path).split('>').filter(Boolean).map((step) => {
    const [menu, input = ''] = step.split(':');
    const menuName = has(`ivr.menu.${menu}`) ? t(`ivr.menu.${menu}`) : menu;
    let what;
    if (/^[0-9*#]$/.test(input)) what = t('ivr.pressed', { digit: input });
    else if (has(`ivr.input.${input}`)) what = t(`ivr.input.${input}`);
    else what = input;
    return t('ivr.step', { menu: menuName, what });
  });
}

/** `info,rfc4733` → "SIP INFO, RTP events (RFC 4733)". */
export function dtmfModes(modes) {
  if (!modes) return t('dtmf.none');
  return String(modes).split(',').filter(Boolean)
    .map((m) => (has(`dtmf.${m}`) ? t(`dtmf.${m}`) : m)).join(', ');
}

/** The agent's state in words. */
export const stateName = (state) => t(`state.${state || 'offline'}`);

/**
 * Why the agent is in their state, when there is a reason: the agent's own text as typed, or a
 * sentence for a system reason (`reason_code`). `null` when there is nothing to say.
 */
export function stateReason(agent) {
  if (!agent || agent.state !== 'not_ready') return null;
  const code = agent.reason_code;
  if (code && has(`reason.${code}`)) return t(`reason.${code}`);
  return agent.reason || null;
}

/** A longer explanation and what to do, for system reasons that need one. */
export function stateAdvice(agent) {
  if (!agent || agent.state !== 'not_ready' || !agent.reason_code) return null;
  const key = `reason.${agent.reason_code}.advice`;
  return has(key) ? t(key) : null;
}

/** The language badge: "Nederlands" / "English"; empty when unknown. */
export const languageName = (l) => (l ? t(`lang.${l}`) : '');

/** "Escalated to Applications ✓" / "Resolved ✓" / … for a finished intake. */
export function outcomeText(intake) {
  if (!intake) return '';
  if (intake.status === 'resolved') return t('outcome.resolved_done');
  if (intake.status === 'closed') {
    return intake.merged_into ? t('outcome.merged_done') : t('outcome.closed_done');
  }
  if (intake.status === 'escalated') {
    const last = (intake.escalations || [])[intake.escalations.length - 1];
    const target = intake.group || (last && last.target) || '';
    return intake.level >= 3 ? t('outcome.vendor_done', { target }) : t('outcome.escalated_done', { target });
  }
  return '';
}

/** One escalation-history line in words. */
export function historyLine(e) {
  const line = e.returned ? t('history.returned')
    : t('history.escalated', { from: t(`level.${e.from_level}`), to: t(`level.${e.to_level}`), target: e.target || '' });
  return e.agent_name ? t('history.by', { line, who: e.agent_name }) : line;
}

/** The short human number of an intake, else nothing (never the internal id). */
export const ticketNo = (i) => (i && i.ticket_no) || '';

/** A missed offer in words: "A call from … rang for 15 s and was passed on". */
export function missedText(m) {
  const who = m.customer_name || m.caller || t('caller.unknown_number');
  const secs = Math.round((Number(m.rang_ms) || 0) / 1000);
  const key = has(`missed.${m.reason}`) ? `missed.${m.reason}` : 'missed.no_answer';
  return t(key, { who, secs });
}
