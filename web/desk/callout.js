// firstline desk: calling the customer of an intake through the trunk (click-to-call). The
// agent's own phone rings first; when they answer, the customer is dialled with the hotline's
// number. The intake's calls out (click-to-call and dialled callbacks) are listed with how each
// ended; the list is read again while one is in progress. Keyed by the intake by its parent.

import { api, html, useEffect, useState } from '../ui.js';
import { fmtDateTime, t } from '../i18n.js';
import { errorText } from './actions.js';

const path = (id) => `/api/intakes/${encodeURIComponent(id)}`;

export function CallOut({ s, intake }) {
  const [calls, setCalls] = useState([]);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [rev, setRev] = useState(0);
  const trunk = Boolean(s.lists && s.lists.trunk);
  const device = s.me && s.me.agent && s.me.agent.device;
  const live = calls.some((c) => c.outcome === 'in_progress');
  useEffect(() => {
    if (!trunk) return undefined;
    let gone = false;
    api('GET', `${path(intake.id)}/calls`).then((r) => { if (!gone) setCalls(r.json || []); }, () => {});
    const again = live ? setTimeout(() => setRev((n) => n + 1), 2000) : null;
    return () => { gone = true; if (again) clearTimeout(again); };
  }, [intake.id, trunk, rev, live]);
  if (!trunk) return null;
  const call = async () => {
    setError('');
    setBusy(true);
    try {
      await api('POST', `${path(intake.id)}/call`, {});
      setRev((n) => n + 1);
    } catch (e) {
      setError(errorText(e, 'callout'));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section class="call-out" data-testid="call-out">
      <h3>${t('callout.title')}</h3>
      <button type="button" data-testid="call-customer" disabled=${busy || live || device === 'browser'}
        title=${device === 'browser' ? t('callout.needs_phone') : ''} onClick=${call}>${t('callout.call')}</button>
      ${live ? html`<p class="hint" data-testid="call-out-live">${t('callout.ringing')}</p>` : null}
      ${error ? html`<p class="error" role="alert" data-testid="call-out-error">${error}</p>` : null}
      ${calls.length ? html`
        <ol class="history" data-testid="call-out-list">
          ${calls.map((c) => html`
            <li data-outcome=${c.outcome}>${fmtDateTime(c.started_at)} · ${c.number} · ${t(`callout.outcome.${c.outcome}`)}</li>`)}
        </ol>` : null}
    </section>`;
}
