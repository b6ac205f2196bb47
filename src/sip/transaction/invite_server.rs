//! INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1), no I/O.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Timers, TxEvent, earliest, fire};

/// States of Figure 7 (plus Accepted, RFC 6026).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IstState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// Inputs from the network and from the TU.
#[derive(Debug, Clone)]
pub(crate) enum IstInput {
    /// The same INVITE again (a retransmission).
    Retransmission,
    /// An ACK matching this transaction (for a non-2xx final).
    Ack,
    /// The TU sends a response with this status.
    Respond { code: u16, bytes: Vec<u8> },
}

/// One INVITE server transaction.
#[derive(Debug)]
pub(crate) struct InviteServerTx {
    state: IstState,
    reliable: bool,
    timers: Timers,
    last: Option<Vec<u8>>,
    g_at: Option<Instant>,
    g_interval: Duration,
    h_at: Option<Instant>,
    i_at: Option<Instant>,
    l_at: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<TxEvent>,
}

impl InviteServerTx {
    /// A new transaction in Proceeding; the TU sends 100 Trying through `handle` at once.
    pub(crate) fn new(reliable: bool, timers: Timers) -> Self {
        Self {
            state: IstState::Proceeding,
            reliable,
            timers,
            last: None,
            g_at: None,
            g_interval: timers.t1,
            h_at: None,
            i_at: None,
            l_at: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> IstState {
        self.state
    }

    fn terminate(&mut self) {
        self.state = IstState::Terminated;
        self.g_at = None;
        self.h_at = None;
        self.i_at = None;
        self.l_at = None;
        self.events.push_back(TxEvent::Terminated);
    }

    /// Feeds one input. Returns false when a response was refused (not in Proceeding).
    pub(crate) fn handle(&mut self, now: Instant, input: IstInput) -> bool {
        match (self.state, input) {
            (IstState::Proceeding, IstInput::Respond { code, bytes }) => {
                self.out.push_back(bytes.clone());
                self.last = Some(bytes);
                if (200..300).contains(&code) {
                    // RFC 6026 §7.1: Accepted absorbs retransmitted INVITEs; the TU retransmits 2xx.
                    self.state = IstState::Accepted;
                    self.l_at = Some(now + self.timers.t1x64());
                } else if code >= 300 {
                    self.state = IstState::Completed;
                    if !self.reliable {
                        self.g_at = Some(now + self.timers.t1);
                    }
                    self.h_at = Some(now + self.timers.t1x64());
                }
                true
            }
            (_, IstInput::Respond { .. }) => false,
            (IstState::Proceeding | IstState::Completed, IstInput::Retransmission) => {
                if let Some(last) = &self.last {
                    self.out.push_back(last.clone());
                }
                true
            }
            (IstState::Completed, IstInput::Ack) => {
                self.state = IstState::Confirmed;
                self.g_at = None;
                self.h_at = None;
                if self.reliable {
                    self.terminate();
                } else {
                    self.i_at = Some(now + self.timers.t4);
                }
                true
            }
            _ => true,
        }
    }

    /// Fires due timers G, H, I, L.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if fire(&mut self.h_at, now) {
            // Timer H: no ACK for our final response.
            self.events.push_back(TxEvent::Timeout);
            self.terminate();
            return;
        }
        if fire(&mut self.g_at, now) {
            if let Some(last) = &self.last {
                self.out.push_back(last.clone());
            }
            self.g_interval = (self.g_interval * 2).min(self.timers.t2);
            self.g_at = Some(now + self.g_interval);
        }
        if fire(&mut self.i_at, now) || fire(&mut self.l_at, now) {
            self.terminate();
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.g_at, self.h_at, self.i_at, self.l_at])
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

    fn drain(tx: &mut InviteServerTx) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| tx.poll_transmit()).collect()
    }

    fn respond(tx: &mut InviteServerTx, now: Instant, code: u16) {
        let bytes = code.to_string().into_bytes();
        assert!(tx.handle(now, IstInput::Respond { code, bytes }));
    }

    #[test]
    fn timer_g_doubles_to_t2_and_timer_h_times_out() {
        let t0 = Instant::now();
        let mut tx = InviteServerTx::new(false, Timers::default());
        respond(&mut tx, t0, 100);
        tx.handle(t0, IstInput::Retransmission);
        assert_eq!(drain(&mut tx), vec![b"100".to_vec(), b"100".to_vec()]);
        respond(&mut tx, t0, 486);
        assert_eq!(drain(&mut tx).len(), 1);
        // G fires at 0.5, 1.5, 3.5, 7.5, 11.5, ... (interval 0.5, 1, 2, 4, 4 …).
        let mut fired = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            if !drain(&mut tx).is_empty() {
                fired.push(at - t0);
            }
            if tx.state() == IstState::Terminated {
                break;
            }
        }
        let ms: Vec<u128> = fired.iter().map(|d| d.as_millis()).collect();
        assert_eq!(&ms[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert!(ms.iter().all(|&m| m < 32_000));
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
        assert_eq!(tx.poll_event(), Some(TxEvent::Terminated));
    }

    #[test]
    fn ack_confirms_then_timer_i_terminates() {
        let t0 = Instant::now();
        let mut tx = InviteServerTx::new(false, Timers::default());
        respond(&mut tx, t0, 487);
        tx.handle(t0 + Duration::from_millis(100), IstInput::Ack);
        assert_eq!(tx.state(), IstState::Confirmed);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(5100)));
        tx.handle(t0 + Duration::from_millis(200), IstInput::Retransmission);
        drain(&mut tx);
        tx.handle_timeout(t0 + Duration::from_millis(5099));
        assert_eq!(tx.state(), IstState::Confirmed);
        tx.handle_timeout(t0 + Duration::from_millis(5100));
        assert_eq!(tx.state(), IstState::Terminated);
    }

    #[test]
    fn reliable_transport_never_retransmits() {
        let t0 = Instant::now();
        let mut tx = InviteServerTx::new(true, Timers::default());
        respond(&mut tx, t0, 480);
        drain(&mut tx);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tx.handle(t0, IstInput::Ack);
        assert_eq!(tx.state(), IstState::Terminated);
    }

    #[test]
    fn accepted_absorbs_invites_and_timer_l_ends_it() {
        let t0 = Instant::now();
        let mut tx = InviteServerTx::new(false, Timers::default());
        respond(&mut tx, t0, 200);
        drain(&mut tx);
        tx.handle(t0, IstInput::Retransmission);
        assert!(drain(&mut tx).is_empty());
        assert!(!tx.handle(
            t0,
            IstInput::Respond {
                code: 500,
                bytes: vec![]
            }
        ));
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(tx.state(), IstState::Terminated);
    }
}
