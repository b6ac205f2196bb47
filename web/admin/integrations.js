// firstline: the admin page's integrations (docs/integrations.md): each ticket system and
// webhook target with its waiting, dead and delivered rows, the last error, pause / resume and a
// test delivery (admins), and its dead letters with the receiver's answer, each retried alone or
// all at once (admins and supervisors). Secrets never reach the page.

import { html, api, useEffect, useState } from '../ui.js';
import { t, fmtDateTime } from '../i18n.js';

export function IntegrationsView({ canEdit, say }) {
  const [targets, setTargets] = useState(null);
  const [open, setOpen] = useState(null);
  const [dead, setDead] = useState([]);
  const reload = async () => {
    try {
      setTargets((await api('GET', '/api/admin/integrations')).json);
      if (open) setDead((await api('GET', `/api/admin/integrations/${open}/deliveries?state=dead`)).json);
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
  };
  useEffect(() => { reload(); }, [open]);
  const act = async (path, done) => {
    try {
      const r = (await api('POST', path)).json;
      say(r.ok !== false, done(r));
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
    reload();
  };
  if (!targets) return html`<main class="admin-main"><p class="panel">…</p></main>`;
  if (targets.length === 0) {
    return html`<main class="admin-main"><p class="panel" data-testid="integrations-none">${t('admin.integrations.none')}</p></main>`;
  }
  const base = (name) => `/api/admin/integrations/${encodeURIComponent(name)}`;
  return html`
    <main class="admin-main">
      <section class="panel" aria-labelledby="int-h">
        <h2 id="int-h">${t('admin.tab.integrations')}</h2>
        <table class="list" data-testid="integrations">
          <thead><tr>
            <th>${t('admin.integrations.name')}</th><th>${t('admin.integrations.kind')}</th>
            <th>${t('admin.integrations.pending')}</th><th>${t('admin.integrations.dead')}</th>
            <th>${t('admin.integrations.delivered')}</th><th>${t('admin.integrations.last_error')}</th><th></th>
          </tr></thead>
          <tbody>${targets.map((x) => html`
            <tr data-testid=${`integration-${x.name}`} data-paused=${String(x.paused)}>
              <td><strong>${x.name}</strong><br /><span class="muted small">${x.url}</span></td>
              <td>${x.kind}${x.paused ? html` <span class="badge">${t('admin.integrations.paused')}</span>` : null}</td>
              <td data-testid="pending">${x.pending}</td>
              <td data-testid="dead">${x.dead > 0 ? html`<a href="#integrations" onClick=${() => setOpen(x.name)}>${x.dead}</a>` : '0'}</td>
              <td>${x.stats.delivered}</td>
              <td class="small">${x.stats.last_error ? `${fmtDateTime(x.stats.last_error[0])}: ${x.stats.last_error[1]}` : t('none')}</td>
              <td>
                ${canEdit ? html`
                  <button type="button" class="secondary small" data-testid="pause"
                    onClick=${() => act(`${base(x.name)}/${x.paused ? 'resume' : 'pause'}`, () => t(x.paused ? 'admin.integrations.resumed' : 'admin.integrations.paused_done', { name: x.name }))}>
                    ${t(x.paused ? 'admin.integrations.resume' : 'admin.integrations.pause')}</button>
                  <button type="button" class="secondary small" data-testid="test"
                    onClick=${() => act(`${base(x.name)}/test`, (r) => (r.ok ? t('admin.integrations.test_ok', { name: x.name }) : t('admin.integrations.test_failed', { name: x.name, message: r.message })))}>
                    ${t('admin.integrations.test')}</button>` : null}
                ${x.dead > 0 ? html`<button type="button" class="small" data-testid="retry-dead"
                  onClick=${() => act(`${base(x.name)}/retry-dead`, (r) => t('admin.integrations.requeued', { n: r.requeued }))}>${t('admin.integrations.retry_all')}</button>` : null}
              </td>
            </tr>`)}
          </tbody>
        </table>
      </section>
      ${open && html`
        <section class="panel" aria-labelledby="dead-h" data-testid="dead-letters">
          <h2 id="dead-h">${t('admin.integrations.dead_of', { name: open })}</h2>
          ${dead.length === 0 ? html`<p class="muted">${t('none')}</p>` : html`
            <table class="list"><thead><tr>
              <th>${t('admin.integrations.event')}</th><th>${t('admin.integrations.subject')}</th>
              <th>${t('admin.integrations.attempts')}</th><th>${t('admin.integrations.answer')}</th><th></th>
            </tr></thead><tbody>${dead.map((d) => html`
              <tr data-testid=${`dead-${d.seq}`}>
                <td>${d.kind}<br /><span class="muted small">${fmtDateTime(d.created_at)}</span></td>
                <td>${d.subject || ''}</td><td>${d.attempts}</td>
                <td class="small">${d.last_status ? `HTTP ${d.last_status}: ` : ''}${d.last_error || ''}</td>
                <td><button type="button" class="small" data-testid="retry"
                  onClick=${() => act(`${base(open)}/deliveries/${d.seq}/retry`, () => t('admin.integrations.requeued', { n: 1 }))}>${t('admin.integrations.retry')}</button></td>
              </tr>`)}</tbody></table>`}
        </section>`}
    </main>`;
}
