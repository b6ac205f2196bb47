// firstline supervisor: the confirmation dialog every action goes through, and the keyboard
// help overlay (opened with `?`). Both are native <dialog>s (focus kept inside, Esc closes).

import { html, useEffect, useRef } from '../ui.js';
import { t } from '../i18n.js';
import { QUEUES } from './model.js';
import { queueWord } from './words.js';

/**
 * The confirmation of one action. `request`: null, or `{ message, reason?, queue?, run }`:
 * `reason` (a default text) shows a reason field, `queue` (the current queue) a queue choice;
 * `run({ reason, queue })` is called when the supervisor confirms. `onClose()` in every case.
 */
export function ConfirmDialog({ request, onClose }) {
  const dialog = useRef(null);
  const reason = useRef(null);
  const queue = useRef(null);
  useEffect(() => {
    const d = dialog.current;
    if (request && !d.open) {
      // Uncontrolled fields: set once per request, so a re-render never undoes typing.
      if (reason.current) reason.current.value = request.reason;
      if (queue.current) queue.current.value = QUEUES.find((q) => q !== request.queue);
      d.returnValue = '';
      d.showModal();
    } else if (!request && d.open) {
      d.close();
    }
  }, [request]);
  const closed = () => {
    const d = dialog.current;
    if (request && d.returnValue === 'ok') {
      const why = reason.current ? reason.current.value.trim() : '';
      request.run({ reason: why || 'supervisor', queue: queue.current ? queue.current.value : null });
    }
    onClose();
  };
  const hasReason = !!request && 'reason' in request;
  const hasQueue = !!request && 'queue' in request;
  return html`
    <dialog ref=${dialog} data-testid="confirm" aria-labelledby="confirm-msg" onClose=${closed}>
      <form method="dialog">
        <p id="confirm-msg" data-testid="confirm-msg">${request ? request.message : ''}</p>
        ${hasReason && html`
          <label class="field">${t('confirm.reason')}
            <input ref=${reason} data-testid="confirm-reason" maxlength="100" />
          </label>`}
        ${hasQueue && html`
          <label class="field">${t('confirm.to_queue')}
            <select ref=${queue} data-testid="confirm-queue">
              ${QUEUES.filter((q) => q !== request.queue).map((q) => html`
                <option value=${q}>${queueWord(q)}</option>`)}
            </select>
          </label>`}
        <div class="dialog-buttons">
          <button type="button" data-testid="confirm-cancel" class="secondary"
            onClick=${() => dialog.current.close('cancel')}>${t('action.cancel')}</button>
          <button type="submit" value="ok" data-testid="confirm-ok">${t('confirm.ok')}</button>
        </div>
      </form>
    </dialog>`;
}

/** The shortcuts, as the help overlay lists them: [keys, catalogue key of what they do]. */
export const SHORTCUTS = [
  [['?'], 'keys.help'],
  [['l'], 'keys.live'],
  [['r'], 'keys.reports'],
  [['w'], 'keys.wallboard'],
  [['a'], 'keys.agents'],
  [['c'], 'keys.callers'],
  [['↑', '↓'], 'keys.rows'],
  [['+'], 'keys.raise'],
  [['-'], 'keys.lower'],
  [['m'], 'keys.move'],
  [['n'], 'keys.not_ready'],
  [['o'], 'keys.logout'],
  [['Esc'], 'keys.close'],
];

/** The keyboard help overlay. */
export function HelpDialog({ open, onClose }) {
  const dialog = useRef(null);
  useEffect(() => {
    const d = dialog.current;
    if (open && !d.open) d.showModal();
    else if (!open && d.open) d.close();
  }, [open]);
  return html`
    <dialog ref=${dialog} class="help" data-testid="help" aria-labelledby="help-title" onClose=${onClose}>
      <form method="dialog">
        <h2 id="help-title">${t('keys.title')}</h2>
        <p class="muted">${t('keys.intro')}</p>
        <table class="keys">
          <tbody>
            ${SHORTCUTS.map(([keys, what]) => html`
              <tr><th scope="row">${keys.map((k) => html`<kbd>${k}</kbd> `)}</th><td>${t(what)}</td></tr>`)}
          </tbody>
        </table>
        <div class="dialog-buttons">
          <button value="close" data-testid="help-close">${t('action.close')}</button>
        </div>
      </form>
    </dialog>`;
}
