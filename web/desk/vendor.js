// firstline desk: an intake's cases with vendors (the third level). Each case shows its
// reference, contact, promised response and follow-up date; an open case can be kept up to
// date (the vendor's answers become notes in the history) and closed with what it came to,
// which hands the intake back to its owner. Times are typed in the browser's local time.

import { html, useState } from '../ui.js';
import { fmtDateTime, t } from '../i18n.js';
import * as act from './actions.js';

/** `YYYY-MM-DDTHH:MM` (a datetime-local value) → epoch ms; empty or invalid → undefined. */
const fromLocal = (v) => {
  if (!v) return undefined;
  const ms = new Date(v).getTime();
  return Number.isFinite(ms) ? ms : undefined;
};

export function VendorCases({ intake }) {
  const cases = intake.vendor_cases || [];
  if (!cases.length) return null;
  return html`
    <section class="vendor-cases">
      <h3>${t('vendor.title')}</h3>
      ${cases.map((c) => html`<${VendorCase} key=${c.id} c=${c} />`)}
    </section>`;
}

function VendorCase({ c }) {
  const open = c.status === 'open';
  return html`
    <div class=${`vendor-case vendor-${c.status}`} data-testid=${`vendor-case-${c.id}`} data-status=${c.status}>
      <dl>
        <dt>${t('vendor.vendor')}</dt><dd data-testid="vendor-name">${c.vendor}</dd>
        <dt>${t('vendor.case_ref')}</dt><dd data-testid="vendor-ref">${c.case_ref || '–'}</dd>
        <dt>${t('vendor.contact')}</dt><dd data-testid="vendor-contact">${c.contact || '–'}</dd>
        <dt>${t('vendor.promised')}</dt><dd>${c.promised_at ? fmtDateTime(c.promised_at) : '–'}</dd>
        <dt>${t('vendor.follow_up')}</dt><dd data-testid="vendor-follow-up">${c.follow_up_at ? fmtDateTime(c.follow_up_at) : '–'}</dd>
        ${!open ? html`<dt>${t('vendor.outcome')}</dt><dd data-testid="vendor-outcome">${c.outcome || ''}</dd>` : null}
      </dl>
      ${open ? html`<${CaseForm} c=${c} /><${CloseForm} c=${c} />` : null}
    </div>`;
}

function CaseForm({ c }) {
  const [f, setF] = useState({ case_ref: '', contact: '', promised: '', follow_up: '', answer: '' });
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF((x) => ({ ...x, [k]: e.target.value }));
  const submit = async (e) => {
    e.preventDefault();
    const fields = {};
    if (f.case_ref.trim()) fields.case_ref = f.case_ref.trim();
    if (f.contact.trim()) fields.contact = f.contact.trim();
    if (fromLocal(f.promised) !== undefined) fields.promised_at = fromLocal(f.promised);
    if (fromLocal(f.follow_up) !== undefined) fields.follow_up_at = fromLocal(f.follow_up);
    if (f.answer.trim()) fields.answer = f.answer.trim();
    if (!Object.keys(fields).length) return;
    setBusy(true);
    setError('');
    try {
      await act.editVendorCase(c.id, fields);
      setF({ case_ref: '', contact: '', promised: '', follow_up: '', answer: '' });
    } catch (err) {
      setError(act.errorText(err, 'vendor'));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="vendor-form" onSubmit=${submit} data-testid="vendor-form">
      <label>${t('vendor.case_ref')}<input data-testid="vendor-ref-input" maxlength="200" value=${f.case_ref} onInput=${set('case_ref')} /></label>
      <label>${t('vendor.contact')}<input data-testid="vendor-contact-input" maxlength="200" value=${f.contact} onInput=${set('contact')} /></label>
      <label>${t('vendor.promised')}<input type="datetime-local" step="1" data-testid="vendor-promised-input" value=${f.promised} onInput=${set('promised')} /></label>
      <label>${t('vendor.follow_up')}<input type="datetime-local" step="1" data-testid="vendor-follow-up-input" value=${f.follow_up} onInput=${set('follow_up')} /></label>
      <label>${t('vendor.answer')}<textarea data-testid="vendor-answer-input" rows="2" maxlength="10000" value=${f.answer} onInput=${set('answer')}></textarea></label>
      <button type="submit" class="secondary" data-testid="vendor-save" disabled=${busy}>${t('vendor.save')}</button>
      ${error ? html`<p class="inline-error" data-testid="vendor-error">${error}</p>` : null}
    </form>`;
}

function CloseForm({ c }) {
  const [outcome, setOutcome] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    if (!outcome.trim()) {
      setError(t('vendor.outcome_required'));
      return;
    }
    try {
      await act.closeVendorCase(c.id, outcome.trim());
    } catch (err) {
      setError(act.errorText(err, 'vendor'));
    }
  };
  return html`
    <form class="inline-form" onSubmit=${submit}>
      <label class="sr-only" for=${`vendor-outcome-${c.id}`}>${t('vendor.outcome')}</label>
      <input id=${`vendor-outcome-${c.id}`} data-testid="vendor-outcome-input" maxlength="10000" value=${outcome}
        placeholder=${t('vendor.outcome_placeholder')} onInput=${(e) => setOutcome(e.target.value)} />
      <button type="submit" data-testid="vendor-close" >${t('vendor.close')}</button>
      ${error ? html`<p class="inline-error">${error}</p>` : null}
    </form>`;
}
