// firstline desk: the page's state and how the server's frames change it (docs/protocol.md). No
// DOM here: the view (app.js) renders whatever this state says, so nothing of one intake can
// survive into the next. Frames are applied by `applyFrame(state, frame)`, which returns a new
// state object (the parts it touched are new objects; the rest is shared).

/** Where the workspace is: the call in the pop, one intake, or a work list. */
export const VIEWS = ['call', 'intake', 'search', 'recent', 'inbox', 'customer'];

export function initialState() {
  return {
    me: null, // GET /api/me: { agent, state, … }
    lists: { second_level: [], third_level: [], time_zone: 'Europe/Amsterdam' },
    agent: null, // { id, name, state, reason, reason_code, since }
    device: null, // the `device` frame: { device, registered, transport, reachable, … }
    call: null, // the pop body, with `ended: true` once the call is over
    intakes: {}, // id → the latest intake object the server sent or the API returned
    view: { kind: 'call' }, // what the workspace shows (see VIEWS)
    missed: [], // offer_missed frames not yet dismissed (newest first)
    followUps: [], // vendor cases whose follow-up date has come (follow_up frames, /api/me/follow-ups)
    banners: [], // { id, text, scope: { callId?, intakeId? } }
    conn: 'connecting',
    skew: 0, // server time − Date.now(), from welcome.server_time
  };
}

/** The part of the state a reloaded tab restores before it resumes after the stored seq. */
export function resumable(s) {
  return { agent: s.agent, device: s.device, call: s.call, intakes: s.intakes, view: s.view, missed: s.missed };
}

/** The intake the pop is about (the draft, or the intake it continued), if known. */
export function callIntake(s) {
  if (!s.call) return null;
  const id = s.call.intake_id || (s.call.intake && s.call.intake.id);
  return id ? s.intakes[id] || s.call.intake || null : null;
}

/** Whether an intake has its outcome (nothing more is required of the first level). */
export const isFinal = (i) => !!i && ['resolved', 'escalated', 'closed'].includes(i.status);

function withIntake(s, intake) {
  if (!intake || !intake.id) return s;
  return { ...s, intakes: { ...s.intakes, [intake.id]: { ...(s.intakes[intake.id] || {}), ...intake } } };
}

/** Applies one server frame. */
export function applyFrame(s, f) {
  switch (f.type) {
    case 'welcome':
      return {
        ...s,
        conn: 'live',
        skew: typeof f.server_time === 'number' ? f.server_time - Date.now() : s.skew,
        banners: s.banners.filter((b) => b.scope.kind !== 'connection'),
      };
    case 'snapshot': {
      let next = {
        ...s,
        agent: f.agent || null,
        device: f.device || s.device,
        lists: f.lists ? { ...s.lists, ...f.lists } : s.lists,
        call: f.call || null,
      };
      if (f.call && f.call.intake) next = withIntake(next, f.call.intake);
      if (f.intake) next = withIntake(next, f.intake);
      if (f.call) next.view = { kind: 'call' };
      return next;
    }
    case 'agent_state': {
      const agent = { ...(s.agent || {}), state: f.state, reason: f.reason, reason_code: f.reason_code ?? null, since: f.since };
      let next = { ...s, agent };
      if (f.state === 'available') {
        // Back to work: an ended call whose intake has its outcome leaves the desk (idle again),
        // and missed-call notices have done their job.
        if (s.call && s.call.ended && isFinal(callIntake(s))) next = { ...next, call: null };
        next.missed = [];
        next.banners = s.banners.filter((b) => b.scope.kind !== 'state');
        if (next.call === null && s.view.kind === 'call') next.view = { kind: 'call' };
      }
      return next;
    }
    case 'device':
      return { ...s, device: { ...f } };
    case 'pop': {
      const sameCall = s.call && s.call.call_id === f.call_id;
      let next = { ...s, call: { ...f, ended: f.phase === 'ended' || (sameCall && s.call.ended) } };
      if (f.intake) next = withIntake(next, f.intake);
      if (f.phase === 'ringing' || !sameCall) {
        // A new caller: the workspace shows them; earlier calls' messages go.
        next.view = { kind: 'call' };
        next.banners = s.banners.filter((b) => !b.scope.callId && !b.scope.intakeId);
      }
      return next;
    }
    case 'call_ended':
      if (!s.call || s.call.call_id !== f.call_id) return s;
      return { ...s, call: { ...s.call, ended: true, phase: 'ended', ended_at: f.ended_at ?? s.call.ended_at ?? null } };
    case 'offer_withdrawn':
      if (!s.call || s.call.call_id !== f.call_id) return s;
      return { ...s, call: null, banners: s.banners.filter((b) => b.scope.callId !== f.call_id) };
    case 'follow_up':
      return { ...s, followUps: [f, ...s.followUps.filter((x) => x.case_id !== f.case_id)].slice(0, 20) };
    case 'offer_missed':
      return { ...s, missed: [f, ...s.missed.filter((m) => m.call_id !== f.call_id)].slice(0, 5) };
    case 'intake': {
      const intake = f.intake || stripFrame(f);
      let next = withIntake(s, intake);
      // An outcome or another change removes messages about this intake that it answers.
      if (isFinal(next.intakes[intake.id])) {
        next = { ...next, banners: next.banners.filter((b) => b.scope.intakeId !== intake.id) };
      }
      if (s.call && s.call.intake && s.call.intake.id !== intake.id && Array.isArray(intake.calls)
        && intake.calls.includes(s.call.call_id)) {
        // The call continued an existing intake: the pop is about that one now.
        next = { ...next, call: { ...next.call, intake_id: intake.id } };
      }
      return next;
    }
    case 'customer': {
      if (!s.call) return s;
      const c = stripFrame(f);
      const isCaller = s.call.customer && s.call.customer.id === c.id;
      const linked = !s.call.customer && callIntake(s) && callIntake(s).customer_id === c.id;
      if (!isCaller && !linked) return s;
      return { ...s, call: { ...s.call, customer: c, candidates: [] } };
    }
    default:
      return s;
  }
}

function stripFrame(f) {
  const { v, seq, type, ...rest } = f;
  return rest;
}

/** Adds a banner (replacing one with the same id). */
export function addBanner(s, id, text, scope = {}) {
  return { ...s, banners: [...s.banners.filter((b) => b.id !== id), { id, text, scope }] };
}

/** Removes the banner `id`. */
export function dropBanner(s, id) {
  return { ...s, banners: s.banners.filter((b) => b.id !== id) };
}

/**
 * The banners that still have a cause: one about a call or intake shows only while that call is
 * in the pop or that intake is in the workspace, and not once the intake has its outcome.
 */
export function liveBanners(s) {
  const shownIntake = s.view.kind === 'intake' ? s.view.id : (callIntake(s) || {}).id;
  return s.banners.filter((b) => {
    if (b.scope.callId && (!s.call || s.call.call_id !== b.scope.callId)) return false;
    if (b.scope.intakeId) {
      if (b.scope.intakeId !== shownIntake) return false;
      if (b.scope.untilFinal && isFinal(s.intakes[b.scope.intakeId])) return false;
    }
    return true;
  });
}
