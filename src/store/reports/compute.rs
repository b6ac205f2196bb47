//! Report arithmetic over fetched rows: per-day, per-queue figures and agents' time in state
//! (pure, no I/O). The formulas are stated in docs/schema.md ("Derived measures").

use std::collections::BTreeMap;

use super::tz::Zone;
use super::{AgentFigures, DayReport, QueueFigures, ReportRange};

/// The queues of the hotline, in report order.
pub(crate) const QUEUES: [&str; 4] = ["hardware", "software", "service", "unclassified"];

/// The agent states a report lists, in order (docs/api.md, "Agent states").
pub(crate) const STATES: [&str; 6] = [
    "offline",
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "not_ready",
];

/// What the daily report needs of a call.
#[derive(Debug, Clone)]
pub(crate) struct CallFact {
    pub(crate) arrived_at: i64,
    pub(crate) category: Option<String>,
    pub(crate) queued: bool,
    pub(crate) outcome: String,
    pub(crate) wait_ms: Option<i64>,
    pub(crate) connected_at: Option<i64>,
    pub(crate) ended_at: Option<i64>,
}

/// What the daily report needs of an escalation.
#[derive(Debug, Clone)]
pub(crate) struct EscalationFact {
    pub(crate) at: i64,
    pub(crate) category: String,
    pub(crate) to_level: i64,
    pub(crate) returned: bool,
}

/// Index of a queue name; anything unknown is `unclassified`.
fn queue_index(category: Option<&str>) -> usize {
    category
        .and_then(|c| QUEUES.iter().position(|q| *q == c))
        .unwrap_or(QUEUES.len() - 1)
}

/// Running sums for one (day, queue) cell.
#[derive(Debug, Default, Clone)]
struct Acc {
    offered: u64,
    answered: u64,
    answered_within: u64,
    abandoned: u64,
    abandoned_after: u64,
    callbacks: u64,
    voice_messages: u64,
    max_wait: u64,
    waits: Vec<i64>,
    handles: Vec<i64>,
    escalations: BTreeMap<String, u64>,
    returned: u64,
}

impl Acc {
    fn add_call(&mut self, call: &CallFact, threshold_ms: i64) {
        self.offered += 1;
        let wait = call.wait_ms.unwrap_or(0).max(0);
        // Answered: an agent picked up (docs/schema.md "Derived measures"), whatever ended the
        // call afterwards and also while it still goes on: the live tile counts the same.
        if call.connected_at.is_some() {
            self.answered += 1;
            if wait <= threshold_ms {
                self.answered_within += 1;
            }
            self.waits.push(wait);
            if let (Some(c), Some(e)) = (call.connected_at, call.ended_at) {
                self.handles.push((e - c).max(0));
            }
            return;
        }
        match call.outcome.as_str() {
            "abandoned_queue" => {
                self.abandoned += 1;
                if wait > threshold_ms {
                    self.abandoned_after += 1;
                }
            }
            "callback" => self.callbacks += 1,
            "voice_message" => self.voice_messages += 1,
            "max_wait" => self.max_wait += 1,
            _ => {}
        }
    }

    fn add_escalation(&mut self, esc: &EscalationFact) {
        if esc.returned {
            self.returned += 1;
        } else {
            *self
                .escalations
                .entry(esc.to_level.to_string())
                .or_default() += 1;
        }
    }

    fn merge(&mut self, other: &Acc) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.answered_within += other.answered_within;
        self.abandoned += other.abandoned;
        self.abandoned_after += other.abandoned_after;
        self.callbacks += other.callbacks;
        self.voice_messages += other.voice_messages;
        self.max_wait += other.max_wait;
        self.waits.extend_from_slice(&other.waits);
        self.handles.extend_from_slice(&other.handles);
        for (level, n) in &other.escalations {
            *self.escalations.entry(level.clone()).or_default() += n;
        }
        self.returned += other.returned;
    }

    fn finish(mut self, queue: &'static str) -> QueueFigures {
        let denominator = self.answered + self.abandoned_after;
        let mut escalations = self.escalations;
        for level in ["2", "3"] {
            escalations.entry(level.to_owned()).or_insert(0);
        }
        QueueFigures {
            queue,
            offered: self.offered,
            answered: self.answered,
            answered_within_threshold: self.answered_within,
            abandoned: self.abandoned,
            abandoned_after_threshold: self.abandoned_after,
            callbacks: self.callbacks,
            voice_messages: self.voice_messages,
            max_wait: self.max_wait,
            avg_wait_ms: average(&self.waits),
            p90_wait_ms: p90(&mut self.waits),
            avg_handle_ms: average(&self.handles),
            service_level: (denominator > 0)
                .then(|| self.answered_within as f64 / denominator as f64),
            escalations,
            returned: self.returned,
        }
    }
}

/// Mean rounded to the nearest millisecond (halves away from zero); `None` for no values.
pub(crate) fn average(values: &[i64]) -> Option<i64> {
    let n = i128::try_from(values.len()).ok().filter(|n| *n > 0)?;
    let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
    let rounded = (2 * sum + n).div_euclid(2 * n);
    i64::try_from(rounded).ok()
}

/// 90th percentile by the nearest-rank method: the smallest value with at least 90 % of the
/// values at or below it (rank ⌈0.9·n⌉ of the sorted values); `None` for no values.
pub(crate) fn p90(values: &mut [i64]) -> Option<i64> {
    values.sort_unstable();
    let rank = (values.len() * 9).div_ceil(10);
    values.get(rank.checked_sub(1)?).copied()
}

/// Groups calls by local arrival day and queue, escalations by local day and intake category.
pub(crate) fn daily(
    range: &ReportRange,
    calls: &[CallFact],
    escalations: &[EscalationFact],
    threshold_ms: i64,
) -> Vec<DayReport> {
    let first = range.first.days_since_epoch();
    let days = range.day_count();
    let mut cells: Vec<[Acc; 4]> = vec![Default::default(); days];
    let mut totals: Vec<(u64, u64)> = vec![(0, 0); days];
    let day_of = |at: i64, zone: Zone| {
        usize::try_from(zone.date_of(at).days_since_epoch() - first)
            .ok()
            .filter(|d| *d < days)
    };
    for call in calls {
        let Some(day) = day_of(call.arrived_at, range.zone) else {
            continue;
        };
        if let Some(t) = totals.get_mut(day) {
            t.0 += 1;
            if call.outcome == "abandoned_ivr" {
                t.1 += 1;
            }
        }
        if call.queued
            && let Some(acc) = cells
                .get_mut(day)
                .and_then(|c| c.get_mut(queue_index(call.category.as_deref())))
        {
            acc.add_call(call, threshold_ms);
        }
    }
    for esc in escalations {
        let Some(day) = day_of(esc.at, range.zone) else {
            continue;
        };
        if let Some(acc) = cells
            .get_mut(day)
            .and_then(|c| c.get_mut(queue_index(Some(&esc.category))))
        {
            acc.add_escalation(esc);
        }
    }
    let mut date = range.first;
    let mut out = Vec::with_capacity(days);
    for (accs, (calls, abandoned_ivr)) in cells.into_iter().zip(totals) {
        let mut all = Acc::default();
        for acc in &accs {
            all.merge(acc);
        }
        out.push(DayReport {
            date: date.to_string(),
            calls,
            abandoned_ivr,
            all: all.finish("all"),
            queues: QUEUES
                .iter()
                .zip(accs)
                .map(|(q, acc)| acc.finish(q))
                .collect(),
        });
        date = date.succ();
    }
    out
}

/// One agent's state change, as read from the `agent_state` events.
#[derive(Debug, Clone)]
pub(crate) struct StateChange {
    pub(crate) at: i64,
    pub(crate) from: String,
    pub(crate) to: String,
}

/// Milliseconds in each state between `start` and `end`: `before` is the state the agent was
/// in at `start` (the last change before it; else the first change's `from`; else offline).
pub(crate) fn time_in_states(
    before: Option<&str>,
    changes: &[StateChange],
    start: i64,
    end: i64,
) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = STATES.iter().map(|s| ((*s).to_owned(), 0)).collect();
    let mut state = before
        .map(str::to_owned)
        .or_else(|| changes.first().map(|c| c.from.clone()))
        .unwrap_or_else(|| "offline".to_owned());
    let mut cursor = start;
    for change in changes {
        let at = change.at.clamp(start, end.max(start));
        *out.entry(state).or_default() += at - cursor;
        state = change.to.clone();
        cursor = at;
    }
    if end > cursor {
        *out.entry(state).or_default() += end - cursor;
    }
    out
}

/// Calls and handling time of one agent (answered calls connected in the range).
pub(crate) fn agent_figures(
    id: String,
    name: String,
    handles: &[i64],
    state_ms: BTreeMap<String, i64>,
) -> AgentFigures {
    AgentFigures {
        agent_id: id,
        name,
        calls: u64::try_from(handles.len()).unwrap_or(u64::MAX),
        handle_ms: handles.iter().sum(),
        avg_handle_ms: average(handles),
        state_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_p90_and_rounded_mean() {
        assert_eq!(p90(&mut []), None);
        assert_eq!(p90(&mut [7]), Some(7));
        // n = 10: rank 9.
        let mut ten: Vec<i64> = (1..=10).rev().map(|v| v * 1000).collect();
        assert_eq!(p90(&mut ten), Some(9000));
        // n = 11: rank ⌈9.9⌉ = 10.
        let mut eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(p90(&mut eleven), Some(10));
        assert_eq!(average(&[]), None);
        assert_eq!(average(&[1, 2]), Some(2));
        assert_eq!(average(&[1, 1, 2]), Some(1));
        assert_eq!(average(&[10_000, 20_000, 45_000]), Some(25_000));
    }

    #[test]
    fn states_are_split_at_the_range_edges() {
        let change = |at, from: &str, to: &str| StateChange {
            at,
            from: from.into(),
            to: to.into(),
        };
        let changes = [
            change(100, "available", "on_call"),
            change(250, "on_call", "wrap_up"),
            change(300, "wrap_up", "available"),
        ];
        let t = time_in_states(None, &changes, 0, 1000);
        assert_eq!(t["available"], 100 + 700);
        assert_eq!(t["on_call"], 150);
        assert_eq!(t["wrap_up"], 50);
        assert_eq!(t["offline"], 0);
        assert_eq!(t.values().sum::<i64>(), 1000);
        // No change inside: the whole range in the state before it.
        let t = time_in_states(Some("not_ready"), &[], 0, 500);
        assert_eq!(t["not_ready"], 500);
        // A range ending before it starts (report of the future) counts nothing.
        let t = time_in_states(Some("available"), &[], 500, 400);
        assert_eq!(t.values().sum::<i64>(), 0);
    }
}
