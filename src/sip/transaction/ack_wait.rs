//! The UAS core's 2xx retransmission until ACK (RFC 3261 §13.3.1.4), no I/O.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Timers, TxEvent, earliest, fire};

/// Retransmits a 2xx to INVITE (T1, doubling to T2) until ACK; gives up at 64·T1.
#[derive(Debug)]
pub(crate) struct AckWait {
    response: Vec<u8>,
    timers: Timers,
    retx_at: Option<Instant>,
    interval: Duration,
    give_up_at: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<TxEvent>,
}

impl AckWait {
    /// Starts waiting; the 2xx itself is sent by the INVITE server transaction.
    pub(crate) fn new(now: Instant, reliable: bool, timers: Timers, response: Vec<u8>) -> Self {
        Self {
            response,
            timers,
            retx_at: (!reliable).then(|| now + timers.t1),
            interval: timers.t1,
            give_up_at: Some(now + timers.t1x64()),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The ACK arrived: stop.
    #[cfg(test)]
    pub(crate) fn ack(&mut self) {
        self.retx_at = None;
        self.give_up_at = None;
    }

    #[cfg(test)]
    pub(crate) fn is_done(&self) -> bool {
        self.give_up_at.is_none()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if fire(&mut self.give_up_at, now) {
            self.retx_at = None;
            self.events.push_back(TxEvent::Timeout);
            return;
        }
        if fire(&mut self.retx_at, now) {
            self.out.push_back(self.response.clone());
            self.interval = (self.interval * 2).min(self.timers.t2);
            self.retx_at = Some(now + self.interval);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.retx_at, self.give_up_at])
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
    fn retransmits_then_reports_ack_timeout() {
        let t0 = Instant::now();
        let mut w = AckWait::new(t0, false, Timers::default(), b"200".to_vec());
        let mut sends = Vec::new();
        while let Some(at) = w.poll_timeout() {
            w.handle_timeout(at);
            while w.poll_transmit().is_some() {
                sends.push((at - t0).as_millis());
            }
        }
        assert_eq!(&sends[..4], &[500, 1500, 3500, 7500]);
        assert_eq!(*sends.last().unwrap(), 31_500);
        assert_eq!(w.poll_event(), Some(TxEvent::Timeout));
    }

    #[test]
    fn ack_stops_and_tcp_only_times_out() {
        let t0 = Instant::now();
        let mut w = AckWait::new(t0, false, Timers::default(), b"200".to_vec());
        w.handle_timeout(t0 + Duration::from_millis(500));
        w.ack();
        assert!(w.is_done());
        assert_eq!(w.poll_timeout(), None);
        let mut tcp = AckWait::new(t0, true, Timers::default(), b"200".to_vec());
        assert_eq!(tcp.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tcp.handle_timeout(t0 + Duration::from_secs(32));
        assert_eq!(tcp.poll_transmit(), None);
        assert_eq!(tcp.poll_event(), Some(TxEvent::Timeout));
    }
}
