// firstline desk: keyboard shortcuts for the frequent actions and the help overlay that lists
// them. Alt+Shift+letter (by physical key, so any keyboard layout works; browsers keep Alt+letter
// for their own menus): A answer, D description, R resolve, E escalate, W wrap-up done,
// S search; `?` outside a text field opens the help, Escape closes it.

import { html, useEffect, useRef } from '../ui.js';
import { t } from '../i18n.js';
import * as act from './actions.js';

/** The shortcuts: physical key, catalogue key of what it does, and the action. */
export const SHORTCUTS = [
  ['KeyA', 'keys.answer', () => (act.phone.actions.canAnswer() ? act.phone.actions.answer() : null)],
  ['KeyD', 'keys.description', () => focus('intake-description')],
  ['KeyR', 'keys.resolve', () => outcome('resolve', 'resolve-solution', 'resolve-btn')],
  ['KeyE', 'keys.escalate', () => outcome('escalate', 'escalate-target', 'escalate-btn')],
  ['KeyW', 'keys.wrapup', () => click('wrapup-btn')],
  ['KeyS', 'keys.search', () => act.show({ kind: 'search' })],
];

const byTestid = (id) => document.querySelector(`[data-testid="${id}"]`);

/** Focuses a field; when the workspace shows a list, the call comes back first. */
function focus(id) {
  if (!byTestid(id)) act.show({ kind: 'call' });
  setTimeout(() => { const e = byTestid(id); if (e && !e.disabled) e.focus(); }, 0);
}

function click(id) {
  const e = byTestid(id);
  if (e && !e.disabled) e.click();
}

/**
 * Resolve / escalate from the keyboard: the first press opens that form and focuses its first
 * field; pressed again with the form filled in, it submits.
 */
function outcome(tab, field, button) {
  const tabButton = byTestid(`outcome-tab-${tab}`);
  const input = byTestid(field);
  if (tabButton && tabButton.getAttribute('aria-selected') !== 'true') {
    tabButton.click();
    setTimeout(() => { const f = byTestid(field); if (f) f.focus(); }, 0);
    return;
  }
  if (input && document.activeElement !== input && !input.value) {
    input.focus();
    return;
  }
  click(button);
}

/** Installs the shortcuts while the desk is shown; `onHelp` toggles the overlay. */
export function useShortcuts(_s, onHelp) {
  const help = useRef(onHelp);
  help.current = onHelp;
  useEffect(() => {
    const onKey = (e) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target && e.target.tagName) || '');
      if (e.key === '?' && !typing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        help.current();
        return;
      }
      if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey) return;
      const hit = SHORTCUTS.find(([code]) => code === e.code);
      if (!hit) return;
      e.preventDefault();
      hit[2]();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export function HelpOverlay({ onClose }) {
  const box = useRef(null);
  useEffect(() => {
    if (box.current) box.current.focus();
    const onKey = (e) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return html`
    <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title" data-testid="help-overlay"
      onClick=${(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div class="overlay-box" tabindex="-1" ref=${box}>
        <h2 id="help-title">${t('help.title')}</h2>
        <table class="grid">
          <tbody>
            ${SHORTCUTS.map(([code, label]) => html`
              <tr><th scope="row"><kbd>Alt</kbd>+<kbd>Shift</kbd>+<kbd>${code.slice(3)}</kbd></th><td>${t(label)}</td></tr>`)}
            <tr><th scope="row"><kbd>?</kbd></th><td>${t('help.open')}</td></tr>
            <tr><th scope="row"><kbd>Esc</kbd></th><td>${t('help.close')}</td></tr>
          </tbody>
        </table>
        <button type="button" data-testid="help-close" onClick=${onClose}>${t('action.close')}</button>
      </div>
    </div>`;
}
