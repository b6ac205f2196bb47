//! SLA figures over many intakes, per support level and group: how many timers stand where
//! (pure, no I/O). One tally for the live view (open intakes: running, warning, breached,
//! paused) and the report (resolved intakes: met, met late).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{SlaView, TimerState};

/// How many timers are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    /// Counting, below the warning share.
    pub running: u64,
    /// Counting, past the warning share.
    pub warning: u64,
    /// Counting past the due time.
    pub breached: u64,
    /// Held while waiting for the customer.
    pub paused: u64,
    /// Stopped in time.
    pub met: u64,
    /// Stopped late.
    pub met_late: u64,
}

impl StateCounts {
    fn add(&mut self, state: TimerState) {
        let n = match state {
            TimerState::Running => &mut self.running,
            TimerState::Warning => &mut self.warning,
            TimerState::Breached => &mut self.breached,
            TimerState::Paused => &mut self.paused,
            TimerState::Met => &mut self.met,
            TimerState::MetLate => &mut self.met_late,
        };
        *n += 1;
    }
}

/// The SLA figures of one level and group (the group is `None` at the first level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSla {
    /// Support level 1..=3.
    pub level: u8,
    /// Second-level group or third-level vendor.
    pub group: Option<String>,
    /// Intakes with an SLA counted here.
    pub intakes: u64,
    /// Their response timers.
    pub response: StateCounts,
    /// Their resolution timers.
    pub resolution: StateCounts,
}

/// Tallies `(level, group, timers)` per level and group, ordered by level then group name.
pub fn summarize(items: impl IntoIterator<Item = (u8, Option<String>, SlaView)>) -> Vec<GroupSla> {
    let mut by: BTreeMap<(u8, Option<String>), GroupSla> = BTreeMap::new();
    for (level, group, view) in items {
        let g = by
            .entry((level, group.clone()))
            .or_insert_with(|| GroupSla {
                level,
                group,
                intakes: 0,
                response: StateCounts::default(),
                resolution: StateCounts::default(),
            });
        g.intakes += 1;
        g.response.add(view.response.state);
        g.resolution.add(view.resolution.state);
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::Timer;

    fn view(response: TimerState, resolution: TimerState) -> SlaView {
        let timer = |state| Timer {
            state,
            due_at: None,
            target_ms: 1,
            elapsed_ms: 0,
        };
        SlaView {
            priority: 2,
            response: timer(response),
            resolution: timer(resolution),
        }
    }

    #[test]
    fn timers_are_tallied_per_level_and_group_in_order() {
        use TimerState::*;
        let net = || Some("Network".to_owned());
        let got = summarize([
            (2, net(), view(Met, Breached)),
            (1, None, view(MetLate, Running)),
            (2, net(), view(Met, Paused)),
            (2, Some("Applications".into()), view(Running, Warning)),
        ]);
        let keys: Vec<(u8, Option<&str>)> =
            got.iter().map(|g| (g.level, g.group.as_deref())).collect();
        assert_eq!(
            keys,
            vec![(1, None), (2, Some("Applications")), (2, Some("Network"))]
        );
        let network = &got[2];
        assert_eq!(network.intakes, 2);
        assert_eq!((network.response.met, network.response.met_late), (2, 0));
        assert_eq!(
            (network.resolution.breached, network.resolution.paused),
            (1, 1)
        );
        assert_eq!(got[0].response.met_late, 1);
        assert_eq!(got[1].resolution.warning, 1);
    }
}
