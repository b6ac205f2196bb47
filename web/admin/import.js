// firstline: the admin page's customer import (CSV, RFC 4180, UTF-8, a header row): choose a
// file, see the preview the server makes of it (the columns it mapped, the first rows as they
// will be stored, every bad row named by row and column), then import. A file with bad rows
// imports nothing unless the admin chooses "import the valid rows". The file goes to the server
// as it is (POST /api/admin/customers/import, docs/api.md); nothing is parsed here.

import { html, useState } from '../ui.js';
import { t } from '../i18n.js';

/** Sends `file` for `mode` (`preview` or `commit`); resolves to `{ status, report }`. */
async function send(file, mode, validOnly, map) {
  const q = new URLSearchParams({ mode, valid_only: String(validOnly) });
  if (map.trim()) q.set('map', map.trim());
  const r = await fetch(`/api/admin/customers/import?${q}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-Firstline-Csrf': '1', 'Content-Type': 'text/csv' },
    body: file,
  });
  const report = await r.json().catch(() => null);
  return { status: r.status, report };
}

function Report({ report }) {
  const fields = ['external_id', 'name', 'organisation', 'department', 'email', 'phone', 'extra_phones', 'location'];
  return html`
    <p data-testid="import-counts">${t('admin.import.counts', { rows: report.rows, valid: report.valid, rejected: report.rejected })}</p>
    ${report.errors.length > 0 && html`
      <h3>${t('admin.import.errors')}</h3>
      <table data-testid="import-errors"><thead><tr>
        <th scope="col">${t('admin.import.row')}</th><th scope="col">${t('admin.import.column')}</th>
        <th scope="col">${t('admin.import.problem')}</th></tr></thead>
      <tbody>${report.errors.map((e) => html`<tr data-testid=${`import-error-${e.row}`}>
        <td>${e.row}</td><td>${e.column || t('none')}</td><td>${e.message}</td></tr>`)}</tbody></table>
      ${report.errors_truncated && html`<p class="muted">${t('admin.import.more_errors')}</p>`}`}
    ${report.preview.length > 0 && html`
      <h3>${t('admin.import.preview')}</h3>
      <table data-testid="import-preview"><thead><tr>
        <th scope="col">${t('admin.import.row')}</th>
        ${fields.map((f) => html`<th scope="col">${f}</th>`)}</tr></thead>
      <tbody>${report.preview.map((p) => html`<tr>
        <td>${p.row}</td>${fields.map((f) => html`<td>${Array.isArray(p[f]) ? p[f].join(', ') : (p[f] || t('none'))}</td>`)}
      </tr>`)}</tbody></table>`}`;
}

export function ImportView({ canEdit, say }) {
  const [file, setFile] = useState(null);
  const [report, setReport] = useState(null);
  const [busy, setBusy] = useState(false);
  // Columns whose titles the server does not know: `Personnel no.=external_id, Surname=name`.
  const [map, setMap] = useState('');
  const run = async (mode, validOnly) => {
    if (!file) return;
    setBusy(true);
    try {
      const { status, report: r } = await send(file, mode, validOnly, map);
      if (r && Array.isArray(r.errors)) setReport(r);
      if (status === 200 && mode === 'commit') {
        say(true, t('admin.import.done', { inserted: r.inserted, updated: r.updated }));
        setFile(null);
      } else if (status !== 200) {
        say(false, t('error.generic', { message: (r && (r.message || r.error)) || `status ${status}` }));
      } else {
        say(true, t('admin.import.checked'));
      }
    } catch (e) {
      say(false, t('error.generic', { message: e.message }));
    } finally {
      setBusy(false);
    }
  };
  const choose = (e) => {
    setFile(e.currentTarget.files[0] || null);
    setReport(null);
  };
  const ready = report && file && !report.committed;
  return html`
    <main class="admin-main">
      <section class="panel" aria-labelledby="import-h">
        <h2 id="import-h">${t('admin.tab.import')}</h2>
        <p class="muted">${t('admin.import.help')}</p>
        ${canEdit ? html`
          <label>${t('admin.import.file')}
            <input type="file" accept=".csv,text/csv" data-testid="import-file" onChange=${choose} /></label>
          <label>${t('admin.import.map')}
            <input data-testid="import-map" value=${map} placeholder="Personnel no.=external_id"
              onInput=${(e) => { setMap(e.currentTarget.value); setReport(null); }} /></label>
          <p class="muted">${t('admin.import.map_help')}</p>
          <button type="button" data-testid="import-check" disabled=${!file || busy}
            onClick=${() => run('preview', false)}>${t('admin.import.check')}</button>
          ${ready && report.rejected === 0 && html`<button type="button" data-testid="import-commit"
            disabled=${busy} onClick=${() => run('commit', false)}>${t('admin.import.commit', { n: report.valid })}</button>`}
          ${ready && report.rejected > 0 && report.valid > 0 && html`<button type="button" data-testid="import-valid"
            disabled=${busy} onClick=${() => run('commit', true)}>${t('admin.import.commit_valid', { n: report.valid })}</button>`}
          ${report && html`<${Report} report=${report} />`}`
        : html`<p>${t('admin.read_only')}</p>`}
      </section>
    </main>`;
}
