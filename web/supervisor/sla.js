// firstline supervisor: SLA figures per level and group (docs/sla.md). The live panel: the open
// intakes' timers (GET /api/sla, reloaded every 30 s): overdue, due soon, paused while waiting
// for the customer. The report: the intakes resolved in the chosen days (GET
// /api/reports/sla): targets met and met late. Nothing is shown without SLA targets.

import { api, html, useEffect, useState } from '../ui.js';
import { fmtNumber, t } from '../i18n.js';

const RELOAD_MS = 30000;

export function SlaPanel() {
  const [figures, setFigures] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () => api('GET', '/api/sla').then((r) => { if (live) setFigures(r.json); }, () => {});
    load();
    const id = setInterval(load, RELOAD_MS);
    return () => { live = false; clearInterval(id); };
  }, []);
  if (!figures || !figures.enabled) return null;
  const groups = figures.groups || [];
  return html`
    <section class="panel" aria-labelledby="sla-heading" data-testid="sla-panel">
      <h2 id="sla-heading">${t('sla.heading')}</h2>
      <table class="grid">
        <thead><tr>
          <th>${t('sla.where')}</th><th>${t('sla.open')}</th><th>${t('sla.breached')}</th>
          <th>${t('sla.warning')}</th><th>${t('sla.paused')}</th><th>${t('sla.response_breached')}</th>
        </tr></thead>
        <tbody>
          ${groups.map((g) => html`
            <tr data-testid=${`sla-row-${g.level}-${g.group || ''}`} class=${g.resolution.breached ? 'breach' : ''}>
              <td>${t(`level.${g.level}`)}${g.group ? ` · ${g.group}` : ''}</td>
              <td>${g.intakes}</td>
              <td data-testid="sla-breached">${g.resolution.breached}</td>
              <td>${g.resolution.warning}</td>
              <td data-testid="sla-paused">${g.resolution.paused}</td>
              <td>${g.response.breached}</td>
            </tr>`)}
          ${groups.length === 0 ? html`<tr><td colspan="6" class="muted">${t('sla.none_open')}</td></tr>` : null}
        </tbody>
      </table>
    </section>`;
}

/** `met` of `met + late` as a percentage, or a dash. */
const share = (met, late) => (met + late ? fmtNumber(met / (met + late), { style: 'percent', maximumFractionDigits: 0 }) : t('none'));

/** SLA met and met late over the intakes resolved from `from` to `to` (days in `tz`). */
export function SlaReport({ from, to, tz }) {
  const [figures, setFigures] = useState(null);
  useEffect(() => {
    let live = true;
    const q = new URLSearchParams({ from, to, tz });
    api('GET', `/api/reports/sla?${q}`).then((r) => { if (live) setFigures(r.json); }, () => live && setFigures(null));
    return () => { live = false; };
  }, [from, to, tz]);
  if (!figures || !figures.enabled) return null;
  const groups = figures.groups || [];
  return html`
    <section class="panel" aria-labelledby="sla-report-heading" data-testid="sla-report">
      <h2 id="sla-report-heading">${t('sla.report_heading')}</h2>
      <table class="grid">
        <thead><tr>
          <th>${t('sla.where')}</th><th>${t('sla.resolved')}</th>
          <th>${t('sla.response_met')}</th><th>${t('sla.resolution_met')}</th>
        </tr></thead>
        <tbody>
          ${groups.map((g) => html`
            <tr data-testid=${`sla-report-row-${g.level}-${g.group || ''}`}>
              <td>${t(`level.${g.level}`)}${g.group ? ` · ${g.group}` : ''}</td>
              <td>${g.intakes}</td>
              <td>${share(g.response.met, g.response.met_late)} (${g.response.met_late} ${t('sla.late')})</td>
              <td data-testid="sla-report-resolution">${share(g.resolution.met, g.resolution.met_late)} (${g.resolution.met_late} ${t('sla.late')})</td>
            </tr>`)}
          ${groups.length === 0 ? html`<tr><td colspan="4" class="muted">${t('sla.none_resolved')}</td></tr>` : null}
        </tbody>
      </table>
    </section>`;
}
