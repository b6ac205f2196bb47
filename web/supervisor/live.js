// firstline supervisor: the live view's figures: the day's tiles, the queues and the waiting
// callers (with their actions). Rendered from the model (model.js); waits tick between frames.

import { html } from '../ui.js';
import { t, fmtDuration, fmtNumber } from '../i18n.js';
import { model, num, sortedQueues, waitingCallers } from './model.js';
import { callerWords, languageWord, priorityWord, queueWord } from './words.js';
import { moveCaller, shiftPriority } from './actions.js';

const dash = (v) => (v === null || v === undefined ? t('none') : String(v));

/** Service level as a percentage in the page's language; a dash when undefined. */
export const percent = (v) => (num(v) === null ? t('none') : fmtNumber(v, { style: 'percent', maximumFractionDigits: 0 }));

function Tile({ label, testid, value, title, children, cls }) {
  return html`
    <div class=${`tile ${cls || ''}`} title=${title}>
      <span class="tile-label">${label}</span>
      <strong class="tile-value" data-testid=${testid}>${dash(value)}</strong>
      ${children}
    </div>`;
}

/** The day's figures (docs/supervisor.md, "today"). */
export function Tiles() {
  const d = model.today || {};
  const breach = !!d.breach;
  return html`
    <section class="tiles" aria-label=${t('tiles.heading')}>
      <div class=${`tile tile-sl${breach ? ' breach' : ''}`} data-testid="tile-service-level"
        data-breach=${breach ? 'true' : 'false'} title=${t('def.service_level', { s: d.threshold_s ?? '–' })}>
        <span class="tile-label">${t('tiles.service_level')}</span>
        <strong class="tile-value" data-testid="service-level">${percent(d.service_level)}</strong>
        <span class="tile-sub" data-testid="service-level-sub">
          ${t('tiles.within', { n: dash(num(d.answered_within_threshold)), s: d.threshold_s ?? '–' })}
          ${breach ? ` · ${t('tiles.below_target')}` : ''}
        </span>
      </div>
      <${Tile} label=${t('tiles.offered')} testid="today-offered" value=${num(d.offered)} title=${t('def.offered')} />
      <${Tile} label=${t('tiles.answered')} testid="today-answered" value=${num(d.answered)} title=${t('def.answered_live')} />
      <${Tile} label=${t('tiles.abandoned')} testid="today-abandoned" value=${num(d.abandoned)} title=${t('def.abandoned')} />
      <${Tile} label=${t('tiles.in_ivr')} testid="in-ivr" value=${num(model.in_ivr)} />
      <${Tile} label=${t('tiles.callbacks')} testid="callbacks-pending" value=${num(model.callbacks_pending)} />
      <${Tile} label=${t('tiles.voice_messages')} testid="voice-messages" value=${num(model.voice_messages_today)} />
    </section>`;
}

/** One queue: waiting (large), longest and estimated wait, waiting by priority. */
export function QueueCard({ q, now }) {
  const name = String(q.name);
  const waiting = num(q.waiting) ?? 0;
  const byPrio = q.by_priority || {};
  const longest = waiting > 0 ? fmtDuration((num(q.longest_wait_ms) ?? 0) + (now - model.queuesAt)) : t('none');
  const estimate = num(q.estimated_wait_ms) === null ? t('none') : fmtDuration(q.estimated_wait_ms);
  return html`
    <article class=${`queue-card${waiting > 0 ? ' busy' : ''}`} data-testid=${`queue-${name}`}>
      <h3>${queueWord(name)}</h3>
      <div class="queue-big">
        <strong class="tile-value" data-testid=${`queue-${name}-waiting`}>${waiting}</strong>
        <span class="tile-label">${t('queue.waiting', { count: waiting })}</span>
      </div>
      <dl>
        <dt>${t('queue.longest')}</dt><dd data-testid=${`queue-${name}-longest`}>${longest}</dd>
        <dt>${t('queue.estimate')}</dt><dd data-testid=${`queue-${name}-estimate`}>${estimate}</dd>
      </dl>
      <ol class="by-priority" aria-label=${t('queue.by_priority')}>
        ${['1', '2', '3', '4', '5'].map((p) => html`
          <li title=${priorityWord(Number(p))}>
            <span class="tile-label">${t('queue.prio_short', { n: p })} </span>
            <strong data-testid=${`queue-${name}-prio-${p}`}>${num(byPrio[p]) ?? 0}</strong>
          </li>`)}
      </ol>
    </article>`;
}

export function Queues({ now }) {
  return html`
    <section class="queues" aria-labelledby="queues-heading">
      <h2 id="queues-heading" class="sr-only">${t('queues.heading')}</h2>
      <div class="queue-cards" data-testid="queues">
        ${sortedQueues().map((q) => html`<${QueueCard} key=${q.name} q=${q} now=${now} />`)}
      </div>
    </section>`;
}

function CallerRow({ c, now, controls }) {
  const id = String(c.call_id);
  const prio = num(c.priority);
  const lang = languageWord(c.language);
  const waited = (num(c.waited_ms) ?? 0) + (now - model.queuesAt);
  return html`
    <tr data-testid="caller-row" data-call-id=${id} tabindex=${controls ? '0' : undefined} data-row="caller"
      class=${c.over_threshold ? 'over-threshold' : ''} data-over-threshold=${c.over_threshold ? 'true' : 'false'}>
      <td data-testid=${`caller-${id}-who`}>${callerWords(c.caller, c.customer)}
        ${lang && html` <span class="lang-badge">${lang}</span>`}</td>
      <td data-testid=${`caller-${id}-queue`} data-queue=${c.queue}>${queueWord(c.queue)}</td>
      <td data-testid=${`caller-${id}-priority`} data-priority=${prio ?? ''} title=${priorityWord(prio)}>
        ${controls || prio === null ? priorityWord(prio) : t('queue.prio_short', { n: prio })}</td>
      <td data-testid=${`caller-${id}-waited`} class="num">${fmtDuration(waited)}</td>
      ${controls && html`
        <td class="actions"><div>
          <button type="button" data-testid=${`prio-up-${id}`} title=${t('callers.raise_title')}
            aria-label=${t('callers.raise_title')} disabled=${prio === null || prio <= 1}
            onClick=${() => shiftPriority(c, -1)}>▲</button>
          <button type="button" data-testid=${`prio-down-${id}`} title=${t('callers.lower_title')}
            aria-label=${t('callers.lower_title')} disabled=${prio === null || prio >= 5}
            onClick=${() => shiftPriority(c, 1)}>▼</button>
          <button type="button" data-testid=${`move-${id}`} onClick=${() => moveCaller(c)}>${t('callers.move')}</button>
        </div></td>`}
    </tr>`;
}

/** The waiting callers of every queue, in service order; `limit` rows at most (the wallboard). */
export function Callers({ now, controls, limit }) {
  const all = waitingCallers();
  const shown = limit ? all.slice(0, limit) : all;
  const cols = controls ? 5 : 4;
  return html`
    <section class="panel callers-panel" aria-labelledby="callers-heading">
      <h2 id="callers-heading">${t('callers.heading')}</h2>
      <div class="scroll">
        <table class="grid" data-testid="callers-table">
          <thead><tr>
            <th scope="col">${t('callers.caller')}</th><th scope="col">${t('callers.queue')}</th>
            <th scope="col">${t('callers.priority')}</th><th scope="col">${t('callers.waited')}</th>
            ${controls && html`<th scope="col"><span class="sr-only">${t('callers.actions')}</span></th>`}
          </tr></thead>
          <tbody data-testid="callers">
            ${shown.map((c) => html`<${CallerRow} key=${c.call_id} c=${c} now=${now} controls=${controls} />`)}
            ${all.length === 0 && html`<tr><td colspan=${cols} class="muted">${t('callers.nobody')}</td></tr>`}
            ${all.length > shown.length && html`
              <tr><td colspan=${cols} class="muted" data-testid="callers-more">
                ${t('callers.more', { count: all.length - shown.length })}</td></tr>`}
          </tbody>
        </table>
      </div>
    </section>`;
}
