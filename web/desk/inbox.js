// firstline desk: the second level's inbox (GET /api/me/inbox): the escalated intakes of each
// group the specialist belongs to, by priority and age, with who works on each; choosing one opens
// it in the workspace, where it is claimed, noted, resolved, handed to a vendor or returned.

import { html, useState } from '../ui.js';
import { fmtDuration, t } from '../i18n.js';
import * as act from './actions.js';
import { useApi, useNow } from './hooks.js';
import { ticketNo } from './words.js';

const OWNERS = ['any', 'none', 'me'];

export function InboxView({ s }) {
  const [group, setGroup] = useState('');
  const [owner, setOwner] = useState('any');
  const now = useNow(10000);
  const params = new URLSearchParams({ owner, limit: '100' });
  if (group) params.set('group', group);
  // Any intake frame (a claim, an outcome, a new escalation seen here) reloads the list.
  const rev = Object.values(s.intakes).map((i) => `${i.id}:${i.status}:${i.owner_id || ''}:${i.level}`).join();
  const { data, error } = useApi(`/api/me/inbox?${params}`, rev);
  const groups = (data && data.groups) || [];
  const rows = (data && data.intakes) || [];
  return html`
    <section class="list-view" data-testid="inbox-view">
      <h2>${t('inbox.title')}</h2>
      <div class="chips" role="group" aria-label=${t('inbox.groups')}>
        <button type="button" class=${`chip ${group === '' ? 'active' : ''}`} data-testid="inbox-group-all"
          onClick=${() => setGroup('')}>${t('inbox.all_groups')}</button>
        ${groups.map((g) => html`
          <button type="button" class=${`chip ${group === g.name ? 'active' : ''}`} data-testid=${`inbox-group-${g.name}`}
            onClick=${() => setGroup(g.name)}>
            ${g.name} <span class="count">${t('inbox.counts', { open: g.open, unclaimed: g.unclaimed })}</span>
          </button>`)}
        <label class="owner-filter">${t('inbox.show')}
          <select data-testid="inbox-owner" value=${owner} onChange=${(e) => setOwner(e.target.value)}>
            ${OWNERS.map((o) => html`<option value=${o}>${t(`inbox.owner.${o}`)}</option>`)}
          </select>
        </label>
      </div>
      ${error ? html`<p class="inline-error">${act.errorText(error)}</p>` : null}
      <table class="grid" data-testid="inbox-list">
        <thead><tr>
          <th scope="col">${t('inbox.priority')}</th><th scope="col">${t('inbox.ticket')}</th>
          <th scope="col">${t('inbox.about')}</th><th scope="col">${t('inbox.group')}</th>
          <th scope="col">${t('inbox.waiting')}</th><th scope="col">${t('inbox.owner_col')}</th>
        </tr></thead>
        <tbody>
          ${data && rows.length === 0 ? html`<tr><td colspan="6" class="muted">${t('inbox.empty')}</td></tr>` : null}
          ${rows.map((i) => html`
            <tr data-testid=${`inbox-intake-${i.id}`} data-owner=${i.owner_id || ''}>
              <td><span class=${`prio prio-${i.priority || 'none'}`}>${i.priority ? t(`priority.${i.priority}`) : t('priority.none')}</span></td>
              <td><button type="button" class="link" data-testid=${`inbox-open-${i.id}`}
                onClick=${() => act.openIntake(i.id)}>${ticketNo(i) || t('intake.no_number')}</button></td>
              <td>${i.title || i.description || t('intake.untitled')}
                <span class="muted"> · ${i.customer_name || i.caller || ''}</span></td>
              <td>${i.group || ''}</td>
              <td>${fmtDuration(now - (lastEscalation(i) || i.created_at))}</td>
              <td>${i.owner_name || t('owner.none')}</td>
            </tr>`)}
        </tbody>
      </table>
    </section>`;
}

/** When the intake reached its current level. */
function lastEscalation(i) {
  const list = i.escalations || [];
  return list.length ? list[list.length - 1].at : null;
}
