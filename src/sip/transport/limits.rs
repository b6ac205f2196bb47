//! Connection admission and deadlines for SIP over TCP and TLS (no I/O).
//!
//! [`ConnTable`] caps stream connections in total and per source (an IPv6 source is its /64),
//! counts them for `/health` and counts what was refused or cut. [`ConnClock`] is one
//! connection's timers: the TLS handshake, the first complete message (slowloris), a message
//! once started, and idleness — short until the connection carries something worth keeping
//! (a successful REGISTER, an answered INVITE, a request of ours), long after.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Limits on SIP stream connections (TCP and TLS together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections at most; past it new ones are closed at once.
    pub max_total: usize,
    /// Open connections from one source address (IPv6: one /64) at most.
    pub max_per_source: usize,
    /// A TLS handshake must finish within this.
    pub handshake: Duration,
    /// The first complete SIP message must arrive within this after the connection (or its
    /// handshake) is up.
    pub first_message: Duration,
    /// A message that has started arriving must be complete within this.
    pub message: Duration,
    /// A connection that has carried nothing worth keeping is closed after this long without a
    /// complete message or keep-alive.
    pub idle: Duration,
    /// The same for a connection that carried a successful REGISTER, an answered INVITE or a
    /// request of ours: longer than the longest registration, so a phone's flow lives between
    /// its refreshes.
    pub kept_idle: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_total: 2048,
            max_per_source: 64,
            handshake: Duration::from_secs(10),
            first_message: Duration::from_secs(10),
            message: Duration::from_secs(30),
            idle: Duration::from_secs(120),
            kept_idle: Duration::from_secs(7200),
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Total,
    PerSource,
}

/// Why a connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    Handshake,
    FirstMessage,
    Message,
    Idle,
}

/// Counts of SIP stream connections, for `/health` and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConnCounts {
    /// Open TCP and TLS connections (TLS ones also while in their handshake).
    pub open: usize,
    /// Of those, TLS.
    pub open_tls: usize,
    /// Refused because `max_total` connections were open.
    pub refused_total: u64,
    /// Refused because the source had `max_per_source` open.
    pub refused_per_source: u64,
    /// TLS handshakes that failed or did not finish in time.
    pub handshake_failed: u64,
    /// Cut: no complete first message in time.
    pub first_message_timeouts: u64,
    /// Cut: a started message not completed in time.
    pub message_timeouts: u64,
    /// Closed after being idle.
    pub idle_closed: u64,
}

/// Open connections per source and the counters; shared by the listeners (std mutex, held only
/// for a map update, never across an await).
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    per_source: Mutex<HashMap<IpAddr, usize>>,
    open: AtomicUsize,
    open_tls: AtomicUsize,
    refused_total: AtomicU64,
    refused_per_source: AtomicU64,
    handshake_failed: AtomicU64,
    first_message_timeouts: AtomicU64,
    message_timeouts: AtomicU64,
    idle_closed: AtomicU64,
}

/// The source a per-source limit counts: the address, or the /64 of an IPv6 address (one
/// subscriber usually holds a whole /64).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    table: Arc<ConnTable>,
    key: IpAddr,
    tls: bool,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut map = self
            .table
            .per_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
        drop(map);
        self.table.open.fetch_sub(1, Ordering::Relaxed);
        if self.tls {
            self.table.open_tls.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl ConnTable {
    /// Admits a connection from `ip` within `limits`, or says why not (and counts it).
    pub(crate) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        tls: bool,
        limits: &ConnLimits,
    ) -> Result<ConnGuard, Refusal> {
        let key = source_key(ip);
        let mut map = self
            .per_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.open.load(Ordering::Relaxed) >= limits.max_total {
            self.refused_total.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Total);
        }
        let n = map.entry(key).or_insert(0);
        if *n >= limits.max_per_source {
            self.refused_per_source.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::PerSource);
        }
        *n += 1;
        // Under the map lock, so two accepts cannot both take the last place.
        self.open.fetch_add(1, Ordering::Relaxed);
        if tls {
            self.open_tls.fetch_add(1, Ordering::Relaxed);
        }
        Ok(ConnGuard {
            table: self.clone(),
            key,
            tls,
        })
    }

    /// Counts a cut connection.
    pub(crate) fn count_expired(&self, why: Expired) {
        let counter = match why {
            Expired::Handshake => &self.handshake_failed,
            Expired::FirstMessage => &self.first_message_timeouts,
            Expired::Message => &self.message_timeouts,
            Expired::Idle => &self.idle_closed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Open connections now (TCP and TLS).
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// All counters.
    pub(crate) fn counts(&self) -> ConnCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnCounts {
            open: self.open.load(Ordering::Relaxed),
            open_tls: self.open_tls.load(Ordering::Relaxed),
            refused_total: get(&self.refused_total),
            refused_per_source: get(&self.refused_per_source),
            handshake_failed: get(&self.handshake_failed),
            first_message_timeouts: get(&self.first_message_timeouts),
            message_timeouts: get(&self.message_timeouts),
            idle_closed: get(&self.idle_closed),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// TLS handshake in progress.
    Handshake,
    /// Up, no complete message yet.
    First,
    /// At least one message seen.
    Open,
}

/// One connection's deadlines, driven with `(now, event)` and asked for the next deadline.
#[derive(Debug, Clone)]
pub(crate) struct ConnClock {
    limits: ConnLimits,
    phase: Phase,
    /// When the current phase began (accept, or end of handshake).
    since: Instant,
    /// Last complete message or keep-alive.
    last_frame: Instant,
    /// First read after the last complete message: a message is under way.
    partial_since: Option<Instant>,
}

impl ConnClock {
    /// A clock for a connection accepted at `now`; `tls` starts in the handshake.
    pub(crate) fn new(now: Instant, limits: ConnLimits, tls: bool) -> Self {
        Self {
            limits,
            phase: if tls { Phase::Handshake } else { Phase::First },
            since: now,
            last_frame: now,
            partial_since: None,
        }
    }

    /// The TLS handshake finished.
    pub(crate) fn handshake_done(&mut self, now: Instant) {
        if self.phase == Phase::Handshake {
            self.phase = Phase::First;
            self.since = now;
            self.last_frame = now;
        }
    }

    /// Bytes arrived (before they are cut into frames).
    pub(crate) fn on_bytes(&mut self, now: Instant) {
        self.partial_since.get_or_insert(now);
    }

    /// A complete message was cut out of the stream.
    pub(crate) fn on_message(&mut self, now: Instant) {
        self.phase = Phase::Open;
        self.last_frame = now;
        self.partial_since = None;
    }

    /// A keep-alive (RFC 5626 CRLFCRLF): keeps an open connection alive, but is no first message.
    pub(crate) fn on_ping(&mut self, now: Instant) {
        self.last_frame = now;
        if self.phase == Phase::Open {
            self.partial_since = None;
        }
    }

    fn idle_limit(&self, kept: bool) -> Duration {
        if kept {
            self.limits.kept_idle
        } else {
            self.limits.idle
        }
    }

    /// The next deadline and what expires then; `kept` says whether the connection has carried
    /// something worth keeping.
    pub(crate) fn next(&self, kept: bool) -> (Instant, Expired) {
        match self.phase {
            Phase::Handshake => (self.since + self.limits.handshake, Expired::Handshake),
            Phase::First => (
                self.since + self.limits.first_message,
                Expired::FirstMessage,
            ),
            Phase::Open => {
                let idle = (self.last_frame + self.idle_limit(kept), Expired::Idle);
                match self.partial_since {
                    Some(at) if at + self.limits.message < idle.0 => {
                        (at + self.limits.message, Expired::Message)
                    }
                    _ => idle,
                }
            }
        }
    }

    /// What has expired at `now`, if anything.
    pub(crate) fn expired(&self, now: Instant, kept: bool) -> Option<Expired> {
        let (at, why) = self.next(kept);
        (now >= at).then_some(why)
    }
}

/// Whether bytes we send make a connection worth keeping: any request of ours (we send
/// requests only down a registered phone's flow or inside a dialog), or a 2xx to REGISTER or
/// INVITE. Reads only our own, well-formed output.
pub(crate) fn keeps_connection(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(b"SIP/2.0 ") else {
        // A request starts with its method; a CRLF pong is no request.
        return bytes.first().is_some_and(u8::is_ascii_uppercase);
    };
    if rest.first() != Some(&b'2') {
        return false;
    }
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    bytes[..head_end].split(|b| *b == b'\n').any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return false;
        };
        if !line[..colon].trim_ascii().eq_ignore_ascii_case(b"cseq") {
            return false;
        }
        let method = line[colon + 1..].trim_ascii().rsplit(|b| *b == b' ').next();
        matches!(method, Some(b"REGISTER" | b"INVITE"))
    })
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
