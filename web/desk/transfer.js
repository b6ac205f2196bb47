// firstline desk: handing the connected call to a colleague. The agent picks who (first or
// second level, anyone with a desk phone) and says why, then either transfers at once (blind)
// or consults first (attended: they talk while the caller hears hold music, then "Complete"
// hands the caller over, "Back to the caller" returns). The colleague's desk pops the same
// intake with everything written so far, and the reason goes into the intake's history. If the
// colleague does not answer, the call comes back here. Keyed by the call by its parent.

import { api, html, useEffect, useState } from '../ui.js';
import { t } from '../i18n.js';
import { errorText } from './actions.js';

/** The first-level queues a call can be handed to. */
const QUEUES = ['hardware', 'software', 'service'];

export function TransferPanel({ call }) {
  const [open, setOpen] = useState(false);
  const [targets, setTargets] = useState([]);
  const [to, setTo] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const [error, setError] = useState('');
  const [consulting, setConsulting] = useState(false);
  useEffect(() => {
    if (!open) return undefined;
    let gone = false;
    api('GET', '/api/desk/transfer-targets').then((r) => {
      if (gone) return;
      setTargets(r.json || []);
      if (!to && r.json && r.json[0]) setTo(r.json[0].id);
    }, (e) => setError(errorText(e)));
    return () => { gone = true; };
  }, [open]);
  if (!call || call.ended || call.phase !== 'connected') return null;
  if (!open) {
    return html`<button type="button" class="secondary" data-testid="transfer-open" onClick=${() => setOpen(true)}>${t('transfer.open')}</button>`;
  }
  const path = (what) => `/api/calls/${encodeURIComponent(call.call_id)}/${what}`;
  const run = async (what, body, after) => {
    setError('');
    setNote('');
    setBusy(true);
    try {
      await api('POST', path(what), body);
      after();
    } catch (err) {
      setError(errorText(err, 'transfer'));
    } finally {
      setBusy(false);
    }
  };
  const who = () => {
    const x = targets.find((y) => y.id === to);
    return x ? x.name : to;
  };
  const queue = to.startsWith('queue:') ? to.slice(6) : null;
  const submit = (e) => {
    e.preventDefault();
    if (queue) {
      run('transfer', { to_queue: queue, reason: reason.trim() },
        () => setNote(t('transfer.queued', { queue: t(`category.${queue}`) })));
      return;
    }
    run('transfer', { to, reason: reason.trim() }, () => setNote(t('transfer.ringing', { name: who() })));
  };
  const consult = () => run('consult', { to, reason: reason.trim() }, () => {
    setConsulting(true);
    setNote(t('transfer.consulting', { name: who() }));
  });
  const complete = () => run('transfer/complete', {}, () => setNote(t('transfer.completed', { name: who() })));
  const back = () => run('transfer/cancel', {}, () => {
    setConsulting(false);
    setNote(t('transfer.back'));
  });
  return html`
    <form class="transfer" data-testid="transfer-form" onSubmit=${submit}>
      <label for="transfer-to">${t('transfer.to')}</label>
      <select id="transfer-to" data-testid="transfer-to" value=${to} onChange=${(e) => setTo(e.target.value)}>
        ${targets.map((x) => html`<option value=${x.id}>${x.name} (${t(`level.${x.level}`)}${x.groups.length ? `, ${x.groups.join(', ')}` : ''})</option>`)}
        ${QUEUES.map((q) => html`<option value=${`queue:${q}`}>${t('transfer.queue', { queue: t(`category.${q}`) })}</option>`)}
      </select>
      <label for="transfer-reason">${t('transfer.reason')}</label>
      <input id="transfer-reason" data-testid="transfer-reason" maxlength="500" value=${reason}
        onInput=${(e) => setReason(e.target.value)} />
      ${consulting ? html`
        <button type="button" data-testid="transfer-complete" disabled=${busy} onClick=${complete}>${t('transfer.complete')}</button>
        <button type="button" class="secondary" data-testid="transfer-back" disabled=${busy} onClick=${back}>${t('transfer.back_btn')}</button>`
      : html`
        <button type="submit" data-testid="transfer-go" disabled=${busy || !to}>${t('transfer.go')}</button>
        <button type="button" class="secondary" data-testid="transfer-consult" disabled=${busy || !to || queue} onClick=${consult}>${t('transfer.consult')}</button>`}
      ${note ? html`<p class="hint" role="status" data-testid="transfer-note">${note}</p>` : null}
      ${error ? html`<p class="error" role="alert" data-testid="transfer-error">${error}</p>` : null}
    </form>`;
}
