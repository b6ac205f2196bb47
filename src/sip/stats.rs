//! SIP counters (atomics, shared between the driver and readers of `SipEndpoint::stats`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters; incremented by the SIP task and the socket tasks.
#[derive(Debug, Default)]
pub(crate) struct SipStats {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) parse_errors_dropped: AtomicU64,
    pub(crate) bad_requests_400: AtomicU64,
    pub(crate) too_large_413: AtomicU64,
    pub(crate) unavailable_503: AtomicU64,
    pub(crate) retransmissions: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) registrations: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
}

/// A point-in-time copy of the SIP counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SipStatsSnapshot {
    /// Messages received (datagrams and framed TCP messages).
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Inputs dropped because nothing could be answered.
    pub parse_errors_dropped: u64,
    /// 400 responses sent.
    pub bad_requests_400: u64,
    /// 413 responses sent.
    pub too_large_413: u64,
    /// 503 responses sent (admission control).
    pub unavailable_503: u64,
    /// Retransmissions sent or absorbed.
    pub retransmissions: u64,
    /// Calls handed to the application.
    pub calls: u64,
    /// REGISTERs accepted (200).
    pub registrations: u64,
    /// REGISTERs refused for authentication (401 challenges and 403 blocks).
    pub auth_failures: u64,
}

pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl SipStats {
    pub(crate) fn snapshot(&self) -> SipStatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SipStatsSnapshot {
            messages_in: g(&self.messages_in),
            messages_out: g(&self.messages_out),
            parse_errors_dropped: g(&self.parse_errors_dropped),
            bad_requests_400: g(&self.bad_requests_400),
            too_large_413: g(&self.too_large_413),
            unavailable_503: g(&self.unavailable_503),
            retransmissions: g(&self.retransmissions),
            calls: g(&self.calls),
            registrations: g(&self.registrations),
            auth_failures: g(&self.auth_failures),
        }
    }
}
