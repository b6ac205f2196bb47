//! The queue engine: queues, agent states, offers and routing as one sans-IO state machine
//! (no I/O, no tokio). Inputs take `now`; outputs are drained with [`Acd::poll_output`]; the
//! driver calls [`Acd::handle_timeout`] at [`Acd::poll_timeout`].
//!
//! Invariants (checked by the randomised test): every entry is waiting, offered, served or
//! removed, exactly once; an agent is `Ringing` iff they hold exactly one live offer; an entry
//! has at most one live offer; after every input no available agent who may be offered calls
//! (reachable, or `require_registration` off) sits next to an offerable entry they serve; each
//! offer takes the best offerable entry for that agent.

mod agent_inputs;
mod view;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::domain::{AgentId, Category, Priority};

use super::agents::Agents;
use super::estimate::HandlingTimes;
use super::queue::Queues;
use super::{
    AcdConfig, AcdError, AcdOutput, AgentState, CallbackReason, CancelReason, Entry, EntryId,
    EntryKind, FailReason, OfferId, RemoveReason,
};

/// A live offer: `agent`'s phone rings for `entry` until `deadline`.
#[derive(Debug, Clone)]
struct Offer {
    entry: EntryId,
    agent: AgentId,
    deadline: Instant,
}

/// The queue engine. One owner drives it (see [`super::AcdService`]).
#[derive(Debug)]
pub struct Acd {
    cfg: AcdConfig,
    queues: Queues,
    agents: Agents,
    offers: HashMap<OfferId, Offer>,
    next_offer: u64,
    /// Round-robin stamp handed to the agent of each new offer.
    rr_stamp: u64,
    handling: HandlingTimes,
    /// Agents whose device cannot take a call now (a phone without a live registration), as
    /// the driver reports them; kept across logins (docs/acd.md, "Reachability").
    unreachable: HashSet<AgentId>,
    out: VecDeque<AcdOutput>,
}

impl Acd {
    /// An engine with empty queues and no agents.
    pub fn new(cfg: AcdConfig, _now: Instant) -> Acd {
        Acd {
            cfg,
            queues: Queues::default(),
            agents: Agents::default(),
            offers: HashMap::new(),
            next_offer: 0,
            rr_stamp: 0,
            handling: HandlingTimes::default(),
            unreachable: HashSet::new(),
            out: VecDeque::new(),
        }
    }

    /// Puts an entry in its queue; it is offered at once if an agent is free, otherwise a caller
    /// hears an announcement (and a callback offer when nobody serves the queue).
    pub fn enqueue(&mut self, now: Instant, entry: Entry) -> Result<(), AcdError> {
        self.enqueue_preferring(now, entry, None)
    }

    /// [`Acd::enqueue`], first reserved for `prefer` (the owner of the intake the caller rings
    /// about) for `[acd] prefer_owner_secs` when that agent is logged in: offered to them as
    /// soon as they are free, whatever their queues; anyone may take it after that.
    pub fn enqueue_preferring(
        &mut self,
        now: Instant,
        entry: Entry,
        prefer: Option<AgentId>,
    ) -> Result<(), AcdError> {
        if self.queues.contains(&entry.id) {
            return Err(AcdError::DuplicateEntry(entry.id));
        }
        let id = entry.id.clone();
        let is_call = entry.kind == EntryKind::Call;
        let next_announce = self
            .cfg
            .announce_interval()
            .filter(|_| is_call)
            .map(|i| now + i);
        let callback_at = self
            .cfg
            .max_wait()
            .filter(|_| is_call)
            .map(|w| entry.arrived + w);
        self.queues.insert(entry, next_announce, callback_at);
        let window = self.cfg.prefer_owner();
        if let (Some(agent), Some(window)) = (prefer, window)
            && self.agents.get(&agent).is_some_and(|a| a.logged_in())
            && let Some(w) = self.queues.get_mut(&id)
        {
            w.prefer = Some((agent, now + window));
        }
        self.route(now);
        if is_call && self.queues.get(&id).is_some_and(|w| w.offer.is_none()) {
            self.announce(now, &id);
            self.tell_if_nobody_serves(&id);
        }
        Ok(())
    }

    /// Takes an entry out of its queue (the caller hung up, chose a callback, …); a ringing
    /// agent is released without penalty. Returns how long the entry waited.
    pub fn remove(
        &mut self,
        now: Instant,
        id: &EntryId,
        reason: RemoveReason,
    ) -> Result<Duration, AcdError> {
        let waiting = self
            .queues
            .remove(id)
            .ok_or_else(|| AcdError::UnknownEntry(id.clone()))?;
        tracing::debug!(entry = %id, ?reason, "queue entry removed");
        if let Some(offer_id) = waiting.offer
            && let Some(offer) = self.offers.remove(&offer_id)
        {
            self.out.push_back(AcdOutput::CancelOffer {
                offer: offer_id,
                entry: offer.entry,
                agent: offer.agent.clone(),
                reason: CancelReason::Withdrawn,
            });
            // Back to available, keeping the idle time: the agent did nothing wrong.
            self.transition(
                now,
                &offer.agent,
                AgentState::Available,
                "caller left",
                None,
                false,
            );
            self.route(now);
        }
        Ok(now.saturating_duration_since(waiting.entry.arrived))
    }

    /// The agent's phone answered: the agent is on the call and the entry is served. Returns
    /// how long the entry waited. A stale offer (timed out, cancelled) is refused: hang up the
    /// late agent leg.
    pub fn offer_answered(&mut self, now: Instant, offer: OfferId) -> Result<Duration, AcdError> {
        let live = self
            .offers
            .remove(&offer)
            .ok_or(AcdError::UnknownOffer(offer))?;
        let (category, waited) = match self.queues.remove(&live.entry) {
            Some(w) => (
                w.entry.category,
                now.saturating_duration_since(w.entry.arrived),
            ),
            None => (Category::Unclassified, Duration::ZERO),
        };
        self.transition(
            now,
            &live.agent,
            AgentState::OnCall,
            "answered",
            None,
            false,
        );
        if let Some(agent) = self.agents.get_mut(&live.agent) {
            agent.calls_handled = agent.calls_handled.saturating_add(1);
            agent.work = Some(super::agents::Work {
                category,
                answered: now,
                ended: None,
            });
        }
        Ok(waited)
    }

    /// The agent's phone did not take the offer: the agent becomes not ready with the reason,
    /// and the entry, keeping its place, is offered to the next agent (issue 3, point 5).
    pub fn offer_failed(
        &mut self,
        now: Instant,
        offer: OfferId,
        reason: FailReason,
    ) -> Result<(), AcdError> {
        let live = self
            .offers
            .remove(&offer)
            .ok_or(AcdError::UnknownOffer(offer))?;
        self.fail_offer(now, live, reason);
        self.route(now);
        Ok(())
    }

    /// A supervisor changes an entry's priority.
    pub fn set_priority(
        &mut self,
        _now: Instant,
        id: &EntryId,
        priority: Priority,
    ) -> Result<(), AcdError> {
        let waiting = self
            .queues
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownEntry(id.clone()))?;
        waiting.entry.priority = priority;
        Ok(())
    }

    /// A supervisor moves an entry to another queue (keeping its arrival); not while offered.
    pub fn move_entry(
        &mut self,
        now: Instant,
        id: &EntryId,
        category: Category,
    ) -> Result<(), AcdError> {
        let waiting = self
            .queues
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownEntry(id.clone()))?;
        if waiting.offer.is_some() {
            return Err(AcdError::EntryOffered(id.clone()));
        }
        waiting.entry.category = category;
        self.route(now);
        self.tell_if_nobody_serves(id);
        Ok(())
    }

    /// How many entries have left the queues so far (a driver keeping something per entry
    /// prunes it only when this moved).
    pub fn removed_entries(&self) -> u64 {
        self.queues.removed()
    }

    /// True while the entry waits (offered or not).
    pub fn is_queued(&self, id: &EntryId) -> bool {
        self.queues.contains(id)
    }

    /// The next output for the driver; drain after every input.
    pub fn poll_output(&mut self) -> Option<AcdOutput> {
        self.out.pop_front()
    }

    /// When [`Acd::handle_timeout`] must be called next: ring timeouts, wrap-up ends,
    /// announcements and waited-too-long callback offers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let offers = self.offers.values().map(|o| o.deadline);
        let wrapups = self.agents.iter().filter_map(|a| a.wrapup_until);
        let entries = self
            .queues
            .iter()
            .flat_map(|w| {
                // The end of a reservation lets the others take the call.
                let reserved = w.prefer.as_ref().filter(|_| w.offer.is_none());
                [
                    w.next_announce,
                    w.callback_at,
                    reserved.map(|(_, until)| *until),
                ]
            })
            .flatten();
        offers.chain(wrapups).chain(entries).min()
    }

    /// Acts on every deadline reached at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Ring timeouts: stop ringing, then the same as a failed offer (issue 3, point 5).
        let mut expired: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        expired.sort();
        for offer_id in expired {
            if let Some(offer) = self.offers.remove(&offer_id) {
                self.out.push_back(AcdOutput::CancelOffer {
                    offer: offer_id,
                    entry: offer.entry.clone(),
                    agent: offer.agent.clone(),
                    reason: CancelReason::RingTimeout,
                });
                self.fail_offer(now, offer, FailReason::NoAnswer);
            }
        }
        self.end_timed_wrapups(now);
        self.queues.end_reservations(now);
        self.route(now);
        for id in self.queues.due_by_seq(now) {
            self.entry_timers(now, &id);
        }
    }

    /// Whether `agent` may be offered calls: always, unless `require_registration` is on and
    /// their device cannot take a call now.
    pub(super) fn offerable(&self, agent: &AgentId) -> bool {
        !self.cfg.require_registration || !self.unreachable.contains(agent)
    }

    /// Offers offerable entries to available agents until no pair matches: agents in strategy
    /// order, each taking the best entry among the queues they serve.
    fn route(&mut self, now: Instant) {
        if !self.queues.any_offerable() {
            return;
        }
        let ageing = self.cfg.ageing();
        let free = (self.agents).available_in_order(self.cfg.strategy, |id| self.offerable(id));
        for agent_id in free {
            let Some(agent) = self.agents.get(&agent_id) else {
                continue;
            };
            let best = (self.queues).best_for_agent(&agent_id, |c| agent.serves(c), now, ageing);
            let Some(entry_id) = best else {
                continue;
            };
            self.offer(now, agent_id, entry_id);
        }
    }

    fn offer(&mut self, now: Instant, agent: AgentId, entry: EntryId) {
        self.next_offer += 1;
        let offer_id = OfferId(self.next_offer);
        if let Some(waiting) = self.queues.get_mut(&entry) {
            waiting.offer = Some(offer_id);
        }
        self.rr_stamp += 1;
        if let Some(rec) = self.agents.get_mut(&agent) {
            rec.last_offered = self.rr_stamp;
        }
        self.offers.insert(
            offer_id,
            Offer {
                entry: entry.clone(),
                agent: agent.clone(),
                deadline: now + self.cfg.ring_timeout(),
            },
        );
        self.out.push_back(AcdOutput::Offer {
            offer: offer_id,
            entry,
            agent: agent.clone(),
        });
        let ringing = AgentState::Ringing { offer: offer_id };
        self.transition(now, &agent, ringing, "offered", None, false);
    }

    /// An offer that was removed from `offers` failed: agent not ready, entry offerable again.
    fn fail_offer(&mut self, now: Instant, offer: Offer, reason: FailReason) {
        if let Some(waiting) = self.queues.get_mut(&offer.entry) {
            waiting.offer = None;
        }
        let not_ready = AgentState::NotReady {
            reason: reason.as_str().to_owned(),
        };
        let code = Some(reason.code());
        self.transition(now, &offer.agent, not_ready, reason.as_str(), code, false);
    }

    /// Periodic announcement and the waited-too-long callback offer of one entry.
    fn entry_timers(&mut self, now: Instant, id: &EntryId) {
        let interval = self.cfg.announce_interval();
        let Some(waiting) = self.queues.get_mut(id) else {
            return;
        };
        let mut announce = false;
        if let Some(mut due) = waiting.next_announce
            && due <= now
        {
            // Keep the cadence; skip beats missed by a late driver.
            waiting.next_announce = interval.map(|i| {
                while due <= now {
                    due += i;
                }
                due
            });
            announce = waiting.offer.is_none();
        }
        let mut callback = false;
        if waiting.callback_at.is_some_and(|at| at <= now) {
            waiting.callback_at = None;
            callback = true;
        }
        if announce {
            self.announce(now, id);
        }
        if callback {
            self.out.push_back(AcdOutput::OfferCallback {
                entry: id.clone(),
                reason: CallbackReason::WaitedTooLong,
            });
        }
    }

    fn announce(&mut self, now: Instant, id: &EntryId) {
        if let Some(pos) = self.position(now, id) {
            self.out.push_back(AcdOutput::Announce {
                entry: id.clone(),
                place: pos.place,
                estimate: pos.estimate,
            });
        }
    }

    /// Offers a callback (once) to a waiting caller whose queue no logged-in agent serves.
    fn tell_if_nobody_serves(&mut self, id: &EntryId) {
        let Some(waiting) = self.queues.get(id) else {
            return;
        };
        if !waiting.is_call()
            || waiting.told_nobody
            || (self.agents).anyone_serves(waiting.entry.category, |id| self.offerable(id))
        {
            return;
        }
        if let Some(waiting) = self.queues.get_mut(id) {
            waiting.told_nobody = true;
        }
        self.out.push_back(AcdOutput::OfferCallback {
            entry: id.clone(),
            reason: CallbackReason::NobodyServes,
        });
    }
}
