//! Read-only views of the queue engine: a waiting entry's place and estimated wait (issue 3,
//! point 7; formula in docs/acd.md) and the supervisor snapshot (no I/O).

use std::time::{Duration, Instant};

use crate::domain::Category;

use super::super::estimate;
use super::super::snapshot::{AcdSnapshot, AgentSnapshot, EntrySnapshot, QueueSnapshot};
use super::super::{AgentState, EntryId, Position};
use super::Acd;

/// A wrap-up that lasts until the agent says done is assumed to end after this long (estimates).
const MANUAL_WRAPUP_GUESS: Duration = Duration::from_secs(30);

impl Acd {
    /// Place and estimated wait of a waiting entry (formula in docs/acd.md).
    pub fn position(&self, now: Instant, id: &EntryId) -> Option<Position> {
        let me = self.queues.get(id)?;
        if me.offer.is_some() {
            return Some(Position {
                place: 1,
                estimate: Some(Duration::ZERO),
            });
        }
        let ageing = self.cfg.ageing();
        let category = me.entry.category;
        let key = me.key(now, ageing);
        let pool: Vec<_> = self
            .agents
            .iter()
            .filter(|a| a.logged_in() && a.serves(category) && self.offerable(&a.info.id))
            .collect();
        let mut ahead: Vec<_> = self
            .queues
            .iter()
            .filter(|w| w.offer.is_none() && w.key(now, ageing) < key)
            .filter(|w| pool.iter().any(|a| a.serves(w.entry.category)))
            .map(|w| (w.key(now, ageing), w.entry.category))
            .collect();
        ahead.sort_by_key(|(k, _)| *k);
        let free_in = pool.iter().map(|a| match &a.state {
            AgentState::Offline | AgentState::Available => Duration::ZERO,
            AgentState::Ringing { offer } => {
                let cat = self
                    .offers
                    .get(offer)
                    .and_then(|o| self.queues.get(&o.entry))
                    .map_or(category, |w| w.entry.category);
                self.handling.get(cat)
            }
            AgentState::OnCall => {
                let (cat, answered) = a.work.map_or((category, now), |w| (w.category, w.answered));
                let h = self.handling.get(cat);
                h.saturating_sub(now.saturating_duration_since(answered))
                    .max(h / 10)
            }
            AgentState::WrapUp => a
                .wrapup_until
                .map_or(MANUAL_WRAPUP_GUESS, |u| u.saturating_duration_since(now)),
            AgentState::NotReady { .. } => self.handling.get(category),
        });
        let estimate = estimate::wait(free_in, ahead.iter().map(|(_, c)| self.handling.get(*c)));
        Some(Position {
            place: ahead.len() + 1,
            estimate,
        })
    }

    /// Copies the live state (supervisor view, tests).
    pub fn snapshot(&self, now: Instant) -> AcdSnapshot {
        let ageing = self.cfg.ageing();
        let queues = [
            Category::Hardware,
            Category::Software,
            Category::Service,
            Category::Unclassified,
        ]
        .into_iter()
        .map(|category| {
            let mut waiting: Vec<_> = self
                .queues
                .iter()
                .filter(|w| w.entry.category == category)
                .collect();
            waiting.sort_by_key(|w| w.key(now, ageing));
            let entries = waiting
                .into_iter()
                .map(|w| EntrySnapshot {
                    id: w.entry.id.clone(),
                    kind: w.entry.kind,
                    category,
                    priority: w.entry.priority,
                    effective_priority: w.effective_priority(now, ageing),
                    arrived: w.entry.arrived,
                    waited: now.saturating_duration_since(w.entry.arrived),
                    offer: w.offer,
                })
                .collect();
            QueueSnapshot { category, entries }
        })
        .collect();
        let mut agents: Vec<_> = self
            .agents
            .iter()
            .map(|a| AgentSnapshot {
                id: a.info.id.clone(),
                categories: a.info.categories.clone(),
                level: a.info.level,
                state: a.state.clone(),
                reason_code: a.reason_code,
                reachable: self.offerable(&a.info.id),
                since: a.since,
                calls_handled: a.calls_handled,
            })
            .collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        AcdSnapshot {
            at: now,
            queues,
            agents,
        }
    }
}
