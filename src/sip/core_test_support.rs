//! Test support for the sans-IO core's scenario tests (`core_tests`, `core_leak_tests`): a core
//! with default timers, the test phone's address, and readers of what the core sent and emitted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::api::{Command, CommandKind, LegEvent, LegId};
use super::core::{Core, CoreEvent, Peer};
use super::message::{self, SipMsg, StartLine};
use super::stats::SipStats;
use super::transaction::Timers;

/// The test phone's address.
pub(super) const PHONE: &str = "127.0.0.1:5070";

/// A core with default timers and fresh counters.
pub(super) fn core() -> Core {
    Core::new(
        "firstline-test".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    )
}

/// The test phone over UDP.
pub(super) fn phone() -> Peer {
    Peer::Udp(PHONE.parse().unwrap())
}

/// Our address.
pub(super) fn local() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}

/// Everything the core sent since the last call, parsed.
pub(super) fn out(c: &mut Core) -> Vec<SipMsg> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| message::parse(&t.bytes).unwrap())
        .collect()
}

/// The status codes of `msgs` (0 for a request).
pub(super) fn codes(msgs: &[SipMsg]) -> Vec<u16> {
    msgs.iter()
        .map(|m| match m.start {
            StartLine::Response { code } => code,
            StartLine::Request { .. } => 0,
        })
        .collect()
}

/// Every event the core emitted since the last call.
pub(super) fn events(c: &mut Core) -> Vec<CoreEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The leg events among them.
pub(super) fn leg_events(c: &mut Core) -> Vec<LegEvent> {
    events(c)
        .into_iter()
        .filter_map(|e| match e {
            CoreEvent::Leg(_, ev) => Some(ev),
            _ => None,
        })
        .collect()
}

/// Hands the core a command for `leg`.
pub(super) fn cmd(c: &mut Core, now: Instant, leg: LegId, kind: CommandKind) {
    c.handle_command(now, Command { leg, kind });
}

/// Runs every timer until `until`, returning (time since t0, message) for each transmission.
pub(super) fn run_until(c: &mut Core, t0: Instant, until: Instant) -> Vec<(u128, SipMsg)> {
    let mut sent = Vec::new();
    while let Some(at) = c.poll_timeout().filter(|at| *at <= until) {
        c.handle_timeout(at);
        for m in out(c) {
            sent.push(((at - t0).as_millis(), m));
        }
    }
    sent
}
