//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8), no I/O.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Timers, TxEvent, fire};

/// States of Figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NistState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Inputs from the network and from the TU.
#[derive(Debug, Clone)]
pub(crate) enum NistInput {
    /// The same request again.
    Retransmission,
    /// The TU sends a response.
    Respond { code: u16, bytes: Vec<u8> },
}

/// One non-INVITE server transaction.
#[derive(Debug)]
pub(crate) struct NonInviteServerTx {
    state: NistState,
    reliable: bool,
    timers: Timers,
    last: Option<Vec<u8>>,
    j_at: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<TxEvent>,
}

impl NonInviteServerTx {
    pub(crate) fn new(reliable: bool, timers: Timers) -> Self {
        Self {
            state: NistState::Trying,
            reliable,
            timers,
            last: None,
            j_at: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> NistState {
        self.state
    }

    pub(crate) fn handle(&mut self, now: Instant, input: NistInput) {
        match (self.state, input) {
            (NistState::Trying | NistState::Proceeding, NistInput::Respond { code, bytes }) => {
                self.out.push_back(bytes.clone());
                self.last = Some(bytes);
                if code < 200 {
                    self.state = NistState::Proceeding;
                } else if self.reliable {
                    // Timer J is zero on reliable transports.
                    self.state = NistState::Terminated;
                    self.events.push_back(TxEvent::Terminated);
                } else {
                    self.state = NistState::Completed;
                    self.j_at = Some(now + self.timers.t1x64());
                }
            }
            // Trying absorbs retransmissions; later states resend the last response.
            (NistState::Proceeding | NistState::Completed, NistInput::Retransmission) => {
                if let Some(last) = &self.last {
                    self.out.push_back(last.clone());
                }
            }
            _ => {}
        }
    }

    /// Fires timer J.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if fire(&mut self.j_at, now) {
            self.state = NistState::Terminated;
            self.events.push_back(TxEvent::Terminated);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.j_at
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn completed_absorbs_retransmissions_until_timer_j() {
        let t0 = Instant::now();
        let mut tx = NonInviteServerTx::new(false, Timers::default());
        tx.handle(t0, NistInput::Retransmission);
        assert_eq!(tx.poll_transmit(), None, "Trying has nothing to resend");
        tx.handle(
            t0,
            NistInput::Respond {
                code: 200,
                bytes: b"ok".to_vec(),
            },
        );
        assert_eq!(tx.poll_transmit(), Some(b"ok".to_vec()));
        tx.handle(t0 + Duration::from_secs(10), NistInput::Retransmission);
        assert_eq!(tx.poll_transmit(), Some(b"ok".to_vec()));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tx.handle_timeout(t0 + Duration::from_millis(31_999));
        assert_eq!(tx.state(), NistState::Completed);
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(tx.state(), NistState::Terminated);
        assert_eq!(tx.poll_event(), Some(TxEvent::Terminated));
    }

    #[test]
    fn reliable_terminates_at_once() {
        let t0 = Instant::now();
        let mut tx = NonInviteServerTx::new(true, Timers::default());
        tx.handle(
            t0,
            NistInput::Respond {
                code: 100,
                bytes: b"p".to_vec(),
            },
        );
        tx.handle(t0, NistInput::Retransmission);
        assert_eq!(tx.state(), NistState::Proceeding);
        tx.handle(
            t0,
            NistInput::Respond {
                code: 481,
                bytes: b"f".to_vec(),
            },
        );
        assert_eq!(tx.state(), NistState::Terminated);
        assert_eq!(tx.poll_timeout(), None);
    }
}
