// firstline supervisor: the open intakes' SLA timers per level and group (GET /api/sla,
// reloaded every 30 s): how many are overdue, close to their due time, or paused while waiting
// for the customer (docs/sla.md). Nothing is shown when no SLA targets are configured.

import { api, html, useEffect, useState } from '../ui.js';
import { t } from '../i18n.js';

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
