// firstline desk: the softphone panel (browser device), drawn from the softphone controller's
// state (softphone.js): status, Answer while ringing, and in a call Hang up, Mute, Hold and the
// keypad. Every element the tests touch has a data-testid.

import { html, useEffect, useRef } from '../ui.js';
import { fmtDuration, t } from '../i18n.js';
import * as act from './actions.js';
import { useNow } from './hooks.js';

const KEYS = [['1', '1'], ['2', '2'], ['3', '3'], ['4', '4'], ['5', '5'], ['6', '6'],
  ['7', '7'], ['8', '8'], ['9', '9'], ['*', 'star'], ['0', '0'], ['#', 'hash']];

export function PhonePanel() {
  const p = act.phone.state;
  const a = act.phone.actions;
  const audio = useRef(null);
  useNow(); // the call timer ticks
  useEffect(() => a.setAudio(audio.current), [audio.current]);
  const inCall = p.callId !== null && ['connected', 'on_hold', 'reconnecting', 'connecting'].includes(p.status);
  const shown = p.device === 'browser' || p.callId !== null;
  const q = p.quality;
  const fmt = (v, d) => (v === null || v === undefined ? t('none') : v.toFixed(d));
  return html`
    <section class="phone" data-testid="phone" data-state=${p.status} hidden=${!shown}>
      <p class="phone-line">
        <strong data-testid="phone-status" data-state=${p.status} role="status" aria-live="polite">
          ${t(`phone.status.${p.status}`)}</strong>
        <span data-testid="phone-incoming" hidden=${!a.canAnswer()}>
          <span data-testid="phone-caller">${p.caller}</span>
          <button type="button" class="answer" data-testid="phone-answer" onClick=${a.answer} title=${t('keys.answer')}>
            ${t('phone.answer')}</button>
        </span>
        <span data-testid="phone-timer" class="phone-timer">${p.connectedAt ? fmtDuration(Date.now() - p.connectedAt) : ''}</span>
        <span data-testid="phone-quality" class="muted">${q ? t('phone.quality', {
          loss: fmt(q.loss, 1), jitter: fmt(q.jitter, 0), rtt: fmt(q.rtt, 0),
        }) : ''}</span>
      </p>
      <div class="phone-controls" data-testid="phone-controls" hidden=${!inCall}>
        <button type="button" class="hangup" data-testid="phone-hangup" onClick=${a.hangup}>${t('phone.hangup')}</button>
        <button type="button" class="secondary" data-testid="phone-mute" aria-pressed=${String(p.muted)}
          onClick=${a.toggleMute}>${p.muted ? t('phone.unmute') : t('phone.mute')}</button>
        <button type="button" class="secondary" data-testid="phone-hold" aria-pressed=${String(p.held)}
          onClick=${a.toggleHold}>${p.held ? t('phone.resume') : t('phone.hold')}</button>
        <div class="keypad" data-testid="phone-keypad" role="group" aria-label=${t('phone.keypad')}>
          ${KEYS.map(([digit, name]) => html`
            <button type="button" class="secondary" data-testid=${`phone-key-${name}`}
              aria-label=${t('phone.key', { digit })} onClick=${() => a.key(digit)}>${digit}</button>`)}
        </div>
      </div>
      <audio ref=${audio} data-testid="phone-audio" autoplay></audio>
    </section>`;
}
