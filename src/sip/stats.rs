//! SIP counters and live gauges (atomics, shared between the driver and readers of
//! `SipEndpoint::stats` and `SipEndpoint::live`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters; incremented by the SIP task and the socket tasks.
#[derive(Debug, Default)]
pub struct SipStats {
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
    pub(crate) rate_limited_invite: AtomicU64,
    pub(crate) rate_limited_register: AtomicU64,
    pub(crate) rate_dropped_invite: AtomicU64,
    pub(crate) rate_dropped_register: AtomicU64,
    pub(crate) info_refused_busy: AtomicU64,
    pub(crate) leg_events_lost: AtomicU64,
    /// Live counts, stored by the SIP task after every turn of its loop.
    pub(crate) live_transactions: AtomicU64,
    pub(crate) live_dialogs: AtomicU64,
    pub(crate) live_registrations: AtomicU64,
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
    /// New INVITEs over their source's rate, answered 503 (`[sip.rate_limit]`).
    pub rate_limited_invite: u64,
    /// REGISTERs over their source's rate, answered 503.
    pub rate_limited_register: u64,
    /// New INVITEs over their source's rate for a while, dropped without an answer.
    pub rate_dropped_invite: u64,
    /// REGISTERs over their source's rate for a while, dropped without an answer.
    pub rate_dropped_register: u64,
    /// INFOs answered 500 + Retry-After because their call task was not keeping up.
    pub info_refused_busy: u64,
    /// Leg events that could not be queued for a call task (a bug if ever non-zero).
    pub leg_events_lost: u64,
}

/// What the SIP layer holds right now (`/health`): every count returns to zero when idle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SipLive {
    /// Server and client transactions (INVITE and non-INVITE), outgoing INVITEs included.
    pub transactions: u64,
    /// Dialogs (early and confirmed), inbound and outgoing.
    pub dialogs: u64,
    /// Open TCP/TLS connections.
    pub connections: u64,
    /// Extensions with at least one registered binding.
    pub registrations: u64,
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
            rate_limited_invite: g(&self.rate_limited_invite),
            rate_limited_register: g(&self.rate_limited_register),
            rate_dropped_invite: g(&self.rate_dropped_invite),
            rate_dropped_register: g(&self.rate_dropped_register),
            info_refused_busy: g(&self.info_refused_busy),
            leg_events_lost: g(&self.leg_events_lost),
        }
    }

    pub(crate) fn live(&self) -> SipLive {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SipLive {
            transactions: g(&self.live_transactions),
            dialogs: g(&self.live_dialogs),
            // The transport's table counts connections (`Endpoint::live` fills this in).
            connections: 0,
            registrations: g(&self.live_registrations),
        }
    }

    /// Stores the live counts (the SIP task, after each turn).
    pub(crate) fn set_live(&self, live: SipLive) {
        let s = |c: &AtomicU64, v: u64| c.store(v, Ordering::Relaxed);
        s(&self.live_transactions, live.transactions);
        s(&self.live_dialogs, live.dialogs);
        s(&self.live_registrations, live.registrations);
    }
}
