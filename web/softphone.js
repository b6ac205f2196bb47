// firstline: the softphone in the agent desk (docs/webrtc.md). The agent's browser is the agent
// leg of a hotline call: one RTCPeerConnection per call (a new one after a reload or a failed
// connection), signalled over the desk's HTTP API with the session cookie and the CSRF header.
// Plain DOM, text only; every element the tests touch has a data-testid.

import { $ } from './dom.js';
const JSON_HEADERS = { 'Content-Type': 'application/json', 'X-Firstline-Csrf': '1' };
/** How long the browser may gather ICE candidates before it posts its offer anyway. */
const GATHER_MS = 3000;
/** How often a connected call reports its getStats() summary. */
const STATS_MS = 2000;
/** A connection failed or disconnected for this long is rebuilt (same flow as after a reload). */
const RECONNECT_AFTER_MS = 3000;
/** Call states (GET /api/agents/me/call) in which a reloaded desk takes the call back. */
const RESUMABLE = ['connected', 'held', 'browser_gone'];
const KEYS = [['1', '1'], ['2', '2'], ['3', '3'], ['4', '4'], ['5', '5'], ['6', '6'],
  ['7', '7'], ['8', '8'], ['9', '9'], ['*', 'star'], ['0', '0'], ['#', 'hash']];

/** One HTTP call of the desk API; the parsed JSON body (null for 204). Throws with the server's error. */
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { 'X-Firstline-Csrf': '1' } };
  if (body !== undefined) {
    init.headers = JSON_HEADERS;
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  if (!r.ok) {
    const err = new Error(json && json.error ? json.error : `${method} ${path}: status ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return { status: r.status, json };
}

/** A number for the API, or null when the browser did not measure it. */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Builds the softphone into the page. `showError(text)` is the desk's error banner.
 * Returns the hooks desk.js calls with what its WebSocket brings.
 */
export function createSoftphone({ showError }) {
  const phone = {
    device: 'phone',
    callId: null, // the call the panel is about
    caller: '',
    pc: null,
    stream: null, // the microphone (kept across reconnects)
    connectedAt: 0,
    held: false,
    muted: false,
    busy: false, // an offer is being negotiated
    ringing: false, // offered to this browser, not answered yet
    retries: 0, // reconnect attempts since the last connected state
    failedSince: 0,
    statsTimer: null,
    ring: null, // the ringtone's AudioContext
  };

  // ---- the panel ---------------------------------------------------------------------------

  function setStatus(s) {
    $('phone-status').textContent = s;
    $('phone-status').dataset.state = s;
    $('phone').dataset.state = s;
  }

  function render() {
    const inCall = !!phone.pc && phone.callId !== null;
    $('phone').hidden = phone.device !== 'browser' && phone.callId === null;
    $('phone-caller').textContent = phone.caller || '';
    $('phone-incoming').hidden = !(phone.callId !== null && !phone.pc && !phone.busy && phone.ringing);
    $('phone-controls').hidden = !inCall;
    $('phone-mute').textContent = phone.muted ? 'Unmute' : 'Mute';
    $('phone-mute').setAttribute('aria-pressed', String(phone.muted));
    $('phone-hold').textContent = phone.held ? 'Resume' : 'Hold';
    $('phone-hold').setAttribute('aria-pressed', String(phone.held));
    renderTimer();
  }

  function renderTimer() {
    const t = $('phone-timer');
    if (!phone.connectedAt) {
      t.textContent = '';
      return;
    }
    const s = Math.max(0, Math.floor((Date.now() - phone.connectedAt) / 1000));
    t.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }
  setInterval(renderTimer, 1000);

  function fail(what, e) {
    showError(`${what}: ${e && e.message ? e.message : e}`);
  }

  // ---- ringtone (WebAudio; a page without sound still rings visibly) ---------------------------

  function startRingtone() {
    stopRingtone();
    try {
      const ctx = new AudioContext();
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const f of [440, 480]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = f;
        osc.connect(gain);
        osc.start();
      }
      // 2 s on, 4 s off, for up to a minute.
      const t0 = ctx.currentTime;
      for (let i = 0; i < 10; i++) {
        gain.gain.setValueAtTime(0.1, t0 + i * 6);
        gain.gain.setValueAtTime(0, t0 + i * 6 + 2);
      }
      phone.ring = ctx;
    } catch (_) {
      phone.ring = null;
    }
  }

  function stopRingtone() {
    if (phone.ring) {
      phone.ring.close().catch(() => {});
      phone.ring = null;
    }
  }

  // ---- the peer connection -----------------------------------------------------------------

  async function microphone() {
    if (phone.stream && phone.stream.getAudioTracks().some((t) => t.readyState === 'live')) return phone.stream;
    phone.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    return phone.stream;
  }

  function waitForGathering(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        pc.removeEventListener('icegatheringstatechange', check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => { if (pc.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, GATHER_MS);
      pc.addEventListener('icegatheringstatechange', check);
    });
  }

  function closePc() {
    clearInterval(phone.statsTimer);
    phone.statsTimer = null;
    if (phone.pc) {
      const pc = phone.pc;
      phone.pc = null;
      try { pc.close(); } catch (_) { /* already closed */ }
    }
    $('phone-audio').srcObject = null;
  }

  /** Offers to the server for `callId` (answers the ringing call, or takes a live call back). */
  async function negotiate(callId, reconnecting) {
    if (phone.busy) return;
    phone.busy = true;
    stopRingtone();
    setStatus(reconnecting ? 'reconnecting' : 'connecting');
    render();
    try {
      const stream = await microphone();
      closePc();
      const pc = new RTCPeerConnection({ iceServers: [] });
      phone.pc = pc;
      const track = stream.getAudioTracks()[0];
      track.enabled = !phone.muted;
      pc.addTrack(track, stream);
      pc.addEventListener('track', (ev) => {
        const audio = $('phone-audio');
        audio.srcObject = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
        audio.play().catch(() => {});
      });
      pc.addEventListener('connectionstatechange', () => onConnectionState(pc));
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      await waitForGathering(pc);
      if (phone.pc !== pc || phone.callId !== callId) return; // the call ended meanwhile
      const { json } = await api('POST', `/api/calls/${encodeURIComponent(callId)}/webrtc`, { sdp: pc.localDescription.sdp });
      if (phone.pc !== pc) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: json.sdp });
      onConnectionState(pc);
    } catch (e) {
      fail(reconnecting ? 'reconnect' : 'answer', e);
      if (e && (e.status === 404 || e.status === 403)) {
        reset('ended');
      } else if (!reconnecting) {
        closePc();
        setStatus('ended');
      } else if (phone.callId === callId && phone.retries < 5) {
        // The server may still be taking the old leg down: try again shortly.
        phone.retries += 1;
        setTimeout(() => { if (phone.callId === callId && !phone.busy) negotiate(callId, true); }, 2000);
      }
    } finally {
      phone.busy = false;
      render();
    }
  }

  function onConnectionState(pc) {
    if (pc !== phone.pc) return;
    const s = pc.connectionState;
    if (s === 'connected') {
      phone.failedSince = 0;
      phone.retries = 0;
      if (!phone.connectedAt) phone.connectedAt = Date.now();
      setStatus(phone.held ? 'on hold' : 'connected');
      if (!phone.statsTimer) phone.statsTimer = setInterval(reportQuality, STATS_MS);
    } else if (s === 'failed' || s === 'disconnected') {
      if (!phone.failedSince) phone.failedSince = Date.now();
      setStatus('reconnecting');
    }
    render();
  }

  // A connection that stays failed or disconnected is rebuilt while the call lasts.
  setInterval(() => {
    if (!phone.pc || phone.busy || phone.callId === null || !phone.failedSince) return;
    const s = phone.pc.connectionState;
    if (s !== 'failed' && s !== 'disconnected') {
      phone.failedSince = 0;
      return;
    }
    if (Date.now() - phone.failedSince > RECONNECT_AFTER_MS) {
      phone.failedSince = 0;
      negotiate(phone.callId, true);
    }
  }, 500);

  /** Ends the panel's call on this side: no pc, no ringing; `status` stays shown. */
  function reset(status) {
    stopRingtone();
    closePc();
    phone.callId = null;
    phone.ringing = false;
    phone.connectedAt = 0;
    phone.held = false;
    phone.muted = false;
    phone.failedSince = 0;
    if (phone.stream) {
      for (const t of phone.stream.getTracks()) t.stop();
      phone.stream = null;
    }
    setStatus(status);
    $('phone-quality').textContent = '';
    render();
  }

  // ---- call quality ------------------------------------------------------------------------

  async function summary(pc) {
    const report = await pc.getStats();
    const out = { inbound: null, outbound: null, rtt: null };
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio')) out.inbound = s;
      else if (s.type === 'outbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio')) out.outbound = s;
      else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded'
        && typeof s.currentRoundTripTime === 'number') out.rtt = s.currentRoundTripTime;
    });
    return out;
  }

  async function reportQuality() {
    const pc = phone.pc;
    const callId = phone.callId;
    if (!pc || callId === null || pc.connectionState !== 'connected') return;
    try {
      const s = await summary(pc);
      const i = s.inbound || {};
      const received = num(i.packetsReceived);
      const lost = num(i.packetsLost);
      const body = {
        packets_received: received,
        packets_lost: lost,
        jitter_ms: num(i.jitter) === null ? null : i.jitter * 1000,
        rtt_ms: num(s.rtt) === null ? null : s.rtt * 1000,
        audio_level: num(i.audioLevel),
      };
      const loss = received !== null && lost !== null && received + lost > 0 ? (100 * lost) / (received + lost) : null;
      const fmt = (v, d) => (v === null ? '–' : v.toFixed(d));
      $('phone-quality').textContent = `loss ${fmt(loss, 1)} % · jitter ${fmt(body.jitter_ms, 0)} ms · rtt ${fmt(body.rtt_ms, 0)} ms`;
      await api('POST', `/api/calls/${encodeURIComponent(callId)}/quality`, body);
    } catch (e) {
      // A sample lost to a closing call or a network blip is not worth a banner.
      if (e && e.status && e.status !== 404) fail('call quality', e);
    }
  }

  window.firstlinePhone = {
    /** Keypad digits the server accepted (204) and refused, in order. */
    keys: () => ({ ...keys }),
    /** The current peer connection's counters (for tests and diagnostics). */
    stats: async () => {
      const pc = phone.pc;
      if (!pc) return { inbound: null, outbound: null, state: 'closed', callId: phone.callId };
      const s = await summary(pc);
      const i = s.inbound;
      const o = s.outbound;
      return {
        inbound: i ? {
          packetsReceived: i.packetsReceived || 0,
          bytesReceived: i.bytesReceived || 0,
          audioLevel: i.audioLevel || 0,
          totalAudioEnergy: i.totalAudioEnergy || 0,
        } : null,
        outbound: o ? { packetsSent: o.packetsSent || 0, bytesSent: o.bytesSent || 0 } : null,
        state: pc.connectionState,
        callId: phone.callId,
      };
    },
  };

  // ---- buttons -----------------------------------------------------------------------------

  $('phone-answer').addEventListener('click', () => {
    if (phone.callId !== null && !phone.pc) {
      phone.ringing = false;
      negotiate(phone.callId, false);
    }
  });

  $('phone-hangup').addEventListener('click', async () => {
    const callId = phone.callId;
    if (callId === null) return;
    try {
      await api('POST', `/api/calls/${encodeURIComponent(callId)}/hangup`);
    } catch (e) {
      if (e.status !== 404) fail('hang up', e);
    }
    reset('ended');
  });

  $('phone-mute').addEventListener('click', async () => {
    if (phone.callId === null) return;
    const on = !phone.muted;
    try {
      await api('POST', `/api/calls/${encodeURIComponent(phone.callId)}/mute`, { on });
      phone.muted = on;
      if (phone.stream) for (const t of phone.stream.getAudioTracks()) t.enabled = !on;
    } catch (e) {
      fail('mute', e);
    }
    render();
  });

  $('phone-hold').addEventListener('click', async () => {
    if (phone.callId === null) return;
    const on = !phone.held;
    try {
      await api('POST', `/api/calls/${encodeURIComponent(phone.callId)}/hold`, { on });
      phone.held = on;
      if (phone.pc && phone.pc.connectionState === 'connected') setStatus(on ? 'on hold' : 'connected');
    } catch (e) {
      fail('hold', e);
    }
    render();
  });

  /** Digits the server accepted or refused (for tests and diagnostics). */
  const keys = { accepted: '', refused: '' };
  const keypad = $('phone-keypad');
  for (const [digit, name] of KEYS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = digit;
    b.dataset.testid = `phone-key-${name}`;
    b.setAttribute('aria-label', `key ${digit}`);
    b.addEventListener('click', async () => {
      if (phone.callId === null) return;
      try {
        await api('POST', `/api/calls/${encodeURIComponent(phone.callId)}/dtmf`, { digits: digit });
        keys.accepted += digit;
      } catch (e) {
        keys.refused += digit;
        fail('keypad', e);
      }
    });
    keypad.append(b);
  }

  const select = $('device-select');
  select.addEventListener('change', async () => {
    const wanted = select.value;
    try {
      const { json } = await api('PUT', '/api/agents/me/device', { device: wanted });
      setDevice(json && json.device ? json.device : wanted);
      showError('');
    } catch (e) {
      select.value = phone.device;
      fail('device', e);
    }
  });

  function setDevice(device) {
    if (device !== 'phone' && device !== 'browser') return;
    phone.device = device;
    select.value = device;
    render();
  }

  // ---- what the desk's WebSocket and the page load bring -----------------------------------

  /** A pop frame (or the snapshot's call): a ringing offer rings the softphone. */
  function onPop(pop) {
    if (!pop || !pop.call_id) return;
    if (pop.call_id === phone.callId && pop.caller) {
      phone.caller = pop.caller;
      render();
    }
    if (pop.ended || pop.phase === 'ended') {
      if (phone.callId === pop.call_id) onCallEnded(pop.call_id);
      return;
    }
    if (phone.device !== 'browser') return;
    if (pop.phase === 'ringing' && phone.callId !== pop.call_id) ringFor(pop.call_id, pop.caller);
  }

  function ringFor(callId, caller) {
    if (phone.callId !== null) reset('ended');
    phone.callId = callId;
    phone.caller = caller || 'unknown number';
    phone.ringing = true;
    setStatus('ringing');
    startRingtone();
    render();
  }

  function onCallEnded(callId) {
    if (phone.callId !== null && phone.callId === callId) reset('ended');
  }

  /** The server's hold state of this agent's call (`call_held` frame): Hold pressed in another
   * of the agent's tabs shows here too. `browser_gone` is about a desk that lost the call. */
  function onHeld(f) {
    if (phone.callId === null || phone.callId !== f.call_id || f.reason !== 'agent') return;
    phone.held = !!f.held;
    if (phone.pc && phone.pc.connectionState === 'connected') setStatus(phone.held ? 'on hold' : 'connected');
    render();
  }

  /** After the login check: the agent's device, and a call to take back after a reload. */
  async function start() {
    try {
      const { json } = await api('GET', '/api/me');
      const d = json && (json.device || (json.agent && json.agent.device));
      if (d) setDevice(d);
    } catch (_) {
      return; // not signed in: the desk sends the page to the login
    }
    try {
      const { status, json } = await api('GET', '/api/agents/me/call');
      if (status !== 200 || !json || !json.call_id) return;
      if (json.device) setDevice(json.device);
      if (json.device !== 'browser') return;
      if (json.state === 'ringing' && phone.callId !== json.call_id) {
        ringFor(json.call_id, json.caller);
      } else if (RESUMABLE.includes(json.state)) {
        phone.callId = json.call_id;
        phone.held = !!json.held;
        phone.muted = !!json.muted;
        phone.ringing = false;
        phone.connectedAt = Date.now();
        if (!phone.caller) phone.caller = json.caller || '';
        await negotiate(json.call_id, true);
      }
    } catch (e) {
      if (e.status !== 404 && e.status !== 401) fail('current call', e);
    }
  }

  setStatus('idle');
  render();
  return {
    onPop,
    onCallEnded,
    onOfferWithdrawn: onCallEnded,
    onHeld,
    /** The agent in a snapshot or an agent_state frame (may carry `device`). */
    onAgent: (agent) => { if (agent && agent.device) setDevice(agent.device); },
    start,
  };
}
