//! Agent inputs of the queue engine: login, logout, ready / not ready, call end, wrap-up, and
//! the one place agent states change (no I/O). Transition table: docs/acd.md.

use std::time::Instant;

use crate::domain::AgentId;

use super::super::{AcdError, AcdOutput, AgentInfo, AgentState, CancelReason, ReasonCode};
use super::Acd;

impl Acd {
    /// Logs an agent in; they become available at once and may be offered a call.
    pub fn agent_login(&mut self, now: Instant, info: AgentInfo) -> Result<(), AcdError> {
        if self.agents.get(&info.id).is_some_and(|a| a.logged_in()) {
            return Err(AcdError::AlreadyLoggedIn(info.id));
        }
        let id = info.id.clone();
        self.agents.upsert_offline(now, info);
        self.transition(now, &id, AgentState::Available, "login", None, true);
        self.route(now);
        Ok(())
    }

    /// An admin changed the agent's queues or level. A signed-in agent serves the new queues
    /// from now on (a phone already ringing goes on ringing); callers left in a queue nobody
    /// serves any more are told so. An agent not signed in is left alone (their next login
    /// brings the new settings). Returns whether the agent was signed in.
    pub fn agent_update(&mut self, now: Instant, info: AgentInfo) -> bool {
        let Some(rec) = self.agents.get_mut(&info.id).filter(|a| a.logged_in()) else {
            return false;
        };
        rec.info = info;
        self.route(now);
        for entry in self.queues.ids_by_seq() {
            self.tell_if_nobody_serves(&entry);
        }
        true
    }

    /// Logs an agent out; a ringing offer is cancelled and its entry offered to the next agent.
    /// Refused while on a call.
    pub fn agent_logout(&mut self, now: Instant, id: &AgentId) -> Result<(), AcdError> {
        self.logout_as(now, id, ReasonCode::Logout)
    }

    /// A supervisor logs an agent out (as [`Acd::agent_logout`], reason code `supervisor`).
    pub fn supervisor_logout(&mut self, now: Instant, id: &AgentId) -> Result<(), AcdError> {
        self.logout_as(now, id, ReasonCode::Supervisor)
    }

    fn logout_as(&mut self, now: Instant, id: &AgentId, code: ReasonCode) -> Result<(), AcdError> {
        match self.state_of(id)? {
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            AgentState::OnCall => return Err(invalid(id, &AgentState::OnCall, "log out")),
            AgentState::Ringing { offer } => {
                if let Some(live) = self.offers.remove(&offer) {
                    if let Some(waiting) = self.queues.get_mut(&live.entry) {
                        waiting.offer = None;
                    }
                    self.out.push_back(AcdOutput::CancelOffer {
                        offer,
                        entry: live.entry,
                        agent: live.agent,
                        reason: CancelReason::AgentLeft,
                    });
                }
            }
            AgentState::Available | AgentState::WrapUp | AgentState::NotReady { .. } => {}
        }
        self.transition(now, id, AgentState::Offline, "logout", Some(code), false);
        self.route(now);
        for entry in self.queues.ids_by_seq() {
            self.tell_if_nobody_serves(&entry);
        }
        Ok(())
    }

    /// The agent is ready for calls (from not ready, or ending wrap-up early). Already available
    /// is a no-op; refused while ringing or on a call.
    pub fn set_available(&mut self, now: Instant, id: &AgentId) -> Result<(), AcdError> {
        match self.state_of(id)? {
            AgentState::Available => return Ok(()),
            AgentState::NotReady { .. } | AgentState::WrapUp => {}
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            other => return Err(invalid(id, &other, "become available")),
        }
        self.transition(now, id, AgentState::Available, "ready", None, true);
        self.route(now);
        Ok(())
    }

    /// The agent takes a break (from available, not ready or wrap-up); refused while ringing
    /// (reject the call instead) or on a call.
    pub fn set_not_ready(
        &mut self,
        now: Instant,
        id: &AgentId,
        reason: String,
    ) -> Result<(), AcdError> {
        self.not_ready_as(now, id, reason, None)
    }

    /// A supervisor sets an agent not ready (as [`Acd::set_not_ready`], reason code
    /// `supervisor`; `reason` is the supervisor's text).
    pub fn supervisor_not_ready(
        &mut self,
        now: Instant,
        id: &AgentId,
        reason: String,
    ) -> Result<(), AcdError> {
        self.not_ready_as(now, id, reason, Some(ReasonCode::Supervisor))
    }

    fn not_ready_as(
        &mut self,
        now: Instant,
        id: &AgentId,
        reason: String,
        code: Option<ReasonCode>,
    ) -> Result<(), AcdError> {
        match self.state_of(id)? {
            AgentState::Available | AgentState::NotReady { .. } | AgentState::WrapUp => {}
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            other => return Err(invalid(id, &other, "become not ready")),
        }
        let to = AgentState::NotReady {
            reason: reason.clone(),
        };
        self.transition(now, id, to, &reason, code, false);
        Ok(())
    }

    /// The agent places a call to the outside (click-to-call), or is rung for a call handed
    /// over to them (a transfer): on a call from now on, so no queue offers them anything;
    /// [`Acd::call_ended`] starts wrap-up as after any call, [`Acd::abort_outbound`] puts them
    /// back as they were. Refused while ringing or already on a call. Returns the state before.
    pub fn start_outbound(&mut self, now: Instant, id: &AgentId) -> Result<AgentState, AcdError> {
        let before = self.state_of(id)?;
        match &before {
            AgentState::Available | AgentState::NotReady { .. } | AgentState::WrapUp => {}
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            other => return Err(invalid(id, other, "take a call")),
        }
        self.transition(now, id, AgentState::OnCall, "direct call", None, false);
        if let Some(rec) = self.agents.get_mut(id) {
            rec.wrapup_until = None;
        }
        Ok(before)
    }

    /// The call [`Acd::start_outbound`] reserved the agent for never connected (their phone did
    /// not answer): back to `before` (wrap-up becomes available).
    pub fn abort_outbound(
        &mut self,
        now: Instant,
        id: &AgentId,
        before: AgentState,
    ) -> Result<(), AcdError> {
        match self.state_of(id)? {
            AgentState::OnCall => {}
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            other => return Err(invalid(id, &other, "cancel a direct call")),
        }
        match before {
            AgentState::NotReady { reason } => {
                let r = reason.clone();
                self.transition(now, id, AgentState::NotReady { reason }, &r, None, false);
            }
            _ => {
                self.transition(
                    now,
                    id,
                    AgentState::Available,
                    "direct call not connected",
                    None,
                    true,
                );
                self.route(now);
            }
        }
        Ok(())
    }

    /// The agent has finished after-call work early.
    pub fn wrapup_done(&mut self, now: Instant, id: &AgentId) -> Result<(), AcdError> {
        match self.state_of(id)? {
            AgentState::WrapUp => {}
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            other => return Err(invalid(id, &other, "finish wrap-up")),
        }
        self.transition(now, id, AgentState::Available, "wrap-up done", None, true);
        self.route(now);
        Ok(())
    }

    /// The agent's call ended (either side hung up): wrap-up starts, timed by `wrapup_secs`.
    pub fn call_ended(&mut self, now: Instant, id: &AgentId) -> Result<(), AcdError> {
        match self.state_of(id)? {
            AgentState::OnCall => {}
            AgentState::Offline => return Err(AcdError::NotLoggedIn(id.clone())),
            other => return Err(invalid(id, &other, "end a call")),
        }
        self.transition(now, id, AgentState::WrapUp, "call ended", None, false);
        let until = self.cfg.wrapup().map(|d| now + d);
        if let Some(rec) = self.agents.get_mut(id) {
            rec.wrapup_until = until;
            if let Some(work) = rec.work.as_mut() {
                work.ended = Some(now);
            }
        }
        Ok(())
    }

    /// Resets every agent's calls-handled counter (the lead calls it at local midnight for the
    /// `fewest_calls` strategy).
    pub fn reset_call_counts(&mut self) {
        for agent in self.agents.iter_mut() {
            agent.calls_handled = 0;
        }
    }

    /// Ends every timed wrap-up due at `now`.
    pub(super) fn end_timed_wrapups(&mut self, now: Instant) {
        let mut due: Vec<(u64, AgentId)> = self
            .agents
            .iter()
            .filter(|a| a.state == AgentState::WrapUp && a.wrapup_until.is_some_and(|u| u <= now))
            .map(|a| (a.login_seq, a.info.id.clone()))
            .collect();
        due.sort();
        for (_, id) in due {
            self.transition(now, &id, AgentState::Available, "wrap-up ended", None, true);
        }
    }

    /// The agent's device can (`true`) or cannot take a call now: a phone gained or lost its
    /// registration, or the agent switched device. Works for agents not logged in yet (kept for
    /// their login). With `require_registration`, an unreachable agent keeps their state but is
    /// not offered calls nor counted for estimates; reachable again, they are offered the next
    /// caller at once.
    pub fn set_reachable(&mut self, now: Instant, id: &AgentId, reachable: bool) {
        let changed = if reachable {
            self.unreachable.remove(id)
        } else {
            self.unreachable.insert(id.clone())
        };
        if !changed || !self.cfg.require_registration {
            return;
        }
        tracing::debug!(agent = %id, reachable, "agent reachability");
        if reachable {
            self.route(now);
        } else {
            for entry in self.queues.ids_by_seq() {
                self.tell_if_nobody_serves(&entry);
            }
        }
    }

    /// The only place an agent's state changes: bookkeeping and the `AgentState` output.
    /// `code` marks a system reason (see `ReasonCode`); `reset_idle` restarts the agent's idle
    /// time when they become available.
    pub(super) fn transition(
        &mut self,
        now: Instant,
        id: &AgentId,
        to: AgentState,
        reason: &str,
        code: Option<ReasonCode>,
        reset_idle: bool,
    ) {
        let Some(rec) = self.agents.get_mut(id) else {
            return;
        };
        rec.reason_code = code;
        let from = std::mem::replace(&mut rec.state, to.clone());
        if from == AgentState::WrapUp && to != AgentState::WrapUp {
            rec.wrapup_until = None;
            // Handling time = talk + wrap-up, folded in when wrap-up ends (issue 3, point 7).
            if let Some(work) = rec.work.take() {
                let sample = now.saturating_duration_since(work.answered);
                self.handling.record(work.category, sample);
            }
        }
        if to == AgentState::Available && reset_idle {
            rec.idle_since = now;
        }
        rec.since = now;
        tracing::debug!(agent = %id, from = from.name(), to = to.name(), reason, "agent state");
        self.out.push_back(AcdOutput::AgentState {
            agent: id.clone(),
            from,
            to,
            reason: Some(reason.to_owned()),
            code,
            at: now,
        });
    }

    fn state_of(&self, id: &AgentId) -> Result<AgentState, AcdError> {
        self.agents
            .get(id)
            .map(|a| a.state.clone())
            .ok_or_else(|| AcdError::UnknownAgent(id.clone()))
    }
}

fn invalid(agent: &AgentId, from: &AgentState, request: &'static str) -> AcdError {
    AcdError::InvalidTransition {
        agent: agent.clone(),
        from: from.name(),
        request,
    }
}
