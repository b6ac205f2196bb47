//! Tests of the queue engine with simulated time (no sleeps) and of its owner task.
#![allow(clippy::unwrap_used)]

mod agent_states;
mod guard;
mod offers;
mod ordering;
mod prefer;
mod random;
mod reach;
mod service;
mod waiting;

use std::time::{Duration, Instant};

use crate::domain::{AgentId, Category, Priority};

use super::{Acd, AcdConfig, AcdOutput, AgentInfo, AgentState, Entry, EntryId, EntryKind, OfferId};

/// An engine driven by a script; time is `t0 + secs`, moved only by [`Sim::advance`].
struct Sim {
    acd: Acd,
    t0: Instant,
    now: Instant,
}

impl Sim {
    fn new(cfg: AcdConfig) -> Sim {
        let t0 = Instant::now();
        Sim {
            acd: Acd::new(cfg, t0),
            t0,
            now: t0,
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    /// Moves time to `t0 + secs` like a driver would: every deadline on the way is handled at
    /// its own instant. Returns the outputs.
    fn advance(&mut self, secs: u64) -> Vec<AcdOutput> {
        let target = self.at(secs);
        assert!(target >= self.now, "time goes forward");
        while let Some(deadline) = self.acd.poll_timeout() {
            if deadline > target {
                break;
            }
            self.now = self.now.max(deadline);
            self.acd.handle_timeout(self.now);
        }
        self.now = target;
        self.drain()
    }

    fn drain(&mut self) -> Vec<AcdOutput> {
        std::iter::from_fn(|| self.acd.poll_output()).collect()
    }

    fn login(&mut self, agent: &str, categories: &[Category]) -> Vec<AcdOutput> {
        let info = AgentInfo {
            id: aid(agent),
            categories: categories.to_vec(),
            level: 1,
        };
        self.acd.agent_login(self.now, info).unwrap();
        self.drain()
    }

    /// A caller arriving now.
    fn call(&mut self, entry: &str, category: Category, priority: u8) -> Vec<AcdOutput> {
        let e = Entry {
            id: eid(entry),
            category,
            priority: Priority::new(priority).unwrap(),
            arrived: self.now,
            kind: EntryKind::Call,
        };
        self.acd.enqueue(self.now, e).unwrap();
        self.drain()
    }

    fn state(&self, agent: &str) -> AgentState {
        self.acd
            .snapshot(self.now)
            .agent(&aid(agent))
            .unwrap()
            .state
            .clone()
    }

    fn queue(&self, category: Category) -> Vec<String> {
        let snap = self.acd.snapshot(self.now);
        snap.queue_ids(category)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Answers an offer, ends the call after `talk` seconds and finishes wrap-up at once.
    fn handle_call(&mut self, offer: OfferId, agent: &str) {
        self.acd.offer_answered(self.now, offer).unwrap();
        self.acd.call_ended(self.now, &aid(agent)).unwrap();
        self.acd.wrapup_done(self.now, &aid(agent)).unwrap();
        self.drain();
    }
}

fn aid(s: &str) -> AgentId {
    AgentId::from_string(s)
}

fn eid(s: &str) -> EntryId {
    EntryId::from_string(s)
}

/// The offers among `outputs` as (offer, entry, agent).
fn offers(outputs: &[AcdOutput]) -> Vec<(OfferId, String, String)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AcdOutput::Offer {
                offer,
                entry,
                agent,
            } => Some((*offer, entry.to_string(), agent.to_string())),
            _ => None,
        })
        .collect()
}

/// The single offer among `outputs`, as (offer, entry, agent).
fn one_offer(outputs: &[AcdOutput]) -> (OfferId, String, String) {
    let all = offers(outputs);
    assert_eq!(all.len(), 1, "expected one offer in {outputs:?}");
    all.into_iter().next().unwrap()
}

fn not_ready(reason: &str) -> AgentState {
    AgentState::NotReady {
        reason: reason.to_owned(),
    }
}
