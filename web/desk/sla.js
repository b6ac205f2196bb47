// firstline desk: an intake's SLA timers as two badges (response, resolution): due time, and
// warning, breached, paused, met or met late. The server evaluates them when it sends the
// intake; a running timer whose due time has passed since shows as breached without a reload.

import { html } from '../ui.js';
import { fmtDateTime, t } from '../i18n.js';
import { useNow } from './hooks.js';

/** The state of `timer` now: a running or warning timer past its due time is breached. */
export function timerState(timer, now) {
  if (!timer) return null;
  const running = timer.state === 'running' || timer.state === 'warning';
  return running && timer.due_at !== null && now > timer.due_at ? 'breached' : timer.state;
}

/** The resolution timer of a list row, while the intake is open (nothing once met). */
export function RowSla({ sla }) {
  const now = useNow(30000);
  if (!sla) return null;
  const state = timerState(sla.resolution, now);
  if (state === 'met' || state === 'met_late') return null;
  const due = sla.resolution.due_at !== null ? fmtDateTime(sla.resolution.due_at) : '';
  return html`<span class=${`badge sla-${state}`} data-testid="row-sla" data-state=${state}>
    ${t(`sla.state.${state}`, { due })}</span>`;
}

export function SlaBadges({ sla }) {
  const now = useNow(15000);
  if (!sla) return null;
  return html`
    <span class="sla" data-testid="intake-sla">
      ${['response', 'resolution'].map((which) => {
        const timer = sla[which];
        const state = timerState(timer, now);
        const due = timer.due_at !== null ? fmtDateTime(timer.due_at) : '';
        return html`<span class=${`badge sla-${state}`} data-testid=${`sla-${which}`} data-state=${state}
          data-due=${timer.due_at === null ? '' : String(timer.due_at)}
          title=${t(`sla.${which}`)}>${t(`sla.${which}_short`)}: ${t(`sla.state.${state}`, { due })}</span>`;
      })}
    </span>`;
}
