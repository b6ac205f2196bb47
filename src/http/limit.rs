//! Login rate limit (no I/O): failed logins counted per source IP and per login name in fixed
//! windows, in a table of bounded size (issue 4, point 7).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How many failures are allowed, over what window, in how many tracked keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoginLimits {
    /// Failed logins per login name per window.
    pub(crate) per_login: u32,
    /// Failed logins per source IP per window (higher: offices share one address behind NAT).
    pub(crate) per_ip: u32,
    /// Window length; the counter restarts after it.
    pub(crate) window: Duration,
    /// Most keys tracked at once; past it, expired keys go first, then the oldest window.
    pub(crate) max_keys: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_login: 5,
            per_ip: 20,
            window: Duration::from_secs(300),
            max_keys: 10_000,
        }
    }
}

/// Longest login name kept as a key; longer names are cut (they cannot exist anyway).
const MAX_KEY_LOGIN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    Login(String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

/// Failure counters; the owner wraps it in a `Mutex` (never held across an await).
#[derive(Debug)]
pub(crate) struct LoginLimiter {
    limits: LoginLimits,
    windows: HashMap<Key, Window>,
}

impl LoginLimiter {
    /// An empty limiter.
    pub(crate) fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            windows: HashMap::new(),
        }
    }

    /// `Err(retry_after)` when the IP or the login has used up its failures in the current window.
    pub(crate) fn check(
        &self,
        now: Instant,
        ip: Option<IpAddr>,
        login: &str,
    ) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        for (key, limit) in self.keys(ip, login) {
            if let Some(w) = self.windows.get(&key) {
                let end = w.start + self.limits.window;
                if w.failures >= limit && now < end {
                    wait = wait.max(end - now);
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failed login against the IP and the login name.
    pub(crate) fn record_failure(&mut self, now: Instant, ip: Option<IpAddr>, login: &str) {
        for (key, _) in self.keys(ip, login) {
            let window = self.limits.window;
            if !self.windows.contains_key(&key) {
                self.make_room(now);
            }
            let w = self.windows.entry(key).or_insert(Window {
                start: now,
                failures: 0,
            });
            if now >= w.start + window {
                *w = Window {
                    start: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
        }
    }

    /// A correct password clears the login's counter (not the IP's: one valid account must not
    /// reset an address that is guessing others).
    pub(crate) fn record_success(&mut self, login: &str) {
        self.windows.remove(&login_key(login));
    }

    /// Gives back the IP's count for an attempt that turned out right (attempts are counted
    /// before the slow password check, so that parallel requests cannot overrun the limit).
    pub(crate) fn refund_ip(&mut self, ip: Option<IpAddr>) {
        if let Some(ip) = ip
            && let Some(w) = self.windows.get_mut(&Key::Ip(ip))
        {
            w.failures = w.failures.saturating_sub(1);
        }
    }

    /// Keys tracked now (for tests).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.windows.len()
    }

    fn keys(&self, ip: Option<IpAddr>, login: &str) -> Vec<(Key, u32)> {
        let mut keys = vec![(login_key(login), self.limits.per_login)];
        if let Some(ip) = ip {
            keys.push((Key::Ip(ip), self.limits.per_ip));
        }
        keys
    }

    /// Keeps the table under `max_keys`: drops expired windows, then the oldest one.
    fn make_room(&mut self, now: Instant) {
        if self.windows.len() < self.limits.max_keys {
            return;
        }
        let window = self.limits.window;
        self.windows.retain(|_, w| now < w.start + window);
        while self.windows.len() >= self.limits.max_keys.max(1) {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.windows.remove(&k),
                None => break,
            };
        }
    }
}

fn login_key(login: &str) -> Key {
    let lower = login.to_lowercase();
    let cut: String = lower.chars().take(MAX_KEY_LOGIN).collect();
    Key::Login(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            per_login: 3,
            per_ip: 5,
            window: Duration::from_secs(60),
            max_keys: 4,
        }
    }

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn login_is_blocked_after_its_failures_until_the_window_ends() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(limits());
        for i in 0..3 {
            assert_eq!(l.check(t0, ip(i), "anna"), Ok(()));
            l.record_failure(t0 + Duration::from_secs(u64::from(i)), ip(i), "anna");
        }
        // Blocked from any address, and regardless of case; 60 s after the first failure.
        assert_eq!(
            l.check(t0 + Duration::from_secs(10), ip(9), "ANNA"),
            Err(Duration::from_secs(50))
        );
        assert_eq!(l.check(t0 + Duration::from_secs(10), ip(9), "bas"), Ok(()));
        assert_eq!(l.check(t0 + Duration::from_secs(60), ip(9), "anna"), Ok(()));
    }

    #[test]
    fn an_address_guessing_many_logins_is_blocked() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(LoginLimits {
            max_keys: 100,
            ..limits()
        });
        for n in 0..5 {
            l.record_failure(t0, ip(1), &format!("user{n}"));
        }
        assert_eq!(l.check(t0, ip(1), "user9"), Err(Duration::from_secs(60)));
        assert_eq!(l.check(t0, ip(2), "user9"), Ok(()));
        // Without a known address only the login counts.
        assert_eq!(l.check(t0, None, "user9"), Ok(()));
    }

    #[test]
    fn success_clears_the_login_but_not_the_address() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(LoginLimits {
            max_keys: 100,
            ..limits()
        });
        for _ in 0..3 {
            l.record_failure(t0, ip(1), "anna");
        }
        l.record_success("anna");
        assert_eq!(l.check(t0, ip(2), "anna"), Ok(()));
        l.record_failure(t0, ip(1), "bas");
        l.record_failure(t0, ip(1), "bas");
        assert!(
            l.check(t0, ip(1), "eva").is_err(),
            "the address has 5 failures"
        );
    }

    #[test]
    fn a_new_window_starts_after_the_old_one_ends() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(limits());
        l.record_failure(t0, None, "anna");
        l.record_failure(t0, None, "anna");
        // The third failure comes after the window: it starts a new count of one.
        l.record_failure(t0 + Duration::from_secs(61), None, "anna");
        assert_eq!(l.check(t0 + Duration::from_secs(61), None, "anna"), Ok(()));
    }

    #[test]
    fn memory_is_bounded_by_max_keys() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(limits());
        for n in 0..1000u32 {
            let at = t0 + Duration::from_millis(u64::from(n));
            l.record_failure(at, None, &format!("guess{n}"));
            assert!(l.tracked() <= 4, "{} keys after {n}", l.tracked());
        }
        // The newest keys are the ones kept.
        assert!(l.windows.contains_key(&login_key("guess999")));
        assert!(!l.windows.contains_key(&login_key("guess0")));
    }
}
