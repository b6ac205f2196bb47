//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6), used for our BYE; no I/O.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Timers, TxEvent, earliest, fire};

/// States of Figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NictState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// One non-INVITE client transaction.
#[derive(Debug)]
pub(crate) struct NonInviteClientTx {
    state: NictState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    e_at: Option<Instant>,
    e_interval: Duration,
    f_at: Option<Instant>,
    k_at: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<TxEvent>,
}

impl NonInviteClientTx {
    /// Starts the transaction: the request is queued for sending at once.
    pub(crate) fn new(now: Instant, reliable: bool, timers: Timers, request: Vec<u8>) -> Self {
        let mut out = VecDeque::new();
        out.push_back(request.clone());
        Self {
            state: NictState::Trying,
            reliable,
            timers,
            request,
            e_at: (!reliable).then(|| now + timers.t1),
            e_interval: timers.t1,
            f_at: Some(now + timers.t1x64()),
            k_at: None,
            out,
            events: VecDeque::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> NictState {
        self.state
    }

    fn terminate(&mut self) {
        self.state = NictState::Terminated;
        self.e_at = None;
        self.f_at = None;
        self.k_at = None;
        self.events.push_back(TxEvent::Terminated);
    }

    /// A response matching this transaction arrived.
    pub(crate) fn handle_response(&mut self, now: Instant, code: u16) {
        match self.state {
            NictState::Trying | NictState::Proceeding if code < 200 => {
                self.state = NictState::Proceeding;
            }
            NictState::Trying | NictState::Proceeding => {
                self.events.push_back(TxEvent::Final(code));
                self.e_at = None;
                self.f_at = None;
                if self.reliable {
                    self.terminate();
                } else {
                    self.state = NictState::Completed;
                    self.k_at = Some(now + self.timers.t4);
                }
            }
            _ => {}
        }
    }

    /// Fires timers E, F, K.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if fire(&mut self.f_at, now) {
            self.events.push_back(TxEvent::Timeout);
            self.terminate();
            return;
        }
        if fire(&mut self.e_at, now) {
            self.out.push_back(self.request.clone());
            // Trying doubles up to T2; Proceeding retransmits every T2.
            self.e_interval = match self.state {
                NictState::Trying => (self.e_interval * 2).min(self.timers.t2),
                _ => self.timers.t2,
            };
            self.e_at = Some(now + self.e_interval);
        }
        if fire(&mut self.k_at, now) {
            self.terminate();
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.e_at, self.f_at, self.k_at])
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

    #[test]
    fn timer_e_backs_off_and_timer_f_times_out() {
        let t0 = Instant::now();
        let mut tx = NonInviteClientTx::new(t0, false, Timers::default(), b"BYE".to_vec());
        assert_eq!(tx.poll_transmit(), Some(b"BYE".to_vec()));
        let mut sends = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            while tx.poll_transmit().is_some() {
                sends.push((at - t0).as_millis());
            }
        }
        assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(*sends.last().unwrap(), 31_500);
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
        assert_eq!(tx.state(), NictState::Terminated);
    }

    #[test]
    fn final_response_then_timer_k() {
        let t0 = Instant::now();
        let mut tx = NonInviteClientTx::new(t0, false, Timers::default(), b"BYE".to_vec());
        tx.poll_transmit();
        tx.handle_response(t0 + Duration::from_millis(600), 100);
        tx.handle_timeout(t0 + Duration::from_millis(600));
        assert_eq!(
            tx.poll_transmit(),
            Some(b"BYE".to_vec()),
            "E fired at 500 ms"
        );
        // In Proceeding the next E is T2 later.
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(4600)));
        tx.handle_response(t0 + Duration::from_secs(1), 200);
        assert_eq!(tx.poll_event(), Some(TxEvent::Final(200)));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(6)));
        tx.handle_timeout(t0 + Duration::from_secs(6));
        assert_eq!(tx.state(), NictState::Terminated);
    }

    #[test]
    fn reliable_sends_once() {
        let t0 = Instant::now();
        let mut tx = NonInviteClientTx::new(t0, true, Timers::default(), b"BYE".to_vec());
        tx.poll_transmit();
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tx.handle_response(t0, 200);
        assert_eq!(tx.state(), NictState::Terminated);
    }
}
