//! Waiting entries and their order: effective priority (with ageing), then arrival (no I/O).
//!
//! All four category queues live in one index; a queue is the entries with that category. The
//! order depends on `now` (ageing), so it is computed when needed instead of kept sorted: queues
//! are short (hundreds) and a scan is cheaper than re-sorting on every tick.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::domain::{AgentId, Category, Priority};

use super::{Entry, EntryId, EntryKind, OfferId};

/// Sort key of a waiting entry: smaller is served first (effective priority, arrival, enqueue
/// order as the tie-break for equal arrival times).
pub(crate) type OrderKey = (Priority, Instant, u64);

/// An entry in a queue with the engine's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    /// Category and priority may be changed by a supervisor.
    pub(crate) entry: Entry,
    /// Enqueue order, unique.
    pub(crate) seq: u64,
    /// The live offer ringing an agent for this entry, if any.
    pub(crate) offer: Option<OfferId>,
    /// When the next periodic announcement is due (calls only).
    pub(crate) next_announce: Option<Instant>,
    /// When the waited-too-long callback offer is due; `None` once sent (calls only).
    pub(crate) callback_at: Option<Instant>,
    /// The nobody-serves callback offer has been sent.
    pub(crate) told_nobody: bool,
    /// Reserved for this agent (the owner of the intake the caller rings about) until then.
    pub(crate) prefer: Option<(AgentId, Instant)>,
}

impl Waiting {
    /// The priority after ageing: one level better per `ageing` waited since the original
    /// arrival, never better than 1 (issue 3, point 4).
    pub(crate) fn effective_priority(&self, now: Instant, ageing: Option<Duration>) -> Priority {
        effective_priority(self.entry.priority, self.entry.arrived, now, ageing)
    }

    pub(crate) fn key(&self, now: Instant, ageing: Option<Duration>) -> OrderKey {
        (
            self.effective_priority(now, ageing),
            self.entry.arrived,
            self.seq,
        )
    }

    pub(crate) fn is_call(&self) -> bool {
        self.entry.kind == EntryKind::Call
    }
}

/// `priority` improved by one level per full `ageing` period waited since `arrived`.
pub(crate) fn effective_priority(
    priority: Priority,
    arrived: Instant,
    now: Instant,
    ageing: Option<Duration>,
) -> Priority {
    let Some(ageing) = ageing.filter(|a| !a.is_zero()) else {
        return priority;
    };
    let waited = now.saturating_duration_since(arrived);
    let steps = waited.as_nanos() / ageing.as_nanos();
    let level = u128::from(priority.get()).saturating_sub(steps).max(1);
    // `level` is in 1..=priority, so it fits u8 and is a valid priority.
    u8::try_from(level)
        .ok()
        .and_then(Priority::new)
        .unwrap_or(Priority::CRITICAL)
}

/// Every waiting entry, by id.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    entries: HashMap<EntryId, Waiting>,
    next_seq: u64,
    /// Entries removed so far (a driver forgets what it keeps per entry only when this moved).
    removed: u64,
}

impl Queues {
    pub(crate) fn contains(&self, id: &EntryId) -> bool {
        self.entries.contains_key(id)
    }

    /// Adds an entry (the caller checked the id is new); returns its sequence number.
    pub(crate) fn insert(
        &mut self,
        entry: Entry,
        next_announce: Option<Instant>,
        callback_at: Option<Instant>,
    ) -> u64 {
        self.next_seq += 1;
        let seq = self.next_seq;
        let waiting = Waiting {
            entry,
            seq,
            offer: None,
            next_announce,
            callback_at,
            told_nobody: false,
            prefer: None,
        };
        self.entries.insert(waiting.entry.id.clone(), waiting);
        seq
    }

    pub(crate) fn get(&self, id: &EntryId) -> Option<&Waiting> {
        self.entries.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &EntryId) -> Option<&mut Waiting> {
        self.entries.get_mut(id)
    }

    pub(crate) fn remove(&mut self, id: &EntryId) -> Option<Waiting> {
        let w = self.entries.remove(id);
        self.removed += u64::from(w.is_some());
        w
    }

    /// How many entries were removed so far.
    pub(crate) fn removed(&self) -> u64 {
        self.removed
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.entries.values()
    }

    /// True when some entry is not being offered.
    pub(crate) fn any_offerable(&self) -> bool {
        self.entries.values().any(|w| w.offer.is_none())
    }

    /// The offerable entry to serve first among the categories `serves` accepts.
    /// The entry `agent` should take: one reserved for them first (whatever its queue), else
    /// the best of the queues they serve that is not reserved for someone else now.
    pub(crate) fn best_for_agent(
        &self,
        agent: &AgentId,
        serves: impl Fn(Category) -> bool,
        now: Instant,
        ageing: Option<Duration>,
    ) -> Option<EntryId> {
        // Who an entry is reserved for now, if anyone.
        fn holder(w: &Waiting, now: Instant) -> Option<&AgentId> {
            w.prefer
                .as_ref()
                .filter(|(_, until)| now < *until)
                .map(|(a, _)| a)
        }
        let free = || self.entries.values().filter(|w| w.offer.is_none());
        free()
            .filter(|w| holder(w, now) == Some(agent))
            .max_by_key(|w| Reverse(w.key(now, ageing)))
            .or_else(|| {
                free()
                    .filter(|w| holder(w, now).is_none() && serves(w.entry.category))
                    .max_by_key(|w| Reverse(w.key(now, ageing)))
            })
            .map(|w| w.entry.id.clone())
    }

    /// Ends the reservations whose time is up (`now` reached their end).
    pub(crate) fn end_reservations(&mut self, now: Instant) {
        for w in self.entries.values_mut() {
            if w.prefer.as_ref().is_some_and(|(_, until)| *until <= now) {
                w.prefer = None;
            }
        }
    }

    /// The entries with an announcement or callback offer due at `now`, in queue order (a
    /// timeout touches only those: with thousands waiting, all of them on every beat was
    /// quadratic).
    pub(crate) fn due_by_seq(&self, now: Instant) -> Vec<EntryId> {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let mut hit: Vec<&Waiting> = (self.entries.values())
            .filter(|w| due(w.next_announce) || due(w.callback_at))
            .collect();
        hit.sort_by_key(|w| w.seq);
        hit.into_iter().map(|w| w.entry.id.clone()).collect()
    }

    /// Ids in enqueue order (deterministic iteration for timers and snapshots).
    pub(crate) fn ids_by_seq(&self) -> Vec<EntryId> {
        let mut all: Vec<&Waiting> = self.entries.values().collect();
        all.sort_by_key(|w| w.seq);
        all.into_iter().map(|w| w.entry.id.clone()).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(level: u8) -> Priority {
        Priority::new(level).unwrap()
    }

    #[test]
    fn ageing_improves_one_level_per_period_down_to_one() {
        let t0 = Instant::now();
        let ageing = Some(Duration::from_secs(120));
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(effective_priority(p(5), t0, at(119), ageing), p(5));
        assert_eq!(effective_priority(p(5), t0, at(120), ageing), p(4));
        assert_eq!(effective_priority(p(5), t0, at(359), ageing), p(3));
        assert_eq!(effective_priority(p(5), t0, at(360), ageing), p(2));
        assert_eq!(effective_priority(p(5), t0, at(480), ageing), p(1));
        assert_eq!(effective_priority(p(5), t0, at(10_000), ageing), p(1));
        assert_eq!(effective_priority(p(2), t0, at(10_000), None), p(2));
        // An arrival in the future (clock skew in a caller) does not age.
        assert_eq!(effective_priority(p(3), at(50), t0, ageing), p(3));
    }
}
