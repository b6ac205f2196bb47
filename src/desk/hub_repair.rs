//! The desk hub's repair after it fell behind the event stream (issue 12, item 7): every desk
//! the hub keeps is rebuilt from the owners of what it shows (the queue engine's agent state
//! and offer, the stored agent and call records), the ringing pop a missed `call_offered`
//! never built is built, and each connection gets a fresh numbered `snapshot` frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{AgentDesk, Conn, HubTask, Pending, has_outcome};
use crate::acd::{AcdSnapshot, AgentState, DeviceHealth, EntryKind};
use crate::desk::frames::{AgentView, Frame, FrameBody, Lists, StateView, state_of};
use crate::desk::pop::Phase;
use crate::domain::{AgentId, CallId};
use crate::store::AgentRow;

/// What the owners say about the call a desk shows, when the engine alone does not confirm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The engine agrees (still ringing for it, or on the call).
    Keep,
    /// The call moved on: answered (`Connected`) or over (`Ended`), at this epoch ms.
    Moved(Phase, i64),
    /// The offer ended unanswered: the pop goes.
    Withdraw,
}

/// The facts read for one desk before it is rebuilt.
struct Facts {
    state: StateView,
    /// The call the engine rings this agent for.
    offered: Option<CallId>,
    /// About the call the desk shows.
    verdict: Verdict,
}

/// The call entry the engine rings `agent` for (callbacks are not calls: no pop of their own).
fn offered_call(snap: &AcdSnapshot, agent: &AgentId) -> Option<CallId> {
    let AgentState::Ringing { offer } = &snap.agent(agent)?.state else {
        return None;
    };
    snap.entries()
        .find(|e| e.offer.as_ref() == Some(offer) && e.kind == EntryKind::Call)
        .map(|e| CallId::from_string(e.id.as_str()))
}

impl AgentDesk {
    /// The call in the pop (or being built) and its phase.
    fn shown(&self) -> Option<(CallId, Phase)> {
        let pending = self.pending.as_ref().map(|p| (p.call_id.clone(), p.phase));
        pending.or_else(|| self.call.as_ref().map(|p| (p.call_id.clone(), p.phase)))
    }

    /// Whether the desk shows `call` (pop or pending).
    pub(super) fn shows(&self, call: &CallId) -> bool {
        self.pending.as_ref().is_some_and(|p| &p.call_id == call)
            || self.call.as_ref().is_some_and(|p| &p.call_id == call)
    }

    /// Moves the shown call to `phase` at `at` (as `call_connected` / `call_ended` would).
    fn move_call(&mut self, phase: Phase, at: i64) {
        let set = |p: &mut Phase, c: &mut Option<i64>, e: &mut Option<i64>| {
            *p = phase;
            match phase {
                Phase::Connected => *c = c.or(Some(at)),
                Phase::Ended => *e = e.or(Some(at)),
                Phase::Ringing => {}
            }
        };
        if let Some(p) = self.pending.as_mut() {
            set(&mut p.phase, &mut p.connected_at, &mut p.ended_at);
        }
        if let Some(pop) = self.call.as_mut() {
            set(&mut pop.phase, &mut pop.connected_at, &mut pop.ended_at);
            if phase == Phase::Ended && pop.intake.as_ref().is_some_and(has_outcome) {
                self.call = None;
            }
        }
    }

    /// The `snapshot` body: the whole desk state (`pops`: with the call and the intake).
    pub(super) fn snapshot(
        &self,
        id: &AgentId,
        state: StateView,
        device: DeviceHealth,
        lists: Lists,
        pops: bool,
    ) -> FrameBody {
        FrameBody::Snapshot {
            agent: AgentView {
                id: id.clone(),
                name: self.name.clone(),
                state,
            },
            device,
            call: self.call.clone().filter(|_| pops),
            intake: self.intake.clone().filter(|_| pops),
            lists,
        }
    }

    /// Sends a numbered `snapshot` to every connection (kept for resume); connections without
    /// pops get it without the call and the intake.
    fn push_snapshot(&mut self, id: &AgentId, lists: &Lists, require_registration: bool) {
        let (Some(state), Some(device)) = (self.state.clone(), self.health(require_registration))
        else {
            return;
        };
        self.seq += 1;
        let full = self.snapshot(id, state.clone(), device.clone(), lists.clone(), true);
        let mut full = Frame::new(Some(self.seq), &full);
        // Only agent connections may replay a snapshot that names the call.
        full.call_frame = self.call.is_some() || self.intake.is_some();
        let full = Arc::new(full);
        let bare = if full.call_frame {
            let body = self.snapshot(id, state, device, lists.clone(), false);
            Arc::new(Frame::new(Some(self.seq), &body))
        } else {
            full.clone()
        };
        if self.ring.len() >= super::RING {
            self.ring.pop_front();
        }
        self.ring.push_back(full.clone());
        self.conns.retain(|c: &Conn| {
            let frame = if c.pops { &full } else { &bare };
            match c.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!(conn = c.id, "desk connection too slow; closing it");
                    false
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

impl HubTask {
    /// Rebuilds every desk from the owners after missed events, then tells its connections.
    pub(super) async fn repair(&mut self) {
        self.repairs.fetch_add(1, Ordering::Relaxed);
        let snap = match self.acd.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the queue engine to repair the desks");
                return;
            }
        };
        let rows: HashMap<AgentId, AgentRow> = match self.store.list_agents().await {
            Ok(rows) => rows.into_iter().map(|r| (r.id.clone(), r)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the agents to repair the desks");
                HashMap::new()
            }
        };
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
            let facts = self.facts(&snap, &id).await;
            self.rebuild(&id, facts, rows.get(&id));
        }
        let agents = &self.agents;
        self.calls
            .retain(|call, agent| agents.get(agent).is_some_and(|d| d.shows(call)));
        tracing::info!(desks = self.agents.len(), "desk hub repaired");
    }

    /// Reads what the owners say of one desk; the call records only when the engine alone does
    /// not confirm the call shown.
    async fn facts(&self, snap: &AcdSnapshot, id: &AgentId) -> Facts {
        let state = state_of(snap, id);
        let offered = offered_call(snap, id);
        let shown = self.agents.get(id).and_then(AgentDesk::shown);
        let on_call = state.state == AgentState::OnCall.name();
        let since = state.since.unwrap_or_else(crate::store::now_ms);
        let verdict = match shown {
            None | Some((_, Phase::Ended)) => Verdict::Keep,
            Some((call, Phase::Ringing)) if offered.as_ref() == Some(&call) => Verdict::Keep,
            Some((_, Phase::Connected)) if on_call => Verdict::Keep,
            Some((call, phase)) => {
                let answered = match self.store.last_answered_call(id).await {
                    Ok(last) => last.as_ref() == Some(&call),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the agent's last call");
                        phase == Phase::Connected
                    }
                };
                let ended_at = match self.store.get_call(&call).await {
                    Ok(row) => row.and_then(|r| r.ended_at),
                    Err(_) => None,
                };
                match (answered, on_call) {
                    (false, _) => Verdict::Withdraw,
                    (true, true) => Verdict::Moved(Phase::Connected, since),
                    (true, false) => Verdict::Moved(Phase::Ended, ended_at.unwrap_or(since)),
                }
            }
        };
        Facts {
            state,
            offered,
            verdict,
        }
    }

    /// Applies the owners' facts to one desk and sends it a snapshot.
    fn rebuild(&mut self, id: &AgentId, facts: Facts, row: Option<&AgentRow>) {
        let (lists, require) = ((*self.ops.lists()).clone(), self.require_registration);
        let desk = self.desk(id);
        if let Some(row) = row {
            desk.name.clone_from(&row.name);
            desk.device = Some(row.device);
        }
        let since = facts.state.since.unwrap_or_else(crate::store::now_ms);
        desk.state = Some(facts.state);
        // The frames the missed events would have sent, so the softphone stops ringing too.
        let shown = desk.shown().map(|(call, _)| call);
        match (facts.verdict, shown) {
            (Verdict::Keep, _) | (_, None) => {}
            (Verdict::Moved(phase, at), Some(call_id)) => {
                desk.move_call(phase, at);
                if phase == Phase::Ended {
                    desk.push(&FrameBody::CallEnded { call_id });
                }
            }
            (Verdict::Withdraw, Some(call_id)) => {
                desk.pending = None;
                desk.call = None;
                desk.push(&FrameBody::OfferWithdrawn { call_id });
            }
        }
        let new_offer = facts.offered.filter(|c| !desk.shows(c));
        if let Some(call) = &new_offer {
            desk.pending = Some(Pending {
                call_id: call.clone(),
                phase: Phase::Ringing,
                offered_at: since,
                connected_at: None,
                ended_at: None,
            });
        }
        desk.push_snapshot(id, &lists, require);
        if let Some(call) = new_offer {
            self.calls.insert(call.clone(), id.clone());
            self.spawn_build(id.clone(), call);
        }
    }
}
