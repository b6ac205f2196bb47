//! Per-source rate limits on new INVITEs and REGISTERs, in the spirit of Kamailio's pike (no I/O).
//!
//! One token bucket per source address and kind: `burst` requests at once, then `per_sec`
//! sustained. A request past the limit is answered 503 with Retry-After (the seconds until the
//! bucket holds a token again); a source that keeps sending gets `burst` such answers in a row
//! and is then dropped silently until its rate falls back, so a flood costs us no more replies
//! than a burst. Addresses in `exempt` (by default loopback: a local proxy, the benchmarks) are
//! never limited. The table holds at most `max_sources` addresses: when full, sources whose
//! buckets have refilled are forgotten (at most one sweep a second), and past that every new
//! source shares one overflow bucket, so spoofed source addresses cannot grow memory.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// An address block, `192.0.2.0/24`, `2001:db8::/32`, or one address (`::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// A `Cidr` that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an address or address/prefix")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Cidr {
    /// True when `ip` is inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a.to_canonical() {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let (net, width) = bits(self.net);
        let (addr, addr_width) = bits(ip);
        if width != addr_width {
            return false;
        }
        let keep = u32::from(self.prefix.min(width));
        let mask = if keep == 0 {
            0
        } else {
            u128::MAX << (128 - keep)
        };
        net & mask == addr & mask
    }
}

/// `[sip.rate_limit]`: per-source limits on new INVITEs and REGISTERs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// New INVITEs (outside a dialog) per second per source, sustained; 0 turns the limit off.
    pub invite_per_sec: u32,
    /// INVITEs a source may send at once before the rate applies.
    pub invite_burst: u32,
    /// REGISTERs per second per source, sustained (a challenge costs a phone two); 0: off.
    pub register_per_sec: u32,
    /// REGISTERs a source may send at once (an office NAT after a power cut).
    pub register_burst: u32,
    /// Sources never limited: a proxy or SBC in front carries everyone's traffic.
    pub exempt: Vec<Cidr>,
    /// Most source addresses tracked at once.
    pub max_sources: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        let v4 = Cidr {
            net: IpAddr::from([127, 0, 0, 0]),
            prefix: 8,
        };
        let v6 = Cidr {
            net: IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            prefix: 128,
        };
        RateLimits {
            invite_per_sec: 10,
            invite_burst: 50,
            register_per_sec: 20,
            register_burst: 200,
            exempt: vec![v4, v6],
            max_sources: 10_000,
        }
    }
}

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Invite,
    Register,
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Answer 503 with `Retry-After: retry_after` (seconds).
    Refuse {
        retry_after: u64,
    },
    /// Over the limit for a while: no answer at all.
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Requests refused since the last one that passed.
    refused: u32,
}

impl Bucket {
    fn full(now: Instant, burst: u32) -> Self {
        Bucket {
            tokens: f64::from(burst),
            at: now,
            refused: 0,
        }
    }

    fn refill(&mut self, now: Instant, per_sec: u32, burst: u32) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * f64::from(per_sec)).min(f64::from(burst));
        self.at = now;
    }

    fn take(&mut self, now: Instant, per_sec: u32, burst: u32) -> Verdict {
        self.refill(now, per_sec, burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused = 0;
            return Verdict::Pass;
        }
        self.refused = self.refused.saturating_add(1);
        if self.refused > burst {
            return Verdict::Drop;
        }
        let wait = (1.0 - self.tokens) / f64::from(per_sec.max(1));
        Verdict::Refuse {
            retry_after: (wait.ceil() as u64).max(1),
        }
    }

    /// True when the bucket is back to full: it carries nothing worth remembering.
    fn idle(&self, now: Instant, per_sec: u32, burst: u32) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + dt * f64::from(per_sec) >= f64::from(burst)
    }
}

#[derive(Debug, Clone, Copy)]
struct Source {
    invite: Bucket,
    register: Bucket,
}

/// The per-source limiter.
#[derive(Debug)]
pub(crate) struct Pike {
    cfg: RateLimits,
    sources: HashMap<IpAddr, Source>,
    /// Shared by new sources while the table is full.
    overflow: Option<Source>,
    last_sweep: Option<Instant>,
}

/// The shortest time between two sweeps of a full table.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl Default for Pike {
    fn default() -> Self {
        Pike::new(RateLimits::default())
    }
}

impl Pike {
    pub(crate) fn new(cfg: RateLimits) -> Self {
        Pike {
            cfg,
            sources: HashMap::new(),
            overflow: None,
            last_sweep: None,
        }
    }

    /// Replaces the limits; what the table knows is kept.
    pub(crate) fn set_limits(&mut self, cfg: RateLimits) {
        self.cfg = cfg;
    }

    /// Sources tracked (tests and gauges).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sources.len()
    }

    fn limits(&self, kind: Kind) -> (u32, u32) {
        let (rate, burst) = match kind {
            Kind::Invite => (self.cfg.invite_per_sec, self.cfg.invite_burst),
            Kind::Register => (self.cfg.register_per_sec, self.cfg.register_burst),
        };
        (rate, burst.max(1))
    }

    /// Counts one request of `kind` from `ip` at `now`.
    pub(crate) fn check(&mut self, now: Instant, ip: IpAddr, kind: Kind) -> Verdict {
        let (per_sec, burst) = self.limits(kind);
        if per_sec == 0 || self.cfg.exempt.iter().any(|c| c.contains(ip)) {
            return Verdict::Pass;
        }
        let ip = ip.to_canonical();
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.cfg.max_sources {
            self.sweep(now);
        }
        let new = Source {
            invite: Bucket::full(now, self.cfg.invite_burst.max(1)),
            register: Bucket::full(now, self.cfg.register_burst.max(1)),
        };
        let source = if self.sources.contains_key(&ip) || self.sources.len() < self.cfg.max_sources
        {
            self.sources.entry(ip).or_insert(new)
        } else {
            self.overflow.get_or_insert(new)
        };
        let bucket = match kind {
            Kind::Invite => &mut source.invite,
            Kind::Register => &mut source.register,
        };
        bucket.take(now, per_sec, burst)
    }

    /// Forgets sources whose buckets have refilled (at most once per `SWEEP_EVERY`).
    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        let (ir, ib) = self.limits(Kind::Invite);
        let (rr, rb) = self.limits(Kind::Register);
        self.sources
            .retain(|_, s| !(s.invite.idle(now, ir, ib) && s.register.idle(now, rr, rb)));
        if self.sources.len() < self.cfg.max_sources {
            self.overflow = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limits() -> RateLimits {
        RateLimits {
            invite_per_sec: 10,
            invite_burst: 5,
            register_per_sec: 2,
            register_burst: 3,
            exempt: vec!["192.0.2.0/24".parse().unwrap()],
            max_sources: 100,
        }
    }

    #[test]
    fn burst_then_rate_with_retry_after() {
        let t0 = Instant::now();
        let mut p = Pike::new(limits());
        let a = ip("198.51.100.7");
        for _ in 0..5 {
            assert_eq!(p.check(t0, a, Kind::Invite), Verdict::Pass);
        }
        assert_eq!(
            p.check(t0, a, Kind::Invite),
            Verdict::Refuse { retry_after: 1 }
        );
        // 10/s: one token every 100 ms.
        let t = t0 + Duration::from_millis(110);
        assert_eq!(p.check(t, a, Kind::Invite), Verdict::Pass);
        assert!(matches!(
            p.check(t, a, Kind::Invite),
            Verdict::Refuse { .. }
        ));
        // Another source and another kind have their own buckets.
        assert_eq!(p.check(t, ip("198.51.100.8"), Kind::Invite), Verdict::Pass);
        assert_eq!(p.check(t, a, Kind::Register), Verdict::Pass);
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        let passed = (0..20)
            .filter(|_| p.check(later, a, Kind::Invite) == Verdict::Pass)
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn retry_after_is_the_wait_for_a_token() {
        let t0 = Instant::now();
        let mut p = Pike::new(RateLimits {
            register_per_sec: 1,
            register_burst: 1,
            ..limits()
        });
        let a = ip("203.0.113.1");
        assert_eq!(p.check(t0, a, Kind::Register), Verdict::Pass);
        let t = t0 + Duration::from_millis(200);
        assert_eq!(
            p.check(t, a, Kind::Register),
            Verdict::Refuse { retry_after: 1 }
        );
        assert_eq!(
            p.check(t0 + Duration::from_millis(1100), a, Kind::Register),
            Verdict::Pass
        );
    }

    #[test]
    fn a_flood_gets_a_burst_of_answers_then_silence() {
        let t0 = Instant::now();
        let mut p = Pike::new(limits());
        let a = ip("198.51.100.9");
        let verdicts: Vec<Verdict> = (0..1000).map(|_| p.check(t0, a, Kind::Invite)).collect();
        let pass = verdicts.iter().filter(|v| **v == Verdict::Pass).count();
        let refused = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Refuse { .. }))
            .count();
        assert_eq!((pass, refused), (5, 5));
        assert!(verdicts[10..].iter().all(|v| *v == Verdict::Drop));
        // Once the rate falls back, the source is served again.
        let t = t0 + Duration::from_millis(250);
        assert_eq!(p.check(t, a, Kind::Invite), Verdict::Pass);
        assert!(matches!(p.check(t, a, Kind::Invite), Verdict::Pass));
        assert!(matches!(
            p.check(t, a, Kind::Invite),
            Verdict::Refuse { .. }
        ));
    }

    #[test]
    fn exempt_sources_and_zero_rate_are_never_limited() {
        let t0 = Instant::now();
        let mut p = Pike::new(limits());
        assert!((0..10_000).all(|_| p.check(t0, ip("192.0.2.44"), Kind::Invite) == Verdict::Pass));
        let mut d = Pike::default();
        assert!((0..10_000).all(|_| d.check(t0, ip("127.0.0.1"), Kind::Invite) == Verdict::Pass));
        assert!((0..10_000).all(|_| d.check(t0, ip("::1"), Kind::Register) == Verdict::Pass));
        assert!(
            (0..1000).all(|_| d.check(t0, ip("::ffff:127.0.0.1"), Kind::Invite) == Verdict::Pass)
        );
        assert_eq!(d.len(), 0);
        let mut off = Pike::new(RateLimits {
            invite_per_sec: 0,
            ..limits()
        });
        assert!(
            (0..1000).all(|_| off.check(t0, ip("198.51.100.1"), Kind::Invite) == Verdict::Pass)
        );
    }

    #[test]
    fn the_table_is_bounded_and_new_sources_share_the_overflow() {
        let t0 = Instant::now();
        let mut p = Pike::new(limits());
        for i in 0..20_000u32 {
            let a = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            p.check(t0, a, Kind::Invite);
        }
        assert_eq!(p.len(), 100);
        // New sources now share one bucket of 5: a spoofing flood gains nothing.
        let fresh = ip("198.51.100.200");
        assert!(matches!(p.check(t0, fresh, Kind::Invite), Verdict::Drop));
        // Once the tracked sources are idle again, a sweep makes room.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(p.check(later, fresh, Kind::Invite), Verdict::Pass);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "2001:db8::1".parse().unwrap();
        assert!(one.contains(ip("2001:db8::1")));
        assert!(!one.contains(ip("2001:db8::2")));
        assert!(!one.contains(ip("10.1.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.5")));
        assert_eq!(c.to_string(), "10.1.0.0/16");
        for bad in ["10.1.0.0/33", "nonsense", "::1/129", "1.2.3.4/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
