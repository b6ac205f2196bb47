// firstline supervisor: the reports' tables and charts, from the bodies of GET /api/reports/daily
// and GET /api/reports/agents (docs/api.md; definitions in docs/schema.md, "Derived measures").
// Every figure is shown as the server computed it; only the range's totals are summed here.

import { html } from '../ui.js';
import { t, fmtDuration, fmtNumber, language, LANGUAGES } from '../i18n.js';
import { num } from './model.js';
import { queueWord, stateWord } from './words.js';
import { percent } from './live.js';
import { StackedBars } from './charts.js';

const int = (v) => (num(v) === null ? t('none') : fmtNumber(v));
const dur = (v) => (num(v) === null ? t('none') : fmtDuration(v));
/** Other outcomes of offered calls: a callback, a voice message, or the maximum wait. */
const others = (f) => (num(f.callbacks) ?? 0) + (num(f.voice_messages) ?? 0) + (num(f.max_wait) ?? 0);
const esc = (f, level) => (f.escalations && num(f.escalations[level])) ?? 0;

/** An ISO day (`2026-12-01`) as the language writes it ("1 dec. 2026"). */
export function dayWords(iso) {
  const ms = Date.parse(`${iso}T00:00:00Z`);
  if (Number.isNaN(ms)) return iso;
  return new Intl.DateTimeFormat(LANGUAGES[language()], { dateStyle: 'medium', timeZone: 'UTC' }).format(ms);
}

/** The counted figures of several days (or queues) together, service level from the sums. */
export function sumFigures(list) {
  const keys = ['offered', 'answered', 'answered_within_threshold', 'abandoned', 'abandoned_after_threshold',
    'callbacks', 'voice_messages', 'max_wait'];
  const out = Object.fromEntries(keys.map((k) => [k, 0]));
  out.escalations = { 2: 0, 3: 0 };
  for (const f of list) {
    for (const k of keys) out[k] += num(f[k]) ?? 0;
    out.escalations[2] += esc(f, '2');
    out.escalations[3] += esc(f, '3');
  }
  const denominator = out.answered + out.abandoned_after_threshold;
  out.service_level = denominator > 0 ? out.answered_within_threshold / denominator : null;
  return out;
}

/** The cells of one row of figures; each carries `data-col` (the tests read them by name). */
function FigureCells({ f, averages, calls }) {
  const cell = (col, text, title) => html`<td class="num" data-col=${col} title=${title}>${text}</td>`;
  return html`
    ${calls !== undefined && cell('calls', int(calls), t('report.calls_title'))}
    ${cell('offered', int(f.offered))}
    ${cell('answered', int(f.answered))}
    ${cell('abandoned', int(f.abandoned))}
    ${cell('other', int(others(f)), t('report.other_title', {
      callbacks: num(f.callbacks) ?? 0, voice: num(f.voice_messages) ?? 0, max_wait: num(f.max_wait) ?? 0 }))}
    ${cell('service_level', percent(f.service_level))}
    ${cell('avg_wait', averages ? dur(f.avg_wait_ms) : t('none'))}
    ${cell('p90_wait', averages ? dur(f.p90_wait_ms) : t('none'))}
    ${cell('avg_handle', averages ? dur(f.avg_handle_ms) : t('none'))}
    ${cell('esc_2', int(esc(f, '2')))}
    ${cell('esc_3', int(esc(f, '3')))}`;
}

function FigureHead({ first, withCalls }) {
  return html`
    <thead><tr>
      <th scope="col">${first}</th>
      ${withCalls && html`<th scope="col" class="num" title=${t('report.calls_title')}>${t('report.calls')}</th>`}
      <th scope="col" class="num">${t('report.offered')}</th><th scope="col" class="num">${t('report.answered')}</th>
      <th scope="col" class="num">${t('report.abandoned')}</th><th scope="col" class="num">${t('report.other')}</th>
      <th scope="col" class="num">${t('report.service_level')}</th><th scope="col" class="num">${t('report.avg_wait')}</th>
      <th scope="col" class="num">${t('report.p90_wait')}</th><th scope="col" class="num">${t('report.avg_handle')}</th>
      <th scope="col" class="num">${t('report.esc_2')}</th><th scope="col" class="num">${t('report.esc_3')}</th>
    </tr></thead>`;
}

const OUTCOMES = ['answered', 'abandoned', 'other', 'open'];

/** Offered calls per row as bars: answered, abandoned, other outcomes, not ended yet. */
function OutcomeBars({ rows, title, testid }) {
  const legend = OUTCOMES.map((key) => ({ key, label: t(`report.seg.${key}`) }));
  const bars = rows.map(({ key, label, f }) => {
    const answered = num(f.answered) ?? 0;
    const abandoned = num(f.abandoned) ?? 0;
    const other = others(f);
    const open = Math.max(0, (num(f.offered) ?? 0) - answered - abandoned - other);
    const values = { answered, abandoned, other, open };
    return { key, label, segments: OUTCOMES.map((k) => ({ key: k, value: values[k], label: t(`report.seg.${k}`) })) };
  });
  return html`<${StackedBars} rows=${bars} format=${(v) => fmtNumber(v)} legend=${legend} title=${title} testid=${testid} />`;
}

/** The days of the range (all queues together) with a total row, and a chart of them. */
export function DaysTable({ daily }) {
  const days = Array.isArray(daily.days) ? daily.days : [];
  const total = sumFigures(days.map((d) => d.all || {}));
  const rows = days.map((d) => ({ key: d.date, label: dayWords(d.date), f: d.all || {} }));
  return html`
    <${OutcomeBars} rows=${rows} title=${t('report.chart_days')} testid="report-days-chart" />
    <div class="scroll-x">
      <table class="grid report" data-testid="report-days">
        <${FigureHead} first=${t('report.day')} withCalls=${true} />
        <tbody>
          ${days.map((d) => html`
            <tr data-testid=${`report-day-${d.date}`}>
              <th scope="row">${dayWords(d.date)}</th>
              <${FigureCells} f=${d.all || {}} averages=${true} calls=${num(d.calls) ?? 0} />
            </tr>`)}
        </tbody>
        ${days.length > 1 && html`
          <tfoot><tr data-testid="report-total">
            <th scope="row">${t('report.total')}</th>
            <${FigureCells} f=${total} averages=${false} calls=${days.reduce((s, d) => s + (num(d.calls) ?? 0), 0)} />
          </tr></tfoot>`}
      </table>
    </div>`;
}

/** One day's figures per queue. */
export function QueuesTable({ day }) {
  const queues = Array.isArray(day.queues) ? day.queues : [];
  const rows = queues.map((q) => ({ key: q.queue, label: queueWord(q.queue), f: q }));
  return html`
    <${OutcomeBars} rows=${rows} title=${t('report.chart_queues')} testid="report-queues-chart" />
    <div class="scroll-x">
      <table class="grid report" data-testid="report-queues">
        <${FigureHead} first=${t('report.queue')} />
        <tbody>
          ${queues.map((q) => html`
            <tr data-testid=${`report-queue-${q.queue}`}>
              <th scope="row">${queueWord(q.queue)}</th><${FigureCells} f=${q} averages=${true} />
            </tr>`)}
        </tbody>
      </table>
    </div>`;
}

const WORK_STATES = ['available', 'ringing', 'on_call', 'wrap_up', 'not_ready'];

/** Per agent: answered calls, talk time, and time in each state (a bar per agent). */
export function AgentsTable({ agents }) {
  const list = Array.isArray(agents.agents) ? agents.agents : [];
  const ms = (a, s) => (a.state_ms && num(a.state_ms[s])) ?? 0;
  const legend = WORK_STATES.map((key) => ({ key: `state-${key}`, label: stateWord(key) }));
  const bars = list.map((a) => ({
    key: a.agent_id,
    label: a.name || t('agent.unnamed'),
    segments: WORK_STATES.map((s) => ({ key: `state-${s}`, value: ms(a, s), label: stateWord(s) })),
  }));
  return html`
    <${StackedBars} rows=${bars} format=${(v) => fmtDuration(v)} legend=${legend}
      title=${t('report.chart_agents')} testid="report-agents-chart" />
    <div class="scroll-x">
      <table class="grid report" data-testid="report-agents">
        <thead><tr>
          <th scope="col">${t('report.agent')}</th>
          <th scope="col" class="num">${t('report.agent_calls')}</th>
          <th scope="col" class="num">${t('report.talk_time')}</th>
          <th scope="col" class="num">${t('report.avg_handle')}</th>
          ${WORK_STATES.map((s) => html`<th scope="col" class="num">${stateWord(s)}</th>`)}
        </tr></thead>
        <tbody>
          ${list.map((a) => html`
            <tr data-testid=${`report-agent-${a.agent_id}`}>
              <th scope="row">${a.name || t('agent.unnamed')}</th>
              <td class="num" data-col="calls">${int(a.calls)}</td>
              <td class="num" data-col="handle">${dur(a.handle_ms)}</td>
              <td class="num" data-col="avg_handle">${dur(a.avg_handle_ms)}</td>
              ${WORK_STATES.map((s) => html`<td class="num" data-col=${`state_${s}`}>${fmtDuration(ms(a, s))}</td>`)}
            </tr>`)}
          ${list.length === 0 && html`<tr><td colspan="8" class="muted">${t('agents.none')}</td></tr>`}
        </tbody>
      </table>
    </div>`;
}
