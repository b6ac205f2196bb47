//! INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with the Accepted state of RFC 6026 §8.4); no I/O.
//!
//! Timer A retransmits over UDP (T1 doubling), timer B gives up in Calling (64·T1), timer D
//! absorbs retransmitted non-2xx finals (32 s over UDP, 0 over TCP) and the transaction ACKs them
//! itself; timer M keeps Accepted alive so 2xx retransmissions reach the TU (which re-ACKs).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Timers, earliest, fire};

/// States of Figure 5 (plus Accepted, RFC 6026).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IctState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// What the transaction reports to the TU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IctEvent {
    /// A response the TU must see (1xx, the first non-2xx final, every 2xx).
    Response(u16),
    /// Timer B (no answer in Calling) or no final answer 64·T1 after our CANCEL (§9.1).
    Timeout,
    /// The transaction is over.
    Terminated,
}

/// One INVITE client transaction.
#[derive(Debug)]
pub(crate) struct InviteClientTx {
    state: IctState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    ack: Option<Vec<u8>>,
    a_at: Option<Instant>,
    a_interval: Duration,
    b_at: Option<Instant>,
    d_at: Option<Instant>,
    m_at: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<IctEvent>,
}

impl InviteClientTx {
    /// Starts the transaction in Calling; the INVITE is queued for sending at once.
    pub(crate) fn new(now: Instant, reliable: bool, timers: Timers, request: Vec<u8>) -> Self {
        let mut out = VecDeque::new();
        out.push_back(request.clone());
        Self {
            state: IctState::Calling,
            reliable,
            timers,
            request,
            ack: None,
            a_at: (!reliable).then(|| now + timers.t1),
            a_interval: timers.t1,
            b_at: Some(now + timers.t1x64()),
            d_at: None,
            m_at: None,
            out,
            events: VecDeque::new(),
        }
    }

    pub(crate) fn state(&self) -> IctState {
        self.state
    }

    fn terminate(&mut self) {
        self.state = IctState::Terminated;
        self.a_at = None;
        self.b_at = None;
        self.d_at = None;
        self.m_at = None;
        self.events.push_back(IctEvent::Terminated);
    }

    /// A response matching this transaction. `ack` is the ACK the transaction sends for a
    /// non-2xx final (§17.1.1.3); it is ignored for other codes.
    pub(crate) fn handle_response(&mut self, now: Instant, code: u16, ack: Option<Vec<u8>>) {
        match (self.state, code) {
            (IctState::Calling | IctState::Proceeding, 100..=199) => {
                self.state = IctState::Proceeding;
                self.a_at = None;
                self.b_at = None;
                self.events.push_back(IctEvent::Response(code));
            }
            (IctState::Calling | IctState::Proceeding | IctState::Accepted, 200..=299) => {
                self.a_at = None;
                self.b_at = None;
                if self.state != IctState::Accepted {
                    self.state = IctState::Accepted;
                    self.m_at = Some(now + self.timers.t1x64());
                }
                self.events.push_back(IctEvent::Response(code));
            }
            (IctState::Calling | IctState::Proceeding, 300..) => {
                self.a_at = None;
                self.b_at = None;
                self.ack = ack;
                if let Some(a) = &self.ack {
                    self.out.push_back(a.clone());
                }
                self.events.push_back(IctEvent::Response(code));
                if self.reliable {
                    self.terminate();
                } else {
                    self.state = IctState::Completed;
                    self.d_at = Some(now + Duration::from_secs(32));
                }
            }
            (IctState::Completed, 300..) => {
                // A retransmitted final: ACK again, absorb.
                if let Some(a) = &self.ack {
                    self.out.push_back(a.clone());
                }
            }
            _ => {}
        }
    }

    /// We sent a CANCEL: without a final answer within 64·T1 the INVITE is given up (§9.1).
    pub(crate) fn cancelled(&mut self, now: Instant) {
        if matches!(self.state, IctState::Calling | IctState::Proceeding) {
            self.b_at = Some(now + self.timers.t1x64());
        }
    }

    /// Fires timers A, B, D, M.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if fire(&mut self.b_at, now) {
            self.events.push_back(IctEvent::Timeout);
            self.terminate();
            return;
        }
        if fire(&mut self.a_at, now) {
            self.out.push_back(self.request.clone());
            self.a_interval *= 2;
            self.a_at = Some(now + self.a_interval);
        }
        if fire(&mut self.d_at, now) || fire(&mut self.m_at, now) {
            self.terminate();
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.a_at, self.b_at, self.d_at, self.m_at])
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<IctEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(tx: &mut InviteClientTx) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| tx.poll_transmit()).collect()
    }

    #[test]
    fn timer_a_doubles_and_timer_b_times_out_at_64_t1() {
        let t0 = Instant::now();
        let mut tx = InviteClientTx::new(t0, false, Timers::default(), b"INVITE".to_vec());
        assert_eq!(drain(&mut tx).len(), 1);
        let mut sends = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            for _ in drain(&mut tx) {
                sends.push((at - t0).as_millis());
            }
        }
        // RFC 3261 §17.1.1.2: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B fires at 32 s.
        assert_eq!(sends, vec![500, 1500, 3500, 7500, 15_500, 31_500]);
        assert_eq!(tx.poll_event(), Some(IctEvent::Timeout));
        assert_eq!(tx.state(), IctState::Terminated);
    }

    #[test]
    fn provisional_stops_retransmission_and_timer_b() {
        let t0 = Instant::now();
        let mut tx = InviteClientTx::new(t0, false, Timers::default(), b"INVITE".to_vec());
        drain(&mut tx);
        tx.handle_response(t0 + Duration::from_millis(100), 180, None);
        assert_eq!(tx.poll_event(), Some(IctEvent::Response(180)));
        assert_eq!(tx.poll_timeout(), None, "the TU's ring timeout decides now");
        tx.cancelled(t0 + Duration::from_secs(15));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(47)));
    }

    #[test]
    fn non_2xx_is_acked_by_the_transaction_and_retransmissions_absorbed_until_d() {
        let t0 = Instant::now();
        let mut tx = InviteClientTx::new(t0, false, Timers::default(), b"INVITE".to_vec());
        drain(&mut tx);
        tx.handle_response(t0, 486, Some(b"ACK".to_vec()));
        assert_eq!(drain(&mut tx), vec![b"ACK".to_vec()]);
        assert_eq!(tx.poll_event(), Some(IctEvent::Response(486)));
        tx.handle_response(t0 + Duration::from_secs(1), 486, Some(b"other".to_vec()));
        assert_eq!(drain(&mut tx), vec![b"ACK".to_vec()], "same ACK again");
        assert_eq!(tx.poll_event(), None, "absorbed");
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(tx.state(), IctState::Terminated);
    }

    #[test]
    fn every_2xx_reaches_the_tu_until_timer_m_and_tcp_has_no_a_or_d() {
        let t0 = Instant::now();
        let mut tx = InviteClientTx::new(t0, true, Timers::default(), b"INVITE".to_vec());
        drain(&mut tx);
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + Duration::from_secs(32)),
            "only B"
        );
        tx.handle_response(t0, 200, None);
        tx.handle_response(t0 + Duration::from_secs(1), 200, None);
        assert_eq!(tx.poll_event(), Some(IctEvent::Response(200)));
        assert_eq!(tx.poll_event(), Some(IctEvent::Response(200)));
        assert_eq!(tx.state(), IctState::Accepted);
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(tx.state(), IctState::Terminated);
        let mut tcp = InviteClientTx::new(t0, true, Timers::default(), b"INVITE".to_vec());
        tcp.handle_response(t0, 603, Some(b"ACK".to_vec()));
        assert_eq!(tcp.state(), IctState::Terminated, "timer D is 0 over TCP");
    }
}
