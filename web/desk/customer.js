// firstline desk: the caller's side of the workspace, shared by the pop, an intake opened from a
// list and a customer's page: the customer card, finding or creating the customer for an unknown
// number, and the caller's full history (every intake, resolved too, newest first).

import { api, html, useState } from '../ui.js';
import { fmtDateTime, t } from '../i18n.js';
import * as act from './actions.js';
import { useApi } from './hooks.js';
import { outcomeText, ticketNo } from './words.js';
import { RowSla } from './sla.js';

const FIELDS = ['organisation', 'department', 'email', 'phone', 'location', 'notes'];

/** Marks a field the company directory or an import owns (a hand edit keeps its value). */
function Synced({ customer, field }) {
  const owned = Array.isArray(customer.synced_fields) && customer.synced_fields.includes(field);
  return owned ? html` <span class="synced" data-testid=${`synced-${field}`}
    title=${t('customer.synced_hint')}>${t('customer.synced')}</span>` : null;
}

/** A known customer's card. */
export function CustomerCard({ customer }) {
  return html`
    <div class="customer-card" data-testid="customer">
      <h3 class="big" data-testid="customer-name">${customer.name || t('none')}<${Synced} customer=${customer} field="name" /></h3>
      <dl>
        ${FIELDS.map((k) => customer[k] ? html`
          <dt>${t(`customer.${k}`)}<${Synced} customer=${customer} field=${k} /></dt><dd data-testid=${`customer-${k}`}>${customer[k]}</dd>` : null)}
        ${Array.isArray(customer.extra_phones) && customer.extra_phones.length ? html`
          <dt>${t('customer.extra_phones')}</dt><dd>${customer.extra_phones.join(', ')}</dd>` : null}
      </dl>
    </div>`;
}

/** An unknown number: find the customer (link the number to them) or create one. */
export function UnknownCaller({ intakeId, candidates }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState(null);
  const [error, setError] = useState('');
  const [fields, setFields] = useState({});
  const list = found || (candidates && candidates.length ? candidates : null);
  const search = async (e) => {
    if (e) e.preventDefault();
    setError('');
    try {
      const { json } = await api('GET', `/api/customers?q=${encodeURIComponent(q.trim())}`);
      setFound(Array.isArray(json) ? json : json.customers || []);
    } catch (err) {
      setError(act.errorText(err));
    }
  };
  const run = async (p) => {
    setError('');
    try {
      await p;
    } catch (err) {
      setError(act.errorText(err, 'customer'));
    }
  };
  const create = (e) => {
    e.preventDefault();
    const clean = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.trim()]).filter(([, v]) => v));
    if (!clean.name) {
      setError(t('customer.name_required'));
      return;
    }
    run(act.createCustomer(intakeId, clean));
  };
  return html`
    <div class="unknown" data-testid="customer">
      <h3 class="warn" data-testid="unknown-caller">${t('customer.unknown')}</h3>
      <form class="inline-form" onSubmit=${search}>
        <label class="sr-only" for="customer-q">${t('customer.find')}</label>
        <input id="customer-q" data-testid="customer-search" maxlength="100" value=${q}
          placeholder=${t('customer.find_placeholder')} onInput=${(e) => setQ(e.target.value)} />
        <button type="submit" class="secondary" data-testid="customer-search-btn">${t('action.search')}</button>
      </form>
      ${list ? html`
        <ul class="results" data-testid="customer-results">
          ${list.length === 0 ? html`<li class="muted">${t('customer.none_found')}</li>` : null}
          ${list.map((r) => html`
            <li>
              <span>${r.name || t('none')} · ${r.organisation || ''} ${r.phone || ''}</span>
              <button type="button" class="small" data-testid=${`link-${r.id}`}
                onClick=${() => run(act.linkCustomer(intakeId, r.id))}>${t('customer.link')}</button>
            </li>`)}
        </ul>` : null}
      ${error ? html`<p class="inline-error" data-testid="customer-error">${error}</p>` : null}
      <details>
        <summary>${t('customer.new')}</summary>
        <form class="create-customer" data-testid="create-customer" onSubmit=${create}>
          ${['name', ...FIELDS.filter((k) => k !== 'phone')].map((k) => html`
            <label for=${`new-${k}`}>${t(`customer.${k}`)}</label>
            ${k === 'notes'
              ? html`<textarea id=${`new-${k}`} data-testid=${`new-customer-${k}`} maxlength="2000" rows="2"
                  onInput=${(e) => setFields({ ...fields, [k]: e.target.value })}></textarea>`
              : html`<input id=${`new-${k}`} data-testid=${`new-customer-${k}`} maxlength="200"
                  onInput=${(e) => setFields({ ...fields, [k]: e.target.value })} />`}`)}
          <button type="submit" data-testid="create-customer-btn">${t('customer.create')}</button>
        </form>
      </details>
    </div>`;
}

/** One intake in a list: number, status, level, what it was about, when; opens it. */
export function IntakeRow({ intake, testid, children = null }) {
  const title = intake.title || intake.description || t('intake.untitled');
  return html`
    <li class="intake-row" data-testid=${testid} data-status=${intake.status}>
      <button type="button" class="link" onClick=${() => act.openIntake(intake.id)} data-testid=${`${testid}-open`}>
        <strong>${ticketNo(intake) || t('intake.no_number')}</strong>
        <span class=${`badge status-${intake.status}`}>${t(`status.${intake.status}`)}</span>
        <span class="muted">${t(`level.${intake.level || 1}`)}${intake.group ? ` · ${intake.group}` : ''}</span>
        ${intake.work_state ? html`<span class=${`badge work-${intake.work_state}`}>${t(`work.${intake.work_state}`)}</span>` : null}
        <${RowSla} sla=${intake.sla} />
        <span class="row-title">${title}</span>
        <span class="muted">${fmtDateTime(intake.created_at)}</span>
      </button>
      ${intake.status === 'resolved' && intake.solution ? html`
        <p class="solution" data-testid=${`${testid}-solution`}>${t('intake.solution_was', { solution: intake.solution })}</p>` : null}
      ${intake.status === 'escalated' ? html`<p class="muted">${outcomeText(intake)}</p>` : null}
      ${children}
    </li>`;
}

/**
 * The caller's full history: every intake of the customer (or of the number, for an unknown
 * caller), newest first. `exclude`: ids shown elsewhere (the intake worked on, the open ones
 * listed above). `rev` reloads it.
 */
export function History({ customerId, caller, exclude = [], rev = 0 }) {
  const url = customerId ? `/api/intakes?customer_id=${encodeURIComponent(customerId)}&limit=20`
    : caller ? `/api/intakes?caller=${encodeURIComponent(caller)}&limit=20` : null;
  const { data, error } = useApi(url, rev);
  if (!url) return null;
  const rows = (Array.isArray(data) ? data : []).filter((i) => !exclude.includes(i.id) && i.status !== 'closed');
  return html`
    <section class="history-box">
      <h3>${t('history.title')}</h3>
      ${error ? html`<p class="inline-error">${act.errorText(error)}</p>` : null}
      <ul class="intake-list" data-testid="caller-history">
        ${data && rows.length === 0 ? html`<li class="muted">${t('history.none')}</li>` : null}
        ${rows.map((i) => html`<${IntakeRow} intake=${i} testid=${`history-${i.id}`} />`)}
      </ul>
    </section>`;
}

/** The customer (if known) and their history; else the number's history. */
export function CustomerPane({ customerId, caller, exclude, rev }) {
  const { data } = useApi(customerId ? `/api/customers/${encodeURIComponent(customerId)}` : null);
  return html`
    ${data ? html`<${CustomerCard} customer=${data} />`
      : caller ? html`<p class="big" data-testid="pane-caller">${caller}</p>` : null}
    <${History} customerId=${customerId} caller=${customerId ? null : caller} exclude=${exclude} rev=${rev} />`;
}
