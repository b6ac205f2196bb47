// firstline desk: the softphone's controller (docs/webrtc.md). The agent's browser is the agent leg
// of a hotline call: one RTCPeerConnection per call (a new one after a reload or a failed
// connection), signalled over the desk's HTTP API (ui.api: session cookie, CSRF header). No DOM
// but the <audio> element the view hands over: the view (phone.js) renders `softphone.state`.

import { api } from '../ui.js';

/** How long the browser may gather ICE candidates before it posts its offer anyway. */
const GATHER_MS = 3000;
/** How often a connected call reports its getStats() summary. */
const STATS_MS = 2000;
/** A connection failed or disconnected for this long is rebuilt (same flow as after a reload). */
const RECONNECT_AFTER_MS = 3000;
/** Call states (GET /api/agents/me/call) in which a reloaded desk takes the call back. */
const RESUMABLE = ['connected', 'held', 'browser_gone'];

/** A number for the API, or null when the browser did not measure it. */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const path = (callId, what) => `/api/calls/${encodeURIComponent(callId)}/${what}`;

/**
 * The softphone. `onError(what, error)` reports a failure (the desk shows it); `onChange()` is
 * called after every change of `state`.
 */
export function createSoftphone({ onError, onChange }) {
  const state = {
    device: 'phone',
    status: 'idle', // idle | ringing | connecting | connected | on_hold | reconnecting | ended
    callId: null, // the call the panel is about
    caller: '',
    connectedAt: 0,
    held: false,
    muted: false,
    ringing: false, // offered to this browser, not answered yet
    quality: null, // { loss, jitter, rtt } of the last sample
  };
  const keys = { accepted: '', refused: '' };
  let pc = null;
  let stream = null; // the microphone (kept across reconnects)
  let busy = false; // an offer is being negotiated
  let retries = 0;
  let failedSince = 0;
  let statsTimer = null;
  let ring = null; // the ringtone's AudioContext
  let audio = null;

  const changed = () => onChange();
  const fail = (what, e) => onError(what, e);
  function setStatus(s) {
    state.status = s;
    changed();
  }

  // ---- ringtone (WebAudio; a page without sound still rings visibly) -----------------------

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
      ring = ctx;
    } catch (_) {
      ring = null;
    }
  }

  function stopRingtone() {
    if (ring) {
      ring.close().catch(() => {});
      ring = null;
    }
  }

  // ---- the peer connection -----------------------------------------------------------------

  async function microphone() {
    if (stream && stream.getAudioTracks().some((tr) => tr.readyState === 'live')) return stream;
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    return stream;
  }

  function waitForGathering(conn) {
    if (conn.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        conn.removeEventListener('icegatheringstatechange', check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => { if (conn.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, GATHER_MS);
      conn.addEventListener('icegatheringstatechange', check);
    });
  }

  function closePc() {
    clearInterval(statsTimer);
    statsTimer = null;
    if (pc) {
      const old = pc;
      pc = null;
      try { old.close(); } catch (_) { /* already closed */ }
    }
    if (audio) audio.srcObject = null;
  }

  /** Offers to the server for `callId` (answers the ringing call, or takes a live call back). */
  async function negotiate(callId, reconnecting) {
    if (busy) return;
    busy = true;
    stopRingtone();
    setStatus(reconnecting ? 'reconnecting' : 'connecting');
    try {
      const mic = await microphone();
      closePc();
      const conn = new RTCPeerConnection({ iceServers: [] });
      pc = conn;
      const track = mic.getAudioTracks()[0];
      track.enabled = !state.muted;
      conn.addTrack(track, mic);
      conn.addEventListener('track', (ev) => {
        if (!audio) return;
        audio.srcObject = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
        audio.play().catch(() => {});
      });
      conn.addEventListener('connectionstatechange', () => onConnectionState(conn));
      await conn.setLocalDescription(await conn.createOffer());
      await waitForGathering(conn);
      if (pc !== conn || state.callId !== callId) return; // the call ended meanwhile
      const { json } = await api('POST', path(callId, 'webrtc'), { sdp: conn.localDescription.sdp });
      if (pc !== conn) return;
      await conn.setRemoteDescription({ type: 'answer', sdp: json.sdp });
      onConnectionState(conn);
    } catch (e) {
      fail(reconnecting ? 'reconnect' : 'answer', e);
      if (e && (e.status === 404 || e.status === 403)) {
        reset('ended');
      } else if (!reconnecting) {
        closePc();
        setStatus('ended');
      } else if (state.callId === callId && retries < 5) {
        // The server may still be taking the old leg down: try again shortly.
        retries += 1;
        setTimeout(() => { if (state.callId === callId && !busy) negotiate(callId, true); }, 2000);
      }
    } finally {
      busy = false;
      changed();
    }
  }

  function onConnectionState(conn) {
    if (conn !== pc) return;
    const s = conn.connectionState;
    if (s === 'connected') {
      failedSince = 0;
      retries = 0;
      if (!state.connectedAt) state.connectedAt = Date.now();
      setStatus(state.held ? 'on_hold' : 'connected');
      if (!statsTimer) statsTimer = setInterval(reportQuality, STATS_MS);
    } else if (s === 'failed' || s === 'disconnected') {
      if (!failedSince) failedSince = Date.now();
      setStatus('reconnecting');
    }
  }

  // A connection that stays failed or disconnected is rebuilt while the call lasts.
  setInterval(() => {
    if (!pc || busy || state.callId === null || !failedSince) return;
    const s = pc.connectionState;
    if (s !== 'failed' && s !== 'disconnected') {
      failedSince = 0;
      return;
    }
    if (Date.now() - failedSince > RECONNECT_AFTER_MS) {
      failedSince = 0;
      negotiate(state.callId, true);
    }
  }, 500);

  /** Ends the panel's call on this side: no pc, no ringing; `status` stays shown. */
  function reset(status) {
    stopRingtone();
    closePc();
    Object.assign(state, { callId: null, ringing: false, connectedAt: 0, held: false, muted: false, quality: null });
    failedSince = 0;
    if (stream) {
      for (const tr of stream.getTracks()) tr.stop();
      stream = null;
    }
    setStatus(status);
  }

  // ---- call quality ------------------------------------------------------------------------

  async function summary(conn) {
    const report = await conn.getStats();
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
    const conn = pc;
    const callId = state.callId;
    if (!conn || callId === null || conn.connectionState !== 'connected') return;
    try {
      const s = await summary(conn);
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
      state.quality = { loss, jitter: body.jitter_ms, rtt: body.rtt_ms };
      changed();
      await api('POST', path(callId, 'quality'), body);
    } catch (e) {
      // A sample lost to a closing call or a network blip is not worth a banner.
      if (e && e.status && e.status !== 404) fail('quality', e);
    }
  }

  window.firstlinePhone = {
    /** Keypad digits the server accepted (204) and refused, in order. */
    keys: () => ({ ...keys }),
    /** The current peer connection's counters (for tests and diagnostics). */
    stats: async () => {
      const conn = pc;
      if (!conn) return { inbound: null, outbound: null, state: 'closed', callId: state.callId };
      const s = await summary(conn);
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
        state: conn.connectionState,
        callId: state.callId,
      };
    },
  };

  // ---- what the buttons do -----------------------------------------------------------------

  const actions = {
    /** Whether Answer makes sense now. */
    canAnswer: () => state.callId !== null && !pc && !busy && state.ringing,
    answer() {
      if (!actions.canAnswer()) return;
      state.ringing = false;
      negotiate(state.callId, false);
    },
    async hangup() {
      const callId = state.callId;
      if (callId === null) return;
      try {
        await api('POST', path(callId, 'hangup'));
      } catch (e) {
        if (e.status !== 404) fail('hangup', e);
      }
      reset('ended');
    },
    async toggleMute() {
      if (state.callId === null) return;
      const on = !state.muted;
      try {
        await api('POST', path(state.callId, 'mute'), { on });
        state.muted = on;
        if (stream) for (const tr of stream.getAudioTracks()) tr.enabled = !on;
      } catch (e) {
        fail('mute', e);
      }
      changed();
    },
    async toggleHold() {
      if (state.callId === null) return;
      const on = !state.held;
      try {
        await api('POST', path(state.callId, 'hold'), { on });
        state.held = on;
        if (pc && pc.connectionState === 'connected') state.status = on ? 'on_hold' : 'connected';
      } catch (e) {
        fail('hold', e);
      }
      changed();
    },
    async key(digit) {
      if (state.callId === null) return;
      try {
        await api('POST', path(state.callId, 'dtmf'), { digits: digit });
        keys.accepted += digit;
      } catch (e) {
        keys.refused += digit;
        fail('keypad', e);
      }
    },
    /** Asks the server to answer on `device`; resolves with the device now set. */
    async setDevice(device) {
      const { json } = await api('PUT', '/api/agents/me/device', { device });
      setDevice(json && json.device ? json.device : device);
      return state.device;
    },
    setAudio(el) {
      audio = el;
    },
  };

  function setDevice(device) {
    if (device !== 'phone' && device !== 'browser') return;
    state.device = device;
    changed();
  }

  // ---- what the desk's WebSocket and the page load bring -----------------------------------

  function ringFor(callId, caller) {
    if (state.callId !== null) reset('ended');
    Object.assign(state, { callId, caller: caller || '', ringing: true });
    setStatus('ringing');
    startRingtone();
  }

  function onCallEnded(callId) {
    if (state.callId !== null && state.callId === callId) reset('ended');
  }

  const hooks = {
    /** A pop frame (or the snapshot's call): a ringing offer rings the softphone. */
    onPop(pop) {
      if (!pop || !pop.call_id) return;
      if (pop.call_id === state.callId && pop.caller) {
        state.caller = pop.caller;
        changed();
      }
      if (pop.ended || pop.phase === 'ended') {
        onCallEnded(pop.call_id);
        return;
      }
      if (state.device !== 'browser') return;
      if (pop.phase === 'ringing' && state.callId !== pop.call_id) ringFor(pop.call_id, pop.caller);
    },
    onCallEnded,
    /** The server's hold state of this agent's call (`call_held`): Hold pressed in another of the
     * agent's tabs shows here too. `browser_gone` is about a desk that lost the call. */
    onHeld(f) {
      if (state.callId === null || state.callId !== f.call_id || f.reason !== 'agent') return;
      state.held = !!f.held;
      if (pc && pc.connectionState === 'connected') state.status = state.held ? 'on_hold' : 'connected';
      changed();
    },
    onDevice(device) {
      setDevice(device);
    },
    /** After the login check: a call to take back after a reload. */
    async start() {
      try {
        const { status, json } = await api('GET', '/api/agents/me/call');
        if (status !== 200 || !json || !json.call_id) return;
        if (json.device) setDevice(json.device);
        if (json.device !== 'browser') return;
        if (json.state === 'ringing' && state.callId !== json.call_id) {
          ringFor(json.call_id, json.caller);
        } else if (RESUMABLE.includes(json.state)) {
          Object.assign(state, {
            callId: json.call_id, held: !!json.held, muted: !!json.muted, ringing: false, connectedAt: Date.now(),
          });
          if (!state.caller) state.caller = json.caller || '';
          await negotiate(json.call_id, true);
        }
      } catch (e) {
        if (e.status !== 404 && e.status !== 401) fail('current_call', e);
      }
    },
  };

  return { state, actions, hooks };
}
