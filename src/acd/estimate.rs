//! Estimated wait (issue 3, point 7): recent handling times per category and a small
//! multi-server simulation over the agents who serve a queue (no I/O). Formula: docs/acd.md.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use crate::domain::Category;

/// Handling time (talk + wrap-up) assumed before a category has any data.
pub(crate) const DEFAULT_HANDLING: Duration = Duration::from_secs(240);
/// Weight of the newest sample in the moving average.
const ALPHA: f64 = 0.2;

/// Exponentially weighted average of talk + wrap-up time, per category.
#[derive(Debug, Default)]
pub(crate) struct HandlingTimes {
    per: HashMap<Category, Duration>,
}

impl HandlingTimes {
    /// The current average for `category` ([`DEFAULT_HANDLING`] before any data).
    pub(crate) fn get(&self, category: Category) -> Duration {
        self.per.get(&category).copied().unwrap_or(DEFAULT_HANDLING)
    }

    /// Folds in one handled call: `avg ← avg + α·(sample − avg)`; the first sample replaces the
    /// default.
    pub(crate) fn record(&mut self, category: Category, sample: Duration) {
        let next = match self.per.get(&category) {
            None => sample,
            Some(avg) => {
                let avg = avg.as_secs_f64();
                Duration::from_secs_f64((avg + ALPHA * (sample.as_secs_f64() - avg)).max(0.0))
            }
        };
        self.per.insert(category, next);
    }
}

/// When the entry behind `ahead` is likely served by `free_in.len()` agents.
///
/// `free_in[i]` is when agent `i` is likely free; each entry ahead (in service order, given as
/// its handling time) takes the agent that frees first and keeps them for its handling time; the
/// entry itself is served when the next agent frees. `None` without agents.
pub(crate) fn wait(
    free_in: impl IntoIterator<Item = Duration>,
    ahead: impl IntoIterator<Item = Duration>,
) -> Option<Duration> {
    let mut heap: BinaryHeap<Reverse<Duration>> = free_in.into_iter().map(Reverse).collect();
    for handling in ahead {
        let Reverse(free) = heap.pop()?;
        heap.push(Reverse(free + handling));
    }
    heap.pop().map(|Reverse(t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn ewma_starts_at_default_then_follows_samples() {
        let mut h = HandlingTimes::default();
        assert_eq!(h.get(Category::Hardware), s(240));
        h.record(Category::Hardware, s(100));
        assert_eq!(h.get(Category::Hardware), s(100));
        h.record(Category::Hardware, s(200));
        // 100 + 0.2 * (200 - 100) = 120
        assert_eq!(h.get(Category::Hardware).as_secs_f64().round(), 120.0);
        assert_eq!(h.get(Category::Software), s(240), "categories are separate");
    }

    #[test]
    fn wait_simulates_servers() {
        assert_eq!(wait([], []), None);
        assert_eq!(wait([s(0)], []), Some(s(0)));
        // One agent free in 60 s, two callers ahead of 100 s each: 60 + 100 + 100.
        assert_eq!(wait([s(60)], [s(100), s(100)]), Some(s(260)));
        // Two agents free in 30 and 90 s, three ahead of 120 s each: the three are served at
        // 30, 90 and 150 (30+120); the agents are then free at 210 and 270 → ours at 210.
        assert_eq!(wait([s(30), s(90)], [s(120); 3]), Some(s(210)));
    }
}
