// firstline supervisor: the reports view (`#reports`): for a chosen range of days, the daily
// report and the per-agent report (GET /api/reports/daily, /api/reports/agents) as tables and
// bars, what each figure means, and the CSV exports with the number of rows downloaded.

import { html, api, useEffect, useState } from '../ui.js';
import { t, isoDay, fmtNumber } from '../i18n.js';
import { model, num } from './model.js';
import { AgentsTable, DaysTable, QueuesTable, dayWords } from './report_tables.js';
import { downloadCsv } from './csv.js';
import { SlaReport } from './sla.js';

// The zones the reports API knows by name (docs/api.md); any other is sent as its offset.
const NAMED_ZONES = ['UTC', 'Europe/Amsterdam', 'Europe/Brussels'];
const EXPORTS = ['calls', 'intakes', 'escalations'];

/** `iso` (YYYY-MM-DD) moved by `n` days. */
export function addDays(iso, n) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The `tz` parameter for `zone`: its name when the server knows it, else its offset on `day`. */
export function zoneParam(zone, day) {
  if (NAMED_ZONES.includes(zone)) return zone;
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(`${day}T12:00:00Z`)).find((p) => p.type === 'timeZoneName');
    const m = /GMT([+-]\d\d:\d\d)/.exec(part ? part.value : '');
    return m ? m[1] : 'UTC';
  } catch (_) {
    return 'Europe/Amsterdam';
  }
}

function presets(today) {
  return [
    ['today', today, today],
    ['yesterday', addDays(today, -1), addDays(today, -1)],
    ['last7', addDays(today, -6), today],
    ['last30', addDays(today, -29), today],
  ];
}

/** What "answered", "abandoned", the service level and the waits mean (docs/schema.md). */
function Definitions({ threshold, includesToday }) {
  const live = num(model.today && model.today.answered);
  return html`
    <section class="panel definitions" aria-labelledby="def-heading" data-testid="report-definitions">
      <h2 id="def-heading">${t('def.heading')}</h2>
      <dl>
        <dt>${t('report.offered')}</dt><dd>${t('def.offered')}</dd>
        <dt>${t('report.answered')}</dt><dd>${t('def.answered')}</dd>
        <dt>${t('report.abandoned')}</dt><dd>${t('def.abandoned')}</dd>
        <dt>${t('report.other')}</dt><dd>${t('def.other')}</dd>
        <dt>${t('report.service_level')}</dt><dd>${t('def.service_level', { s: threshold ?? '–' })}</dd>
        <dt>${t('report.avg_wait')}</dt><dd>${t('def.wait')}</dd>
        <dt>${t('report.avg_handle')}</dt><dd>${t('def.handle')}</dd>
      </dl>
      <p class="muted">${t('def.live_and_report')}</p>
      ${includesToday && live !== null && html`
        <p>${t('def.live_today')} <strong data-testid="report-live-answered">${fmtNumber(live)}</strong></p>`}
    </section>`;
}

function ExportForm({ from, to, tz }) {
  const [kind, setKind] = useState('calls');
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setResult(null);
    const q = new URLSearchParams({ from, to, tz });
    try {
      const got = await downloadCsv(`/api/export/${encodeURIComponent(kind)}.csv?${q}`, `${kind}_${from}_${to}.csv`);
      setResult({ ok: true, text: t('export.done', { name: got.name, count: got.rows }), rows: got.rows });
    } catch (e) {
      setResult({ ok: false, text: t('export.failed', { message: e.message }) });
    }
    setBusy(false);
  };
  return html`
    <section class="panel" aria-labelledby="export-heading">
      <h2 id="export-heading">${t('export.heading')}</h2>
      <form class="inline-form" data-testid="export-form" onSubmit=${submit}>
        <label class="field">${t('export.what')}
          <select data-testid="export-kind" value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
            ${EXPORTS.map((k) => html`<option value=${k}>${t(`export.kind.${k}`)}</option>`)}
          </select>
        </label>
        <span class="muted">${t('export.range', { from: dayWords(from), to: dayWords(to) })}</span>
        <button type="submit" data-testid="export-btn" disabled=${busy}>${t('export.download')}</button>
      </form>
      <p data-testid="export-result" role="status" class=${result && !result.ok ? 'error' : 'ok'}
        data-rows=${result && result.ok ? result.rows : undefined}>${result ? result.text : ''}</p>
    </section>`;
}

export function Reports({ timeZone }) {
  const today = isoDay(Date.now());
  const [range, setRange] = useState({ from: today, to: today });
  const [draft, setDraft] = useState({ from: today, to: today });
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [day, setDay] = useState(null);
  // Bumped by "Show": the same range is fetched again (the day's figures move on).
  const [nonce, setNonce] = useState(0);
  const tz = zoneParam(timeZone, range.from);
  useEffect(() => {
    let live = true;
    setError('');
    const q = new URLSearchParams({ from: range.from, to: range.to, tz });
    Promise.all([api('GET', `/api/reports/daily?${q}`), api('GET', `/api/reports/agents?${q}`)])
      .then(([daily, agents]) => {
        if (!live) return;
        setData({ daily: daily.json, agents: agents.json });
        setDay(range.to);
      })
      .catch((e) => live && setError(t('report.failed', { message: e.message })));
    return () => { live = false; };
  }, [range.from, range.to, tz, nonce]);
  const show = (ev) => {
    ev.preventDefault();
    if (!draft.from || !draft.to || draft.from > draft.to) {
      setError(t('report.bad_range'));
      return;
    }
    setRange({ ...draft });
    setNonce(nonce + 1);
  };
  const choose = (from, to) => {
    setDraft({ from, to });
    setRange({ from, to });
  };
  const days = data && Array.isArray(data.daily.days) ? data.daily.days : [];
  const shownDay = days.find((d) => d.date === day) || days[days.length - 1];
  return html`
    <main class="reports" data-testid="reports">
      <section class="panel range" aria-labelledby="range-heading">
        <h2 id="range-heading">${t('report.heading')}</h2>
        <form class="inline-form" onSubmit=${show} data-testid="report-form">
          <label class="field">${t('report.from')}
            <input type="date" data-testid="report-from" value=${draft.from} required
              onInput=${(e) => setDraft({ ...draft, from: e.currentTarget.value })} /></label>
          <label class="field">${t('report.to')}
            <input type="date" data-testid="report-to" value=${draft.to} required
              onInput=${(e) => setDraft({ ...draft, to: e.currentTarget.value })} /></label>
          <button type="submit" data-testid="report-show">${t('report.show')}</button>
          ${presets(today).map(([key, from, to]) => html`
            <button type="button" class="secondary" data-testid=${`report-preset-${key}`}
              aria-pressed=${range.from === from && range.to === to ? 'true' : 'false'}
              onClick=${() => choose(from, to)}>${t(`report.preset.${key}`)}</button>`)}
        </form>
        <p class="muted">${t('report.zone', { zone: tz })}</p>
        ${error && html`<p class="error" role="alert" data-testid="report-error">${error}</p>`}
      </section>
      ${data && html`
        <section class="panel" aria-labelledby="days-heading" data-testid="report-loaded"
          data-from=${data.daily.from} data-to=${data.daily.to} data-tz=${data.daily.tz}>
          <h2 id="days-heading">${data.daily.from === data.daily.to
            ? t('report.one_day_heading', { day: dayWords(data.daily.from) })
            : t('report.days_heading', { from: dayWords(data.daily.from), to: dayWords(data.daily.to) })}</h2>
          <${DaysTable} daily=${data.daily} />
        </section>
        ${shownDay && html`
          <section class="panel" aria-labelledby="queues-day-heading">
            <h2 id="queues-day-heading">${t('report.queues_heading', { day: dayWords(shownDay.date) })}</h2>
            ${days.length > 1 && html`
              <label class="field">${t('report.choose_day')}
                <select data-testid="report-day-select" value=${shownDay.date}
                  onChange=${(e) => setDay(e.currentTarget.value)}>
                  ${days.map((d) => html`<option value=${d.date}>${dayWords(d.date)}</option>`)}
                </select></label>`}
            <${QueuesTable} day=${shownDay} />
          </section>`}
        <section class="panel" aria-labelledby="agents-report-heading">
          <h2 id="agents-report-heading">${t('report.agents_heading')}</h2>
          <${AgentsTable} agents=${data.agents} />
        </section>
        <${SlaReport} from=${range.from} to=${range.to} tz=${tz} />
        <${Definitions} threshold=${data.daily.threshold_s} includesToday=${range.from <= today && today <= range.to} />
        <${ExportForm} from=${range.from} to=${range.to} tz=${tz} />`}
    </main>`;
}
