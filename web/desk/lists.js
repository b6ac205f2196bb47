// firstline desk: the first level's work lists. Search finds customers and intakes by name,
// number in any format, ticket number or words (GET /api/search); "My calls" lists the agent's
// recent calls with their intakes (GET /api/me/calls); a customer's page shows their card and
// whole history. Choosing an entry opens it in the workspace.

import { html, useEffect, useRef, useState } from '../ui.js';
import { fmtDateTime, t } from '../i18n.js';
import * as act from './actions.js';
import { useApi } from './hooks.js';
import { CustomerPane, IntakeRow } from './customer.js';
import { ticketNo } from './words.js';

const SEARCH_AFTER_MS = 250;
/** The last search of this page, shown again when the agent comes back to the tab. */
let lastQuery = '';

export function SearchView() {
  const [q, setQ] = useState(lastQuery);
  const [query, setQuery] = useState(lastQuery.trim());
  const input = useRef(null);
  useEffect(() => { if (input.current) input.current.focus(); }, []);
  useEffect(() => {
    const id = setTimeout(() => {
      setQuery(q.trim());
      lastQuery = q;
    }, SEARCH_AFTER_MS);
    return () => clearTimeout(id);
  }, [q]);
  const { data, error, loading } = useApi(query ? `/api/search?q=${encodeURIComponent(query)}&limit=20` : null);
  const customers = (data && data.customers) || [];
  const intakes = (data && data.intakes) || [];
  return html`
    <section class="list-view" data-testid="search-view">
      <form class="search-form" onSubmit=${(e) => { e.preventDefault(); setQuery(q.trim()); }}>
        <label for="search-q">${t('search.label')}</label>
        <input id="search-q" ref=${input} data-testid="search-q" maxlength="200" value=${q}
          placeholder=${t('search.placeholder')} onInput=${(e) => setQ(e.target.value)} />
      </form>
      ${error ? html`<p class="inline-error">${act.errorText(error)}</p>` : null}
      ${query ? html`
        <div class="results-grid" data-testid="search-results" data-query=${query} data-loading=${String(loading)}>
          <section>
            <h3>${t('search.customers')}</h3>
            <ul class="plain-list" data-testid="search-customers">
              ${data && customers.length === 0 ? html`<li class="muted">${t('search.none')}</li>` : null}
              ${customers.map((c) => html`
                <li data-testid=${`search-customer-${c.id}`}>
                  <button type="button" class="link" onClick=${() => act.show({ kind: 'customer', id: c.id })}>
                    <strong>${c.name}</strong> <span class="muted">${c.organisation || ''} · ${c.phone || ''}</span>
                    ${c.open_intakes ? html` <span class="badge">${t('search.open_count', { count: c.open_intakes })}</span>` : null}
                  </button>
                </li>`)}
            </ul>
          </section>
          <section>
            <h3>${t('search.intakes')}</h3>
            <ul class="intake-list" data-testid="search-intakes">
              ${data && intakes.length === 0 ? html`<li class="muted">${t('search.none')}</li>` : null}
              ${intakes.map((i) => html`<${IntakeRow} intake=${i} testid=${`search-intake-${i.id}`} />`)}
            </ul>
          </section>
        </div>` : html`<p class="muted">${t('search.hint')}</p>`}
    </section>`;
}

export function RecentView() {
  const { data, error } = useApi('/api/me/calls?limit=50');
  const rows = Array.isArray(data) ? data : [];
  return html`
    <section class="list-view" data-testid="recent-view">
      <h2>${t('recent.title')}</h2>
      ${error ? html`<p class="inline-error">${act.errorText(error)}</p>` : null}
      <table class="grid" data-testid="recent-calls">
        <thead><tr>
          <th scope="col">${t('recent.when')}</th><th scope="col">${t('recent.caller')}</th>
          <th scope="col">${t('recent.ticket')}</th><th scope="col">${t('recent.about')}</th>
          <th scope="col">${t('recent.status')}</th>
        </tr></thead>
        <tbody>
          ${data && rows.length === 0 ? html`<tr><td colspan="5" class="muted">${t('recent.none')}</td></tr>` : null}
          ${rows.map((c) => html`
            <tr data-testid=${`recent-call-${c.call_id}`}>
              <td>${fmtDateTime(c.connected_at || c.arrived_at)}</td>
              <td>${c.customer_name || c.caller || t('caller.unknown_number')}</td>
              <td>${c.intake ? html`<button type="button" class="link" data-testid=${`recent-open-${c.call_id}`}
                onClick=${() => act.openIntake(c.intake.id)}>${ticketNo(c.intake) || t('intake.no_number')}</button>` : t('none')}</td>
              <td>${(c.intake && c.intake.title) || t(`category.${c.category || 'unclassified'}`)}</td>
              <td>${c.intake ? t(`status.${c.intake.status}`) : t('none')}</td>
            </tr>`)}
        </tbody>
      </table>
    </section>`;
}

export function CustomerView({ id }) {
  return html`
    <section class="list-view" data-testid="customer-view" data-customer=${id}>
      <button type="button" class="link" onClick=${() => act.show({ kind: 'search' })}>${t('search.back')}</button>
      <${CustomerPane} customerId=${id} caller=${null} exclude=${[]} rev=${0} />
    </section>`;
}
