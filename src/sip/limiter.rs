//! Failed-authentication limiter per source IP, with a growing back-off and a capped table; no I/O.
//!
//! N failures within a window block the source (403 + Retry-After) for a back-off that doubles
//! on each new block, up to a ceiling. The table holds at most `max_sources` entries: when full,
//! expired entries go first, then the least recently seen one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Source {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
    /// How many times this source was blocked (drives the back-off).
    strikes: u32,
    last_seen: Instant,
}

/// Per-source failure counter.
#[derive(Debug)]
pub(crate) struct FailureLimiter {
    pub(crate) max_failures: u32,
    pub(crate) window: Duration,
    pub(crate) backoff: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) max_sources: usize,
    sources: HashMap<IpAddr, Source>,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        Self {
            max_failures: 3,
            window: Duration::from_secs(60),
            backoff: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            max_sources: 4096,
            sources: HashMap::new(),
        }
    }
}

impl FailureLimiter {
    /// `Some(time left)` while the source is blocked.
    pub(crate) fn blocked(&mut self, now: Instant, ip: IpAddr) -> Option<Duration> {
        let s = self.sources.get_mut(&ip)?;
        s.last_seen = now;
        let until = s.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Records a failure; `Some(block time)` when this one blocks the source.
    pub(crate) fn fail(&mut self, now: Instant, ip: IpAddr) -> Option<Duration> {
        if !self.sources.contains_key(&ip) {
            self.make_room(now);
        }
        let s = self.sources.entry(ip).or_insert(Source {
            failures: 0,
            window_start: now,
            blocked_until: None,
            strikes: 0,
            last_seen: now,
        });
        s.last_seen = now;
        if now.duration_since(s.window_start) > self.window {
            s.failures = 0;
            s.window_start = now;
        }
        s.failures += 1;
        if s.failures < self.max_failures {
            return None;
        }
        s.failures = 0;
        s.window_start = now;
        let factor = 1u32 << s.strikes.min(16);
        let block = self.backoff.saturating_mul(factor).min(self.backoff_max);
        s.strikes += 1;
        s.blocked_until = Some(now + block);
        Some(block)
    }

    /// A successful authentication clears the source's record.
    pub(crate) fn succeeded(&mut self, ip: IpAddr) {
        self.sources.remove(&ip);
    }

    /// Entries in the table (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sources.len()
    }

    fn make_room(&mut self, now: Instant) {
        if self.sources.len() < self.max_sources {
            return;
        }
        let (window, backoff_max) = (self.window, self.backoff_max);
        // Entries that neither count failures nor block any more carry nothing worth keeping
        // (a source idle for the longest back-off forgets its strikes).
        self.sources.retain(|_, s| {
            let counting = now.duration_since(s.window_start) <= window;
            let blocking = s.blocked_until.is_some_and(|u| u > now);
            let remembered = now.duration_since(s.last_seen) < backoff_max;
            counting || blocking || (s.strikes > 0 && remembered)
        });
        if self.sources.len() >= self.max_sources
            && let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(ip, _)| *ip)
        {
            self.sources.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_block_with_doubling_backoff() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut l = FailureLimiter::default();
        assert_eq!(l.fail(t0, ip), None);
        assert_eq!(l.fail(t0, ip), None);
        assert_eq!(l.fail(t0, ip), Some(Duration::from_secs(30)));
        assert_eq!(
            l.blocked(t0 + Duration::from_secs(10), ip),
            Some(Duration::from_secs(20))
        );
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(l.blocked(t1, ip), None);
        l.fail(t1, ip);
        l.fail(t1, ip);
        assert_eq!(l.fail(t1, ip), Some(Duration::from_secs(60)), "doubled");
        // Another source is not affected.
        assert_eq!(l.blocked(t1, "192.0.2.8".parse().unwrap()), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_success_clears() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let mut l = FailureLimiter::default();
        l.fail(t0, ip);
        l.fail(t0, ip);
        assert_eq!(l.fail(t0 + Duration::from_secs(61), ip), None);
        l.succeeded(ip);
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn table_is_capped_under_a_storm_of_sources() {
        let t0 = Instant::now();
        let mut l = FailureLimiter {
            max_sources: 100,
            ..FailureLimiter::default()
        };
        for i in 0..10_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            l.fail(t0 + Duration::from_millis(u64::from(i)), ip);
            assert!(l.len() <= 100);
        }
        // The newest source is still tracked.
        let last = IpAddr::from(9_999u32.to_be_bytes());
        l.fail(t0 + Duration::from_secs(10), last);
        assert_eq!(
            l.fail(t0 + Duration::from_secs(10), last),
            Some(Duration::from_secs(30))
        );
    }
}
