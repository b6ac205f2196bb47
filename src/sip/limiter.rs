//! Failed-authentication limiter per account and source, with a growing back-off and a capped
//! table; no I/O.
//!
//! Two counters see each failure: one for the pair (account, source address) and one for the
//! source alone. `max_failures` failures of one pair within `window` block that pair (403 +
//! Retry-After) — the phone with a wrong password, not its neighbours behind the same NAT or
//! proxy. `max_source_failures` failures of one source across accounts block the whole source
//! (a scanner trying many extensions). Each block lasts a back-off that doubles on every new
//! block of the same key, up to `backoff_max`. Behind a trusted proxy the registrar passes the
//! phone's address as the source, so a spray through the proxy blocks only its origin.
//!
//! The table holds at most `max_entries` keys: when full, entries that neither count nor block
//! go first, then the least recently seen one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Longest account name kept as a key; longer ones are cut (the registrar refuses them anyway).
const MAX_ACCOUNT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// One account from one source address.
    Pair(String, IpAddr),
    /// Every account from one source address.
    Source(IpAddr),
}

#[derive(Debug, Clone)]
struct Counter {
    failures: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
    /// How many times this key was blocked (drives the back-off).
    strikes: u32,
    last_seen: Instant,
}

impl Counter {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            window_start: now,
            blocked_until: None,
            strikes: 0,
            last_seen: now,
        }
    }

    fn blocked(&self, now: Instant) -> Option<Duration> {
        let until = self.blocked_until?;
        (until > now).then(|| until - now)
    }
}

/// Failure counters per (account, source) and per source.
#[derive(Debug)]
pub(crate) struct FailureLimiter {
    /// Failures of one account from one source that block the pair.
    pub(crate) max_failures: u32,
    /// Failures from one source, across accounts, that block the source.
    pub(crate) max_source_failures: u32,
    pub(crate) window: Duration,
    pub(crate) backoff: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) max_entries: usize,
    entries: HashMap<Key, Counter>,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        Self {
            max_failures: 3,
            max_source_failures: 10,
            window: Duration::from_secs(60),
            backoff: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            max_entries: 4096,
            entries: HashMap::new(),
        }
    }
}

fn pair(account: &str, ip: IpAddr) -> Key {
    let mut end = account.len().min(MAX_ACCOUNT);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    Key::Pair(account[..end].to_string(), ip)
}

impl FailureLimiter {
    /// `Some(time left)` while the account is blocked from this source (or the source is).
    pub(crate) fn blocked(&mut self, now: Instant, account: &str, ip: IpAddr) -> Option<Duration> {
        let keys = [pair(account, ip), Key::Source(ip)];
        let mut left = None;
        for key in &keys {
            if let Some(c) = self.entries.get_mut(key) {
                c.last_seen = now;
                left = left.max(c.blocked(now));
            }
        }
        left
    }

    /// Records a failure; `Some(block time)` when this one blocks the pair or the source.
    pub(crate) fn fail(&mut self, now: Instant, account: &str, ip: IpAddr) -> Option<Duration> {
        let by_pair = self.count(now, pair(account, ip), self.max_failures);
        let by_source = self.count(now, Key::Source(ip), self.max_source_failures);
        by_pair.max(by_source)
    }

    fn count(&mut self, now: Instant, key: Key, limit: u32) -> Option<Duration> {
        if !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let (window, backoff, backoff_max) = (self.window, self.backoff, self.backoff_max);
        let c = self.entries.entry(key).or_insert_with(|| Counter::new(now));
        c.last_seen = now;
        if now.duration_since(c.window_start) > window {
            c.failures = 0;
            c.window_start = now;
        }
        c.failures += 1;
        if c.failures < limit.max(1) {
            return None;
        }
        c.failures = 0;
        c.window_start = now;
        let factor = 1u32 << c.strikes.min(16);
        let block = backoff.saturating_mul(factor).min(backoff_max);
        c.strikes += 1;
        c.blocked_until = Some(now + block);
        Some(block)
    }

    /// A successful authentication clears the pair's record (the source's count stays: one
    /// account that works does not excuse failures on others).
    pub(crate) fn succeeded(&mut self, account: &str, ip: IpAddr) {
        self.entries.remove(&pair(account, ip));
    }

    /// Entries in the table (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.max_entries {
            return;
        }
        let (window, backoff_max) = (self.window, self.backoff_max);
        // Entries that neither count failures nor block any more carry nothing worth keeping
        // (a key idle for the longest back-off forgets its strikes).
        self.entries.retain(|_, c| {
            let counting = now.duration_since(c.window_start) <= window;
            let blocking = c.blocked_until.is_some_and(|u| u > now);
            let remembered = now.duration_since(c.last_seen) < backoff_max;
            counting || blocking || (c.strikes > 0 && remembered)
        });
        if self.entries.len() >= self.max_entries
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, c)| c.last_seen)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn three_failures_block_the_pair_with_doubling_backoff() {
        let t0 = Instant::now();
        let phone = ip("192.0.2.7");
        let mut l = FailureLimiter::default();
        assert_eq!(l.fail(t0, "2001", phone), None);
        assert_eq!(l.fail(t0, "2001", phone), None);
        assert_eq!(l.fail(t0, "2001", phone), Some(Duration::from_secs(30)));
        assert_eq!(
            l.blocked(t0 + Duration::from_secs(10), "2001", phone),
            Some(Duration::from_secs(20))
        );
        // Another account from the same source, and the same account elsewhere, are not blocked.
        assert_eq!(l.blocked(t0, "2002", phone), None);
        assert_eq!(l.blocked(t0, "2001", ip("192.0.2.8")), None);
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(l.blocked(t1, "2001", phone), None);
        l.fail(t1, "2001", phone);
        l.fail(t1, "2001", phone);
        assert_eq!(
            l.fail(t1, "2001", phone),
            Some(Duration::from_secs(60)),
            "doubled"
        );
    }

    #[test]
    fn a_source_trying_many_accounts_is_blocked_whole() {
        let t0 = Instant::now();
        let scanner = ip("198.51.100.9");
        let mut l = FailureLimiter::default();
        for ext in 100..109 {
            assert_eq!(l.fail(t0, &ext.to_string(), scanner), None, "{ext}");
        }
        assert_eq!(
            l.fail(t0, "109", scanner),
            Some(Duration::from_secs(30)),
            "the 10th failure from one source"
        );
        assert_eq!(
            l.blocked(t0, "2001", scanner),
            Some(Duration::from_secs(30))
        );
        assert_eq!(l.blocked(t0, "2001", ip("198.51.100.10")), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_success_clears_the_pair() {
        let t0 = Instant::now();
        let phone = ip("192.0.2.7");
        let mut l = FailureLimiter::default();
        l.fail(t0, "2001", phone);
        l.fail(t0, "2001", phone);
        assert_eq!(l.fail(t0 + Duration::from_secs(61), "2001", phone), None);
        l.succeeded("2001", phone);
        assert_eq!(l.len(), 1, "only the source's count is left");
        l.fail(t0 + Duration::from_secs(62), "2001", phone);
        assert_eq!(l.fail(t0 + Duration::from_secs(62), "2001", phone), None);
    }

    #[test]
    fn table_is_capped_under_a_storm_of_sources_and_accounts() {
        let t0 = Instant::now();
        let mut l = FailureLimiter {
            max_entries: 100,
            ..FailureLimiter::default()
        };
        let long = "9".repeat(10_000);
        for i in 0..10_000u32 {
            let from = IpAddr::from(i.to_be_bytes());
            let account = if i % 2 == 0 { long.as_str() } else { "2001" };
            l.fail(t0 + Duration::from_millis(u64::from(i)), account, from);
            assert!(l.len() <= 100);
        }
        // The newest source is still tracked.
        let last = IpAddr::from(9_999u32.to_be_bytes());
        let t1 = t0 + Duration::from_secs(10);
        l.fail(t1, "2001", last);
        assert_eq!(l.fail(t1, "2001", last), Some(Duration::from_secs(30)));
    }
}
