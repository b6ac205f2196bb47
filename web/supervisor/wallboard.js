// firstline supervisor: the wallboard (`?wallboard=1`): one wall screen, readable from across the
// room, no controls. The day's tiles, the four queues, every agent as a tile filled with their
// state's colour, and the longest-waiting callers. Same model and words as the live view.

import { html } from '../ui.js';
import { t, fmtDuration } from '../i18n.js';
import { num, serverNow, sortedAgents, sortedQueues } from './model.js';
import { agentCallWords, agentName, reasonWords, registrationWords, stateWord } from './words.js';
import { Callers, QueueCard, Tiles } from './live.js';
import { StateCounts } from './agents.js';

// Waiting callers listed on the wall (the rest are counted in one line).
const WALL_CALLERS = 8;

function AgentTile({ a }) {
  const id = String(a.id);
  const state = String(a.state || 'offline');
  const since = num(a.since);
  const reason = reasonWords(a);
  const call = agentCallWords(a);
  const phone = registrationWords(a);
  return html`
    <li class=${`agent-tile state-${state}`} data-testid="agent-row" data-agent-id=${id} data-state=${state}>
      <span class="agent-tile-name">${agentName(a)}</span>
      <span class="agent-tile-state" data-testid=${`agent-${id}-state`}>${stateWord(state)}</span>
      <span class="agent-tile-since" data-testid=${`agent-${id}-since`}>${since === null ? '' : fmtDuration(serverNow() - since)}</span>
      <span class="agent-tile-detail">
        ${reason && html`<span data-testid=${`agent-${id}-reason`}>${reason}</span>`}
        ${call && html`<span data-testid=${`agent-${id}-call`} data-call-id=${a.call_id}>${call}</span>`}
        ${phone && phone.warn && html`<span data-testid="agent-phone">${phone.text}</span>`}
      </span>
    </li>`;
}

export function Wallboard({ now }) {
  const agents = sortedAgents();
  return html`
    <main class="wall" data-testid="wallboard">
      <${Tiles} />
      <section class="wall-queues" aria-label=${t('queues.heading')} data-testid="queues">
        ${sortedQueues().map((q) => html`<${QueueCard} key=${q.name} q=${q} now=${now} />`)}
      </section>
      <div class="wall-bottom">
        <section class="panel wall-agents" aria-labelledby="wall-agents-heading">
          <div class="panel-head">
            <h2 id="wall-agents-heading">${t('agents.heading')}</h2>
            <${StateCounts} />
          </div>
          <ul class="agent-tiles" data-testid="agents">
            ${agents.map((a) => html`<${AgentTile} key=${a.id} a=${a} />`)}
            ${agents.length === 0 && html`<li class="muted">${t('agents.none')}</li>`}
          </ul>
        </section>
        <${Callers} now=${now} controls=${false} limit=${WALL_CALLERS} />
      </div>
    </main>`;
}
