// firstline: the admin page's company directory (LDAP / Active Directory): whether a sync is
// configured and against what, when it last succeeded, the last error, the recent runs with
// their counts, and "Sync now" (POST /api/admin/directory/sync, which waits for the run).
// Credentials never reach the page (the server does not send them).

import { html, api, useEffect, useState } from '../ui.js';
import { t, fmtDateTime } from '../i18n.js';

export function DirectoryView({ canEdit, say }) {
  const [status, setStatus] = useState(null);
  const [busy, setBusy] = useState(false);
  const reload = async () => {
    try {
      setStatus((await api('GET', '/api/admin/directory')).json);
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    }
  };
  useEffect(() => { reload(); }, []);
  const syncNow = async () => {
    setBusy(true);
    try {
      const r = (await api('POST', '/api/admin/directory/sync')).json;
      say(true, t('admin.directory.synced', { seen: r.seen, inserted: r.inserted, updated: r.updated, deactivated: r.deactivated }));
    } catch (e) {
      say(false, t('admin.directory.failed', { message: e.message }));
    } finally {
      setBusy(false);
      reload();
    }
  };
  if (!canEdit) return html`<main class="admin-main"><p class="panel">${t('admin.read_only')}</p></main>`;
  if (!status) return html`<main class="admin-main"><p class="panel">…</p></main>`;
  const when = (ms) => (ms ? fmtDateTime(ms) : t('admin.directory.never'));
  return html`
    <main class="admin-main">
      <section class="panel" aria-labelledby="dir-h">
        <h2 id="dir-h">${t('admin.tab.directory')}</h2>
        ${!status.configured
          ? html`<p data-testid="directory-off">${t('admin.directory.not_configured')}</p>`
          : html`<dl>
              <dt>${t('admin.directory.url')}</dt><dd data-testid="directory-url">${status.url}</dd>
              <dt>${t('admin.directory.every')}</dt><dd>${t('admin.directory.secs', { n: status.interval_secs })}</dd>
              <dt>${t('admin.directory.last_ok')}</dt><dd data-testid="directory-last-ok">${when(status.last_success_at)}</dd>
              <dt>${t('admin.directory.failures')}</dt><dd data-testid="directory-failures">${status.sync_failures}</dd>
              <dt>${t('admin.directory.last_error')}</dt><dd data-testid="directory-error">${status.last_error || t('none')}</dd>
            </dl>
            <button type="button" data-testid="directory-sync" disabled=${busy || status.running} onClick=${syncNow}>${t('admin.directory.sync_now')}</button>`}
        ${status.runs && status.runs.length > 0 && html`
          <h3>${t('admin.directory.runs')}</h3>
          <table data-testid="directory-runs"><thead><tr>
            ${['started', 'status', 'seen', 'inserted', 'updated', 'deactivated', 'rejected'].map((c) => html`<th scope="col">${t(`admin.directory.${c}`)}</th>`)}
            <th scope="col">${t('admin.directory.last_error')}</th>
          </tr></thead><tbody>
            ${status.runs.map((r) => html`<tr>
              <td>${when(r.started_at)}</td><td>${t(`admin.directory.run_${r.status}`)}</td><td>${r.seen}</td><td>${r.inserted}</td>
              <td>${r.updated}</td><td>${r.deactivated}</td><td>${r.rejected}</td><td>${r.error || t('none')}</td></tr>`)}
          </tbody></table>`}
      </section>
    </main>`;
}
