//! Sans-IO SIP transactions (RFC 3261 §17) and the UAS 2xx retransmission (§13.3.1.4), no I/O.
//!
//! Every state machine has the same shape: `handle(now, input)`, `handle_timeout(now)`,
//! `poll_transmit()`, `poll_event()`, `poll_timeout()`. Bytes to send go to the transaction's
//! peer, which the owner (the core) remembers. Reliable transports (TCP) never retransmit
//! (§17.1.1.2, §17.2.1). An INVITE client transaction (timers A/B/D) for ringing agents' phones
//! fits next to these as `invite_client.rs` with the same shape.

use std::time::{Duration, Instant};

pub(crate) mod ack_wait;
pub(crate) mod invite_client;
pub(crate) mod invite_server;
pub(crate) mod non_invite_client;
pub(crate) mod non_invite_server;

/// Timer base values (RFC 3261 §17.1.1.1 and Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub(crate) t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub(crate) t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub(crate) t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64·T1: timers B, F, H, J, L and the 2xx give-up time.
    pub(crate) fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction reports to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxEvent {
    /// A final response arrived (client transactions).
    Final(u16),
    /// Timer B/F/H or the 2xx give-up time fired.
    Timeout,
    /// The transaction is over; the owner removes it.
    Terminated,
}

/// Earliest of several optional deadlines.
pub(crate) fn earliest(times: &[Option<Instant>]) -> Option<Instant> {
    times.iter().flatten().min().copied()
}

/// Fires a deadline: returns true and clears it when `now` has reached it.
pub(crate) fn fire(slot: &mut Option<Instant>, now: Instant) -> bool {
    match *slot {
        Some(at) if at <= now => {
            *slot = None;
            true
        }
        _ => false,
    }
}

/// The common polling surface of every transaction state machine.
pub(crate) trait Machine {
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    fn poll_event(&mut self) -> Option<TxEvent>;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn poll_transmit(&mut self) -> Option<Vec<u8>> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<TxEvent> {
                <$t>::poll_event(self)
            }
        }
    };
}
machine!(invite_server::InviteServerTx);
machine!(non_invite_server::NonInviteServerTx);
machine!(non_invite_client::NonInviteClientTx);
machine!(ack_wait::AckWait);
